"""The simulator's MCP server: what a coding agent needs to test payment code.

One set of tools, built on the official `mcp` SDK (`MCPServer`), served two ways:
`paysandbox mcp` over stdio for an agent on the developer's machine, and
`/__admin/mcp` over Streamable HTTP by the simulator itself (paysandbox.mcp_http).
Every tool works through the admin HTTP API (`AdminAPI` below), never the simulator's
objects, so both transports see the same thing and need the same admin token: the
stdio server is one more admin client, and the HTTP endpoint calls its own server's
admin API on the socket the agent reached it through.

Bounds: lists return at most `MAX_LIST` items; explaining a payment reads its
provider's newest `SCAN_JOURNAL` journal entries and `SCAN_DELIVERIES` webhook
deliveries (older ones are not looked at, and the answer says so); each admin call
times out after `TIMEOUT` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, ParamSpec, TypeVar
from urllib.parse import quote

import aiohttp
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from paysandbox import __version__, mcp_catalogue
from paysandbox.providers import base
from paysandbox.scenarios import ready
from paysandbox.scenarios.loader import ScenarioError, load_text, locate
from paysandbox.settings import DEFAULT_HOST, DEFAULT_PORT

TIMEOUT = 30.0
MAX_LIST = 200
SCAN_JOURNAL = 500
SCAN_DELIVERIES = 50

JSON = "application/json"


class AdminCallError(Exception):
    """The admin API refused a call (its status and message), or could not be reached
    (status 0)."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None) -> None:
        self.status = status
        self.problems = problems or []
        super().__init__("\n".join([message, *self.problems]))


class AdminAPI:
    """A small async client of a simulator's admin API (`/__admin/...`).

    `base_url` is where the calls go; `public_url` is the simulator's URL as the code
    under test reaches it (the providers' base URLs are built from it)."""

    def __init__(self, base_url: str | None, *, token: str | None = None,
                 public_url: str | None = None, verify_tls: bool = True) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.public_url = (public_url or base_url or "").rstrip("/")
        self.token = token
        self.verify_tls = verify_tls
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, path: str, body: Any = None, *,
                   query: Mapping[str, Any] | None = None, content_type: str = JSON) -> Any:
        if self.base_url is None:
            raise AdminCallError(0, "The simulator's address is not known yet.")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = body.encode() if isinstance(body, str) else \
            None if body is None else json.dumps(body).encode()
        params = {k: str(v) for k, v in (query or {}).items() if v is not None and v != ""}
        url = f"{self.base_url}/__admin{path}"
        try:
            async with self._session.request(method, url, data=data, params=params,
                                             headers=headers,
                                             ssl=self.verify_tls) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AdminCallError(0, f"Cannot reach the simulator at {self.base_url} "
                                    f"({exc or type(exc).__name__}): start it with "
                                    "`paysandbox serve`, or give its address with --url.") \
                from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        if status >= 400:
            error = parsed.get("error", {}) if isinstance(parsed, dict) else {}
            message = error.get("message") if isinstance(error, dict) else None
            problems = error.get("problems") if isinstance(error, dict) else None
            raise AdminCallError(status, f"The simulator answered {status}: "
                                         f"{message or parsed}", list(problems or []))
        return parsed

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


P = ParamSpec("P")
R = TypeVar("R")


def _refusals_as_tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """An admin refusal is an answer the agent reads and acts on, not a server fault."""
    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except AdminCallError as exc:
            raise ToolError(str(exc)) from None
    return call


def _when(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _mentions(value: Any, needle: str) -> bool:
    return needle in (value if isinstance(value, str) else json.dumps(value))


def _segment(value: str) -> str:
    """An id as one path segment: `../reset` names no other admin route."""
    return quote(value, safe="")


def _limit(value: int) -> int:
    return max(1, min(value, MAX_LIST))


READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)

Provider = Annotated[str | None, Field(
    description="Only this provider: stripe, adyen, checkoutcom, mollie, razorpay, "
                "mercadopago, daraja.")]
Namespace = Annotated[str | None, Field(
    description="Only the state of this credential (the API key, merchant account or "
                "access token the code under test uses): parallel test runs with different "
                "keys never see each other's payments.")]
