"""The admin API. Plain JSON; errors as {"error": {"message": …}}.

Every call passes `AdminAccess` first (paysandbox.admin.access): a loopback or allowed
Host, no cross-origin browser, a JSON content type on calls that change state and,
whenever the server binds beyond loopback, the admin token (`Authorization: Bearer
TOKEN`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from paysandbox import __version__
from paysandbox.admin.access import CHALLENGE, AdminAccess
from paysandbox.admin.disputes import BadDispute, dispute_json, open_command
from paysandbox.admin.ui import add_dashboard
from paysandbox.collector import release_frozen
from paysandbox.contract_report import ContractLog
from paysandbox.core.commands import Command, Complete, Expire, Void
from paysandbox.core.credentials import Credential
from paysandbox.core.disputes import RendersDisputes
from paysandbox.core.outcomes import UnknownDeclineReason, decline_reason
from paysandbox.core.payments import InvalidTransition, Payment, PaymentError
from paysandbox.core.tenancy import tenant
from paysandbox.ledger import SubAccount, ledger_json
from paysandbox.providers.hooks import SubAccounts
from paysandbox.scenarios.loader import ScenarioError, load_text
from paysandbox.scenarios.runtime import ScenarioSet
from paysandbox.settings import Settings, default_secret
from paysandbox.shared import Control, LocalControl
from paysandbox.store.base import StoreUnavailable
from paysandbox.store.codec import BadRecord
from paysandbox.webhooks.destinations import display_url
from paysandbox.webhooks.dispatcher import Endpoint

if TYPE_CHECKING:
    from paysandbox.engine import Engine
    from paysandbox.journal import Journal
    from paysandbox.providers.base import Provider

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj, option=orjson.OPT_INDENT_2), status=status,
                        content_type="application/json")


class AdminError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> float:
    """Seconds from 90, "90s", "15m", "2h", "3d" or "250ms"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise AdminError(400, f"Invalid duration {value!r}: use seconds (90) or a number "
                                  "with a unit: 250ms, 90s, 15m, 2h, 3d.")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds < 0:
        raise AdminError(400, "A duration cannot be negative: the clock only moves forward.")
    if not seconds <= MAX_ADVANCE:  # also NaN: dates past year 9999 break every provider
        raise AdminError(400, f"Advance the clock by at most {MAX_ADVANCE // 86400:.0f} days "
                              "at a time.")
    return seconds


#: The furthest one advance moves the virtual clock (ten years).
MAX_ADVANCE = 3650 * 86400.0


def payment_json(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id, "provider": p.provider, "namespace": p.namespace[:8] + "…",
        "status": p.status.value, "amount": p.amount, "currency": p.currency,
        "amount_authorized": p.amount_authorized, "amount_captured": p.amount_captured,
        "amount_refunded": p.amount_refunded, "capture_manual": p.capture_manual,
        "decline": p.decline.value if p.decline else None, "decline_code": p.decline_code,
        "card": {"brand": p.card.brand, "last4": p.card.last4, "bin": p.card.bin}
        if p.card else None,
        "refunds": [{"id": r.id, "amount": r.amount, "created": r.created} for r in p.refunds],
        "metadata": dict(p.metadata), "created": p.created,
        "history": [{"at": h.at, "action": h.action, "status": h.status.value,
                     "amount": h.amount, "detail": h.detail} for h in p.history],
        "amount_disputed": p.amount_disputed,
        "disputes": [dispute_json(d) for d in p.disputes],
        "credential": credential_json(p.credential),
    }


def credential_json(c: Credential | None) -> dict[str, Any] | None:
    """How a payment used a saved card: who initiated it, why, and the network
    transaction ids (its own, and the first payment's an MIT quoted)."""
    if c is None:
        return None
    return {"initiator": c.initiator.value,
            "mit_type": None if c.mit_type is None else c.mit_type.value,
            "network_transaction_id": c.network_transaction_id,
            "original_network_transaction_id": c.original_network_transaction_id,
            "stored_method": c.stored_method, "saves": c.saves}


def process_usage() -> dict[str, Any]:
    """The simulator process's CPU seconds so far and its resident memory (Linux's
    /proc; None elsewhere), for a load report sampling it over a run."""
    rss = None
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return {"pid": os.getpid(), "cpu_s": round(time.process_time(), 3), "rss_bytes": rss}


def namespace_of(value: Any) -> str | None:
    """The namespace a `namespace` parameter names: a credential's, never an internal
    one (paysandbox.core.tenancy)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AdminError(400, "namespace must be a string: the credential (API key, merchant "
                              "account, access token) whose state it names.")
    return tenant(value)


def admin_app(engine: Engine, journal: Journal, settings: Settings,
              providers: Mapping[str, Provider], started: float,
              scenarios: ScenarioSet | None = None,
              contract_log: ContractLog | None = None, *,
              control: Control | None = None) -> web.Application:
    scenarios = scenarios if scenarios is not None else ScenarioSet()
    contract_log = contract_log if contract_log is not None else ContractLog()
    store, dispatcher, clock = engine.store, engine.dispatcher, engine.clock
    #: The providers that settle parts of an account apart (their ledger accounts).
    sub_accounts: dict[str, SubAccount] = {name: p.sub_account for name, p in providers.items()
                                           if isinstance(p, SubAccounts)}
    # What a fleet shares (clock, scenarios, journal) goes through `control`: Redis in a
    # fleet (paysandbox.shared), this process's own objects otherwise.
    control = control or LocalControl(clock, scenarios, journal)
    access = AdminAccess(settings)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = access.refusal(request)
        if refused is not None:
            answer = _json({"error": {"message": refused[1]}}, refused[0])
            if refused[0] == 401:  # a browser then asks for the token (the dashboard)
                answer.headers["WWW-Authenticate"] = CHALLENGE
            return answer
        try:
            return await handler(request)
        except AdminError as exc:
            return _json({"error": {"message": exc.message}}, exc.status)
        except BadRecord as exc:  # it holds a record it refuses: retrying will not help
            return _json({"error": {"message": f"The store cannot serve this: {exc}"}}, 503)
        except web.HTTPNotFound:
            routes = sorted({f"{r.method} {r.resource.canonical}" for r in app.router.routes()
                             if r.resource is not None and r.method != "HEAD"})
            return _json({"error": {"message": f"No admin route {request.method} "
                                    f"{request.path}.", "routes": routes}}, 404)
        except web.HTTPMethodNotAllowed as exc:
            return _json({"error": {"message": f"{request.method} is not allowed here; use "
                                    f"{', '.join(sorted(exc.allowed_methods))}."}}, 405)
        except StoreUnavailable as exc:  # logged once by the store, not per call
            return _json({"error": {"message": f"{exc}; retry once it is back "
                                    "(GET /__admin/health says when)."}}, 503)

    async def body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw:
            return {}
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise AdminError(400, f"The body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise AdminError(400, "The body must be a JSON object.")
        return data

    async def find_payment(payment_id: str) -> Payment:
        for ns in await store.namespaces():
            p = await store.get(ns, payment_id)
            if p is not None:
                return p
        raise AdminError(404, f"No payment {payment_id} in any namespace.")

    def limit_of(request: web.Request) -> int:
        try:
            return max(1, min(int(request.query.get("limit", "100")), 10_000))
        except ValueError:
            raise AdminError(400, "limit must be an integer.") from None

    async def health(request: web.Request) -> web.Response:
        backend = await store.health()
        return _json({"status": "ok" if backend["reachable"] else "store unreachable",
                      "version": __version__,
                      "providers": sorted(providers), "uptime_s": round(time.time() - started, 3),
                      "journal_entries": len(journal), "journal_bytes": journal.bytes,
                      "webhooks": dispatcher.summary(), "store": backend,
                      "process": process_usage(),
                      **({"fleet": fleet} if (fleet := control.summary()) else {})},
                     200 if backend["reachable"] else 503)

    async def reset(request: web.Request) -> web.Response:
        data = await body(request)
        given = data["namespace"] if "namespace" in data else request.query.get("namespace")
        if given is not None and (not isinstance(given, str) or not given):
            raise AdminError(400, "namespace must be the credential whose state to forget (an "
                                  "API key, merchant account or access token); leave it out "
                                  "to reset everything.")
        ns = namespace_of(given)
        await control.reset(ns, store.reset)
        engine.forget(ns)
        journal.clear(ns)
        await dispatcher.discard(ns)
        if ns is None:  # a full reset also undoes endpoints set through this API
            await dispatcher.restore_endpoints()
            contract_log.clear()
        release_frozen()
        return _json({"reset": ns or "all"})

    async def journal_list(request: web.Request) -> web.Response:
        q = request.query
        status = None
        if q.get("status"):
            try:
                status = int(q["status"].rstrip("xX"))
            except ValueError:
                raise AdminError(400, "status must be a code (402) or a class (4xx).") from None
        entries = await control.journal(provider=q.get("provider"), path=q.get("path"),
                                        status=status,
                                        namespace=namespace_of(q.get("namespace")),
                                        limit=limit_of(request))
        if q.get("after"):  # only entries newer than this seq: a reader that polls
            try:
                after = int(q["after"])
            except ValueError:
                raise AdminError(400, "after must be an entry's seq (an integer).") from None
            entries = [e for e in entries if e.seq > after]
        bodies = q.get("bodies", "true") != "false"
        rendered = []
        for n, e in enumerate(entries, 1):
            rendered.append(e.to_json(bodies=bodies))
            if bodies and n % 20 == 0:  # decoding and redacting bodies is CPU: let
                await asyncio.sleep(0)  # provider traffic through between batches
        return _json({"entries": rendered})

    async def kept(request: web.Request, limit: int) -> list[Payment]:
        """The newest `limit` payments of each namespace (or the one `namespace` names),
        of every provider (or the one `provider` names)."""
        q = request.query
        namespaces = [tenant(q["namespace"])] if q.get("namespace") else \
            await store.namespaces()
        found: list[Payment] = []
        for ns in namespaces:
            found += await store.list_payments(ns, provider=q.get("provider"), limit=limit)
        return found

    async def payments_list(request: web.Request) -> web.Response:
        found = await kept(request, limit_of(request))
        found.sort(key=lambda p: p.created, reverse=True)
        return _json({"payments": [payment_json(p) for p in found[:limit_of(request)]]})

    async def ledger(request: web.Request) -> web.Response:
        """The sandbox's own books (paysandbox/ledger): every kept payment's movements of
        funds, priced; balances and daily payouts per account, and the newest entries."""
        found = await kept(request, settings.retain_payments)
        return _json(ledger_json(found, engine.books, clock.now(), limit=limit_of(request),
                                 drift=engine.scenarios.drift(), sub_accounts=sub_accounts))

    async def payments_summary(request: web.Request) -> web.Response:
        """Counts over every payment the store holds, however many (the list above stops
        at `limit`): by provider, status, currency and decline, and payments created per
        provider per `bucket` seconds from `origin` (default: the first payment; widened so that
        there are at most 10,000 buckets; payments before `origin` are counted but not
        bucketed); disputes by provider, reason, kind and outcome (`expired`: lost
        unanswered when its evidence window closed)."""
        try:
            bucket = float(request.query.get("bucket", "5"))
        except ValueError:
            raise AdminError(400, "bucket must be a number of seconds.") from None
        if not 0.1 <= bucket <= 86_400:
            raise AdminError(400, "bucket must be from 0.1 to 86400 seconds.")
        try:
            origin = float(request.query["origin"]) if "origin" in request.query else None
        except ValueError:
            raise AdminError(400, "origin must be a time in seconds since the epoch.") from None
        groups: Counter[tuple[str, str, str, str | None]] = Counter()
        created: list[tuple[str, float]] = []
        disputed: Counter[tuple[str, str, str, str]] = Counter()
        for ns in await store.namespaces():
            for p in await store.list_payments(ns, limit=2**31):
                groups[(p.provider, p.status.value, p.currency.lower(),
                         p.decline.value if p.decline else None)] += 1
                created.append((p.provider, p.created))
                for d in p.disputes:
                    disputed[(p.provider, d.reason.value, d.kind.value,
                              "expired" if d.expired else d.status.value)] += 1
            await asyncio.sleep(0)  # let provider traffic through between namespaces
        start = min((c for _, c in created), default=0.0) if origin is None else origin
        end = max((c for _, c in created), default=start)
        bucket = max(bucket, (end - start) / 10_000)
        per_bucket: Counter[tuple[str, int]] = Counter(
            (provider, int((c - start) // bucket)) for provider, c in created if c >= start)
        return _json({"payments": len(created), "start": start, "bucket_s": bucket,
                      "counts": [{"provider": k[0], "status": k[1], "currency": k[2],
                                  "decline": k[3], "count": n} for k, n in groups.items()],
                      "created": [{"provider": k[0], "at": start + k[1] * bucket, "count": n}
                                  for k, n in sorted(per_bucket.items())],
                      "disputes": [{"provider": k[0], "reason": k[1], "kind": k[2],
                                    "outcome": k[3], "count": n}
                                   for k, n in sorted(disputed.items())]})

    async def payment_get(request: web.Request) -> web.Response:
        return _json(payment_json(await find_payment(request.match_info["id"])))

    async def payment_complete(request: web.Request) -> web.Response:
        data = await body(request)
        outcome = data.get("outcome", "success")
        if outcome not in _COMPLETIONS:
            raise AdminError(400, f"outcome must be one of {', '.join(_COMPLETIONS)}; got "
                                  f"{outcome!r}.")
        reason = None
        if data.get("reason") is not None:
            if outcome != "failure":
                raise AdminError(400, "reason goes with outcome 'failure' only.")
            try:
                reason = decline_reason(data["reason"])
            except UnknownDeclineReason as exc:
                raise AdminError(400, str(exc)) from None
        p = await find_payment(request.match_info["id"])
        provider = providers[p.provider]
        command: Command
        if outcome == "canceled":
            command = Void(p.id, "canceled by the shopper")
        elif outcome == "expired":
            command = Expire(p.id)
        else:
            command = Complete(p.id, outcome == "success", reason)
        try:
            result = await engine.execute(provider, p.namespace, command)
        except InvalidTransition as exc:
            raise AdminError(409, str(exc)) from None
        return _json(payment_json(result.payment))

    async def payment_dispute(request: web.Request) -> web.Response:
        p = await find_payment(request.match_info["id"])
        provider = providers[p.provider]
        if not isinstance(provider, RendersDisputes):
            shown = sorted(n for n, each in providers.items()
                           if isinstance(each, RendersDisputes))
            raise AdminError(409, f"{p.provider}'s API has no disputes here; these do: "
                                  f"{', '.join(shown)}.")
        try:
            command = open_command(p, await body(request), engine.new_dispute_id(provider),
                                   parse_duration)
            result = await engine.execute(provider, p.namespace, command)
        except BadDispute as exc:
            raise AdminError(400, str(exc)) from None
        except PaymentError as exc:
            raise AdminError(409, str(exc)) from None
        return _json(payment_json(result.payment), 201)

    async def contracts_get(request: web.Request) -> web.Response:
        """Contract violations since start or the last full reset, grouped."""
        return _json({"mode": settings.contracts, "check_responses": settings.check_responses,
                      **contract_log.report()})

    async def contracts_delete(request: web.Request) -> web.Response:
        contract_log.clear()
        return _json({"cleared": True})

    async def webhooks_get(request: web.Request) -> web.Response:
        return _json({"endpoints": {p: [{"url": display_url(e.url), "secret": e.secret}
                                        for e in eps]
                                    for p, eps in dispatcher.configured().items()},
                      "deliveries": dispatcher.summary()})

    async def webhooks_put(request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        if provider not in providers:
            raise AdminError(404, f"Unknown provider {provider!r}; known: "
                                  f"{', '.join(sorted(providers))}.")
        data = await body(request)
        url = data.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise AdminError(400, 'Give the receiver as {"url": "http://127.0.0.1:8000/hook",'
                                  ' "secret": "optional"}.')
        refusal = dispatcher.destinations.url_refusal(url)
        if refusal is not None:
            raise AdminError(400, f"destination not allowed: {refusal}")
        secret = data.get("secret") or default_secret(provider)
        await dispatcher.set_endpoint(Endpoint(url=url, secret=secret, provider=provider,
                                               namespace=namespace_of(data.get("namespace"))))
        return _json({"provider": provider, "url": display_url(url), "secret": secret})

    async def webhooks_delete(request: web.Request) -> web.Response:
        if not await dispatcher.remove_endpoint(request.match_info["provider"]):
            raise AdminError(404, "No webhook endpoint configured for that provider.")
        return _json({"deleted": request.match_info["provider"]})

    async def deliveries(request: web.Request) -> web.Response:
        q = request.query
        found = await dispatcher.list_deliveries(
            provider=q.get("provider"), state=q.get("state"), event_id=q.get("event_id"),
            namespace=namespace_of(q.get("namespace")), limit=limit_of(request))
        return _json({"deliveries": [{**d.to_json(), "event_created": d.event.created}
                                     for d in found]})

    async def delivery_get(request: web.Request) -> web.Response:
        d = await dispatcher.find(request.match_info["id"])
        if d is None:
            raise AdminError(404, f"No delivery {request.match_info['id']}.")
        return _json({**d.to_json(), "body": orjson.loads(d.event.body)})

    async def redeliver(request: web.Request) -> web.Response:
        d = await dispatcher.send_again(request.match_info["id"])
        if d is None:
            raise AdminError(404, f"No delivery {request.match_info['id']}.")
        return _json(d.to_json(), 202)

    async def clock_get(request: web.Request) -> web.Response:
        return _json(clock.snapshot())

    async def clock_advance(request: web.Request) -> web.Response:
        data = await body(request)
        if "seconds" not in data and "by" not in data:
            raise AdminError(400, 'Say how far: {"seconds": 3600} or {"by": "1h"}.')
        await control.advance_clock(parse_duration(data.get("seconds", data.get("by"))))
        return _json(clock.snapshot())

    async def scenarios_list(request: web.Request) -> web.Response:
        return _json({"scenarios": scenarios.status()})

    async def scenario_get(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        found = scenarios.get(name)
        if found is None:
            raise AdminError(404, f"No scenario {name!r}; loaded: "
                                  f"{', '.join(s['name'] for s in scenarios.status()) or 'none'}.")
        return _json(found.status(scenarios.now()))

    async def scenario_put(request: web.Request) -> web.Response:
        """The body is the scenario file (YAML or JSON); its name must match the URL's."""
        name = request.match_info["name"]
        raw = await request.read()
        source = f"PUT /__admin/scenarios/{name}"
        try:
            doc = load_text(raw.decode("utf-8"), source=source)
        except UnicodeDecodeError:
            raise AdminError(400, "The scenario must be UTF-8 text (YAML or JSON).") from None
        except ScenarioError as exc:
            return _json({"error": {"message": f"{len(exc.problems)} problem(s) in the "
                                    "scenario; nothing was changed.",
                                    "problems": [str(p) for p in exc.problems]}}, 400)
        if doc.get("name") != name:
            raise AdminError(400, f"The scenario's name is {doc.get('name')!r} but the URL "
                                  f"says {name!r}: they must agree.")
        replaced = scenarios.get(name) is not None
        loaded = await control.put_scenario(doc, source=source, text=raw.decode("utf-8"))
        return _json(loaded.status(scenarios.now()), 200 if replaced else 201)

    async def scenario_delete(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not await control.remove_scenario(name):
            raise AdminError(404, f"No scenario {name!r}.")
        return _json({"deleted": name})

    async def scenarios_delete(request: web.Request) -> web.Response:
        count = await control.clear_scenarios()
        return _json({"deleted": count})

    async def scenario_start(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        started_scenario = await control.start_scenario(name)
        if started_scenario is None:
            raise AdminError(404, f"No scenario {name!r}.")
        return _json(started_scenario.status(scenarios.now()))

    app = web.Application(middlewares=[guard])
    r = app.router
    r.add_get("/health", health)
    r.add_post("/reset", reset)
    r.add_get("/journal", journal_list)
    r.add_get("/payments", payments_list)
    r.add_get("/payments/summary", payments_summary)
    r.add_get("/ledger", ledger)
    r.add_get("/payments/{id}", payment_get)
    r.add_post("/payments/{id}/complete", payment_complete)
    r.add_post("/payments/{id}/dispute", payment_dispute)
    r.add_get("/webhooks", webhooks_get)
    r.add_put("/webhooks/{provider}", webhooks_put)
    r.add_delete("/webhooks/{provider}", webhooks_delete)
    r.add_get("/webhooks/deliveries", deliveries)
    r.add_get("/webhooks/deliveries/{id}", delivery_get)
    r.add_post("/webhooks/deliveries/{id}/redeliver", redeliver)
    r.add_get("/scenarios", scenarios_list)
    r.add_delete("/scenarios", scenarios_delete)
    r.add_get("/scenarios/{name}", scenario_get)
    r.add_put("/scenarios/{name}", scenario_put)
    r.add_delete("/scenarios/{name}", scenario_delete)
    r.add_post("/scenarios/{name}/start", scenario_start)
    r.add_get("/contracts", contracts_get)
    r.add_delete("/contracts", contracts_delete)
    r.add_get("/clock", clock_get)
    r.add_post("/clock/advance", clock_advance)
    add_dashboard(app, journal=journal, store=store, dispatcher=dispatcher,
                  scenarios=scenarios, find_payment=find_payment, render_payment=payment_json,
                  control=control)
    return app


#: What `POST /__admin/payments/{id}/complete` can make of a pending payment.
_COMPLETIONS = ("success", "failure", "canceled", "expired")