Limit = Annotated[int, Field(description=f"How many to return, newest first (at most "
                                         f"{MAX_LIST}).", ge=1, le=MAX_LIST)]
PaymentId = Annotated[str, Field(
    description="The provider's own payment id, as your code got it (Stripe pi_…, Adyen "
                "pspReference, Checkout.com pay_…, Mollie tr_…, Razorpay pay_…, Mercado Pago "
                "number, M-Pesa CheckoutRequestID).")]
ScenarioText = Annotated[str, Field(
    description="The scenario as YAML (or JSON) text, or the name of a ready-made "
                "scenario (" + ", ".join(ready.names()) + ").")]
FileName = Annotated[str, Field(
    description="The file name to report problems against (file:line:col).")]


def build_server(api: AdminAPI) -> MCPServer:
    """The MCP server whose tools drive the simulator `api` talks to."""
    server: MCPServer = MCPServer(
        "paysandbox", version=__version__, log_level="WARNING",
        instructions="An offline stand-in for payment providers (Stripe, Adyen, Checkout.com, "
                     "Mollie, Razorpay, Mercado Pago, M-Pesa) on their real APIs. Point the "
                     "code under test at the base URLs from `providers`, make failures "
                     "happen with `load_scenario`, then read what happened with "
                     "`explain_payment`, `search_journal` and `list_webhooks`.")

    def tool(annotations: ToolAnnotations) -> Callable[[Callable[P, Awaitable[R]]],
                                                       Callable[P, Awaitable[R]]]:
        def register(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
            wrapped = _refusals_as_tool_errors(fn)
            server.add_tool(wrapped, name=fn.__name__, description=fn.__doc__,
                            annotations=annotations)
            return wrapped
        return register

    @tool(READ)
    async def providers(provider: Provider = None) -> dict[str, Any]:
        """The payment providers this simulator imitates and the base URL to give each
        one's official SDK (only the base URL changes: keys, paths and payloads stay the
        real ones). Name one provider to also get its documented sandbox test values (test
        cards, magic amounts, cardholder names, UPI VPAs, phone numbers) with the result
        each produces, and how each canonical decline reason reads in its own codes."""
        mounted: list[str] = (await api.call("GET", "/health"))["providers"]
        if provider is not None and provider not in mounted:
            raise ToolError(f"No provider {provider!r} is mounted; mounted: "
                            f"{', '.join(mounted)}.")
        installed = base.available()
        found = []
        for name in [provider] if provider else mounted:
            entry: dict[str, Any] = {"name": name, "base_url": f"{api.public_url}/{name}"}
            if name in installed:
                p = installed[name].load()
                entry.update(title=p.title, base_url=entry["base_url"] + p.base_url_hint())
                if provider:
                    entry["test_values"] = mcp_catalogue.test_values(name)
                    entry["decline_codes"] = mcp_catalogue.decline_codes(p)
                else:
                    entry["test_values"] = len(mcp_catalogue.test_values(name))
            found.append(entry)
        return {"simulator": api.public_url, "providers": found}

    @tool(READ)
    async def validate_scenario(scenario: ScenarioText,
                                filename: FileName = "scenario.yaml") -> dict[str, Any]:
        """Check a failure scenario (YAML rules that decline, delay, fault or time-phase
        payments) without loading it: every problem at once, each as
        file:line:col $.json.path: message."""
        text = _scenario_text(scenario)
        try:
            doc = load_text(text, source=filename)
        except ScenarioError as exc:
            return {"valid": False, "problems": [str(p) for p in exc.problems]}
        return {"valid": True, "name": doc.get("name"), "rules": len(doc.get("rules") or []),
                "phases": len(doc.get("phases") or [])}

    @tool(WRITE)
    async def load_scenario(
            scenario: ScenarioText, filename: FileName = "scenario.yaml",
            start: Annotated[bool, Field(description="Also start its phases now (for a "
                                                     "`start: manual` scenario).")] = False,
    ) -> dict[str, Any]:
        """Load a failure scenario into the running simulator, replacing one of the same
        name: from the next request on, its rules decide declines (e.g. every Stripe
        payment of 4200 declined for insufficient_funds), latency, timeouts, 5xx,
        connection resets and webhook trouble. A scenario with problems is refused whole,
        each problem as file:line:col, and the running scenarios stay."""
        text = _scenario_text(scenario)
        try:
            doc = load_text(text, source=filename)
        except ScenarioError as exc:
            raise ToolError("\n".join([f"{len(exc.problems)} problem(s); nothing was loaded:",
                                       *(str(p) for p in exc.problems)])) from None
        name = str(doc["name"])
        kind = "application/json" if text.lstrip().startswith("{") else "application/yaml"
        loaded = await api.call("PUT", f"/scenarios/{_segment(name)}", text, content_type=kind)
        if start:
            loaded = await api.call("POST", f"/scenarios/{_segment(name)}/start")
        return {"loaded": name, **loaded}

    @tool(READ)
    async def list_scenarios() -> dict[str, Any]:
        """The scenarios loaded, their phases (which one is active now) and how many
        requests each rule matched and applied to."""
        result: dict[str, Any] = await api.call("GET", "/scenarios")
        return result

    @tool(WRITE)
    async def unload_scenario(name: Annotated[str, Field(description="The scenario's name.")]
                              ) -> dict[str, Any]:
        """Unload a scenario: its rules stop applying from the next request on."""
        result: dict[str, Any] = await api.call("DELETE", f"/scenarios/{_segment(name)}")
        return result

    @tool(READ)
    async def list_payments(provider: Provider = None, namespace: Namespace = None,
                            status: Annotated[str | None, Field(
                                description="Only payments in this state, in the "
                                            "simulator's provider-neutral words: created, "
                                            "requires_action, pending, authorized, captured, "
                                            "partially_refunded, refunded, voided, failed, "
                                            "expired.")] = None,
                            limit: Limit = 20) -> dict[str, Any]:
        """The payments the simulator holds, newest first: provider, status (one word
        for every provider: a Stripe `succeeded` is `captured`), amount in minor units,
        currency, decline reason and card. `explain_payment` tells one's
        whole story."""
        listed = (await api.call("GET", "/payments", query={
            "provider": provider, "namespace": namespace,
            "limit": MAX_LIST if status else _limit(limit)}))["payments"]
        rows = [{k: p[k] for k in ("id", "provider", "status", "amount", "currency",
                                   "decline", "decline_code", "card")} |
                {"created": _when(p["created"])}
                for p in listed if status is None or p["status"] == status]
        return {"payments": rows[:_limit(limit)]}

    @tool(READ)
    async def explain_payment(payment_id: PaymentId) -> dict[str, Any]:
        """Why a payment ended as it did: its state history, the requests your code sent
        about it and what they were answered, the scenario rules that matched (or the
        nearest misses), injected faults, contract violations in your requests, and the
        webhooks sent about it with every delivery attempt."""
        p = await api.call("GET", f"/payments/{_segment(payment_id)}")
        provider = p["provider"]
        entries = (await api.call("GET", "/journal", query={
            "provider": provider, "limit": SCAN_JOURNAL}))["entries"]
        requests = [e for e in reversed(entries)
                    if _mentions(e["path"], payment_id) or _mentions(e.get("request"), payment_id)
                    or _mentions(e.get("response"), payment_id)]
        rules = list(dict.fromkeys(r for e in requests for r in e.get("scenario_rules", [])))
        violations = [{"request": f"{e['method']} {e['path']}", **v}
                      for e in requests for v in e.get("contract_violations", [])]
        deliveries = []
        for d in (await api.call("GET", "/webhooks/deliveries", query={
                "provider": provider, "limit": SCAN_DELIVERIES}))["deliveries"]:
            full = await api.call("GET", f"/webhooks/deliveries/{_segment(d['id'])}")
            if _mentions(full.get("body"), payment_id):
                deliveries.append(d)
        deliveries.reverse()
        story = {
            "payment": {k: v for k, v in p.items() if k != "history"},
            "history": [{**h, "at": _when(h["at"])} for h in p["history"]],
            "requests": [{"at": _when(e["at"]), "request": f"{e['method']} {e['path']}",
                          "status": e["status"], "request_id": e["request_id"],
                          **{k: e[k] for k in ("scenario_rules", "near_misses", "fault",
                                               "contract_violations") if k in e}}
                         for e in requests],
            "matched_rules": rules,
            "contract_violations": violations,
            "webhooks": deliveries,
        }
        story["explanation"] = _explain(p, requests, rules, violations, deliveries)
        return story

    @tool(READ)
    async def search_journal(
            provider: Provider = None, namespace: Namespace = None,
            path: Annotated[str | None, Field(description="Only requests whose path "
                                                          "contains this.")] = None,
            status: Annotated[str | None, Field(description="Only this status (402) or "
                                                            "class (4xx, 5xx).")] = None,
            text: Annotated[str | None, Field(description=f"Only entries whose request or "
                                                          f"response contains this text (an "
                                                          f"id, an amount, an error code); "
                                                          f"looks through the newest "
                                                          f"{SCAN_JOURNAL}.")] = None,
            bodies: Annotated[bool, Field(description="Include the request and response "
                                                      "bodies (card numbers redacted).")] = True,
            limit: Limit = 20) -> dict[str, Any]:
        """What your code sent to the providers and what it was answered, newest first:
        method, path, status, duration, the scenario rules that matched, injected faults
        and contract violations, and (unless bodies=false) both bodies."""
        entries = (await api.call("GET", "/journal", query={
            "provider": provider, "namespace": namespace, "path": path, "status": status,
            "bodies": "true" if bodies or text else "false",
            "limit": SCAN_JOURNAL if text else _limit(limit)}))["entries"]
        if text:
            entries = [e for e in entries if text.lower() in json.dumps(e).lower()]
            if not bodies:
                entries = [{k: v for k, v in e.items() if k not in ("request", "response")}
                           for e in entries]
        return {"entries": [{**e, "at": _when(e["at"])} for e in entries[:_limit(limit)]]}

    @tool(WRITE)
    async def advance_clock(by: Annotated[str, Field(
            description="How far: seconds (90) or a number with a unit: 250ms, 90s, 15m, "
                        "2h, 3d.")]) -> dict[str, Any]:
        """Move the simulator's virtual clock forward, as if that much time had passed:
        webhook retries fall due, pending payments (bank transfers, UPI collect requests,
        unanswered M-Pesa prompts, 3-D Secure waits) expire, idempotency keys age out, and
        time-phased scenario outages move on."""
        snapshot = await api.call("POST", "/clock/advance", {"by": by})
        return {**snapshot, "now_iso": _when(snapshot.get("now"))}

    @tool(WRITE)
    async def complete_payment(
            payment_id: PaymentId,
            outcome: Annotated[Literal["success", "failure", "canceled", "expired"], Field(
                description="What the shopper, bank or wallet does.")] = "success",
            reason: Annotated[str | None, Field(
                description="With outcome=failure: the canonical decline reason "
                            "(insufficient_funds, authentication_failed, …).")] = None,
    ) -> dict[str, Any]:
        """Finish a payment that waits on the shopper (3-D Secure challenge, redirect to
        a bank or wallet, UPI collect, M-Pesa prompt, Mollie checkout) as if they had
        approved it, failed it, cancelled it or let it expire; the provider's webhooks
        follow as they would."""
        body: dict[str, Any] = {"outcome": outcome}
        if reason is not None:
            body["reason"] = reason
        result: dict[str, Any] = await api.call(
            "POST", f"/payments/{_segment(payment_id)}/complete", body)
        return result

    @tool(READ)
    async def list_webhooks(provider: Provider = None, namespace: Namespace = None,
                            state: Annotated[str | None, Field(
                                description="pending, delivering, delivered or "
                                            "failed.")] = None,
                            event_id: Annotated[str | None, Field(
                                description="Only deliveries of this event.")] = None,
                            limit: Limit = 20) -> dict[str, Any]:
        """The webhooks the simulator sent (or is still retrying) to your receiver, newest
        first: event type, destination, state, every attempt with its status or error
        and when the next retry is due; and the endpoints configured per provider."""
        listed = await api.call("GET", "/webhooks/deliveries", query={
            "provider": provider, "namespace": namespace, "state": state,
            "event_id": event_id, "limit": _limit(limit)})
        endpoints = await api.call("GET", "/webhooks")
        return {"deliveries": listed["deliveries"], "endpoints": endpoints["endpoints"],
                "totals": endpoints["deliveries"]}

    @tool(WRITE)
    async def redeliver_webhook(delivery_id: Annotated[str, Field(
            description="The delivery's id, from list_webhooks or explain_payment.")]
                                ) -> dict[str, Any]:
        """Send a webhook again, signed afresh, as the provider's dashboard "resend"
        does: to test that your receiver handles a duplicate event."""
        result: dict[str, Any] = await api.call(
            "POST", f"/webhooks/deliveries/{_segment(delivery_id)}/redeliver")
        return result

    @tool(READ)
    async def contract_report() -> dict[str, Any]:
        """Where your requests broke the providers' API contracts (a missing or unknown
        parameter, a wrong type or format), grouped by provider, operation and field,
        with counts and the first example; and whether the simulator refuses such
        requests (strict) or serves them and records them (report)."""
        result: dict[str, Any] = await api.call("GET", "/contracts")
        return result

    return server


def _scenario_text(scenario: str) -> str:
    name = scenario.strip()
    if name in ready.names():
        return locate(name).read_text(encoding="utf-8")
    return scenario


def _explain(p: Mapping[str, Any], requests: list[dict[str, Any]], rules: list[str],
             violations: list[dict[str, Any]], deliveries: list[dict[str, Any]]) -> str:
    """The story in a few sentences, for the agent to relay."""
    lines = [f"{p['id']} is a {p['provider']} payment of {p['amount']} {p['currency']} "
             f"(minor units), now {p['status']}"
             + (f", declined: {p['decline']}" if p.get("decline") else "")
             + (f" (native code {p['decline_code']})" if p.get("decline_code") else "") + "."]
    steps = [f"{h['action']} -> {h['status']}" + (f" ({h['detail']})" if h.get("detail") else "")
             for h in p["history"]]
    if steps:
        lines.append("History: " + "; ".join(steps) + ".")
    for e in requests:
        if e.get("scenario_rules"):
            lines.append(f"Scenario rule {', '.join(e['scenario_rules'])} matched "
                         f"{e['method']} {e['path']} (answered {e['status']})"
                         + (f", injecting the fault {e['fault']}" if e.get("fault") else "")
                         + ".")
    if not rules:
        if p.get("decline"):
            lines.append("No scenario rule matched its requests: the outcome came from the "
                         "provider's own test values (see the providers tool).")
        misses = [m for e in requests for m in e.get("near_misses", [])]
        if misses:
            lines.append(f"Nearest scenario misses: {json.dumps(misses[:3])}.")
    if not requests:
        lines.append(f"None of the newest {SCAN_JOURNAL} journal entries of "
                     f"{p['provider']} mention it.")
    if violations:
        lines.append(f"{len(violations)} contract violation(s) in its requests: "
                     + "; ".join(f"{v['request']} {v.get('field', '')}: {v.get('message', '')}"
                                 for v in violations[:5]) + ".")
    if deliveries:
        lines.append("Webhooks: " + "; ".join(
            f"{d['event_type']} {d['state']} after {len(d['attempts'])} attempt(s)"
            for d in deliveries) + ".")
    else:
        lines.append("No webhook about it was sent (is an endpoint configured? "
                     "list_webhooks shows them).")
    return " ".join(lines)


async def serve_stdio(api: AdminAPI) -> None:
    """`paysandbox mcp`: the tools over stdin/stdout until the agent closes them."""
    try:
        await build_server(api).run_stdio_async()
    finally:
        await api.aclose()


def command(args: argparse.Namespace) -> int:
    """`paysandbox mcp [--url URL] [--admin-token TOKEN]`."""
    url = args.url or os.environ.get("PAYSANDBOX_URL") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    token = args.admin_token or os.environ.get("PAYSANDBOX_ADMIN_TOKEN") or None
    asyncio.run(serve_stdio(AdminAPI(url, token=token)))
    return 0
