"""/__admin/ui: the operators' dashboard, and the few admin calls only it needed.

The page is three static files shipped in the package (paysandbox/admin/ui/: HTML, one
script, one stylesheet; no build step, nothing fetched from elsewhere) that read the
admin API like any other client. They sit in the admin application, so every request
for them passes the same checks (paysandbox.admin.access): a loopback or allowed Host,
no cross-site browser, the admin token when there is one (a browser asks for it through
a Basic challenge). The page forbids framing and anything from another origin (CSP), so
another site cannot wrap its buttons.

Live updates are server-sent events fed by the journal (`Journal.subscribe`): each open
stream follows new entries through its own bounded queue (`Subscription.LIMIT` entries;
the oldest are dropped and the stream says how many), at most `Journal.MAX_SUBSCRIBERS`
streams at once (one more is answered 503), a stream whose browser went away is noticed
within `_POLL` seconds, and every stream ends when the server shuts down.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from paysandbox.core.payments import Payment
from paysandbox.core.tenancy import tenant
from paysandbox.journal import Entry, Journal, TooManySubscribers, selected
from paysandbox.scenarios.loader import ScenarioError, load_text
from paysandbox.scenarios.runtime import ScenarioSet

if TYPE_CHECKING:
    from paysandbox.shared import Control
    from paysandbox.store.base import Store
    from paysandbox.webhooks.dispatcher import Dispatcher

#: The dashboard's files and their types; nothing else under ui/ is served.
FILES = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css"}

#: Everything the page loads comes from this server; no other site may frame it.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

#: How often a live stream checks that its browser is still there, and how often it
#: writes a comment line so that proxies keep an idle stream open.
_POLL = 1.0
_KEEPALIVE = 15.0

#: Journal entries and webhook deliveries examined for one payment's page.
PAYMENT_REQUESTS = 200
PAYMENT_DELIVERIES = 1_000

#: Ids a journal entry may name: in its path, and a response's own id fields.
_ID_FIELDS = ("id", "pspReference", "paymentPspReference", "payment_id", "razorpay_payment_id",
              "CheckoutRequestID")
_ID_LIKE = re.compile(r"^[A-Za-z0-9_\-]{6,64}$")


def _error(status: int, message: str) -> web.Response:
    return web.Response(body=orjson.dumps({"error": {"message": message}}), status=status,
                        content_type="application/json")


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj, option=orjson.OPT_INDENT_2), status=status,
                        content_type="application/json")


def _status_filter(value: str | None) -> int | str | None:
    """As `GET /__admin/journal` reads `status`: 402, or a class as 4xx; an error text."""
    if not value:
        return None
    try:
        return int(value.rstrip("xX"))
    except ValueError:
        return "status must be a code (402) or a class (4xx)."


def add_dashboard(app: web.Application, *, journal: Journal, store: Store,
                  dispatcher: Dispatcher, scenarios: ScenarioSet,
                  find_payment: Callable[[str], Awaitable[Payment]],
                  render_payment: Callable[[Payment], dict[str, Any]],
                  control: Control) -> None:
    """Add the dashboard's routes to the admin application `app`. A journal entry and
    a payment's requests are read through `control`: a fleet's are the whole fleet's."""
    cache: dict[str, bytes] = {}

    def read(name: str) -> bytes:
        if name not in cache:
            cache[name] = (files("paysandbox.admin") / "ui" / name).read_bytes()
        return cache[name]

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=read("index.html"), content_type="text/html",
                            charset="utf-8", headers=_HEADERS)

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kind = FILES.get(name)
        if kind is None or name == "index.html":
            return _error(404, f"No dashboard file {name!r}; there are "
                               f"{', '.join(n for n in FILES if n != 'index.html')}.")
        return web.Response(body=read(name), content_type=kind, charset="utf-8",
                            headers=_HEADERS)

    async def events(request: web.Request) -> web.StreamResponse:
        """New journal entries as server-sent events (`request`, without bodies), and
        `dropped` when this stream fell behind and lost some."""
        q = request.query
        status = _status_filter(q.get("status"))
        if isinstance(status, str):
            return _error(400, status)
        namespace = tenant(q["namespace"]) if q.get("namespace") else None
        provider = q.get("provider") or None
        try:
            subscription = journal.subscribe()
        except TooManySubscribers as exc:
            return _error(503, str(exc))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        try:
            await response.prepare(request)
            await response.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
            reported, quiet_since = 0, time.monotonic()
            while not subscription.closed:
                entries = await subscription.next(_POLL)
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                chunks = []
                if subscription.dropped != reported:
                    reported = subscription.dropped
                    chunks.append(b"event: dropped\ndata: " +
                                  orjson.dumps({"dropped": reported}) + b"\n\n")
                for e in entries:
                    if selected(e, provider=provider, status=status, namespace=namespace):
                        chunks.append(b"id: %d\nevent: request\ndata: " % e.seq +
                                      orjson.dumps(e.to_json(bodies=False)) + b"\n\n")
                if not chunks and time.monotonic() - quiet_since >= _KEEPALIVE:
                    chunks.append(b": still here\n\n")
                if chunks:
                    quiet_since = time.monotonic()
                    await response.write(b"".join(chunks))
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the browser went away (or the server is stopping): nothing to answer
        finally:
            subscription.close()
        return response

    async def journal_entry(request: web.Request) -> web.Response:
        """One entry with its bodies, and the payments it names (for a link to each)."""
        try:
            seq = int(request.match_info["seq"])
        except ValueError:
            return _error(400, "A journal entry is named by its number (`seq`).")
        entry = await control.journal_entry(seq)
        if entry is None:
            return _error(404, f"No journal entry {seq}: the journal keeps the latest "
                               f"{len(journal)} (see --journal-size).")
        out = entry.to_json()
        out["payments"] = await _payments_named(store, entry, out)
        return _json(out)

    async def payment_explain(request: web.Request) -> web.Response:
        """A payment with what happened around it: the journal's requests that name it,
        the scenario rules that fired on them, their contract violations, and the
        webhook deliveries of its events."""
        p = await find_payment(request.match_info["id"])
        entries = await control.journal(namespace=p.namespace, mentions=p.id,
                                       limit=PAYMENT_REQUESTS)
        rules: Counter[str] = Counter()
        violations = []
        for e in entries:
            rules.update(e.notes.get("scenario_rules") or ())
            for v in e.notes.get("contract_violations") or ():
                violations.append({**v, "seq": e.seq, "method": e.method, "path": e.path})
        needle = p.id.encode()
        hooks = [d.to_json() for d in await dispatcher.list_deliveries(
                     namespace=p.namespace, limit=PAYMENT_DELIVERIES)
                 if needle in d.event.body]
        return _json({"payment": render_payment(p),
                      "requests": [e.to_json(bodies=False) for e in reversed(entries)],
                      "rules": [{"rule": r, "requests": n} for r, n in rules.most_common()],
                      "contract_violations": violations, "deliveries": hooks})

    async def scenario_validate(request: web.Request) -> web.Response:
        """Check a scenario's text without loading it: every problem with its place."""
        try:
            data = orjson.loads(await request.read() or b"{}")
        except orjson.JSONDecodeError as exc:
            return _error(400, f"The body is not valid JSON: {exc}")
        text = data.get("yaml") if isinstance(data, dict) else None
        source = data.get("source", "scenario.yaml") if isinstance(data, dict) else None
        if not isinstance(text, str) or not isinstance(source, str) or len(source) > 200:
            return _error(400, 'Give the scenario as {"yaml": "name: …", "source": '
                               '"my-scenario.yaml"} (source, optional, names the file in '
                               'each problem).')
        try:
            doc = load_text(text, source=source or "scenario.yaml")
        except ScenarioError as exc:
            return _json({"valid": False, "problems": [
                {"file": p.file, "line": p.line, "column": p.column, "path": p.path,
                 "message": p.message, "text": str(p)} for p in exc.problems]})
        name = doc.get("name")
        return _json({"valid": True, "name": name, "problems": [],
                      "loaded": isinstance(name, str) and scenarios.get(name) is not None})

    async def close_streams(_app: web.Application) -> None:
        journal.close_subscriptions()

    app.on_shutdown.append(close_streams)
    r = app.router
    r.add_get("/ui", page)
    r.add_get("/ui/static/{name}", static)
    r.add_get("/ui/events", events)
    r.add_get("/journal/{seq}", journal_entry)
    r.add_get("/payments/{id}/explain", payment_explain)
    r.add_post("/scenarios/validate", scenario_validate)


async def _payments_named(store: Store, entry: Entry, rendered: dict[str, Any]) -> list[str]:
    """The payments of the entry's namespace whose ids its path or response names."""
    if entry.namespace is None:
        return []
    candidates = [part for part in entry.path.split("/") if _ID_LIKE.match(part)]
    response = rendered.get("response")
    if isinstance(response, dict):
        candidates += [str(response[k]) for k in _ID_FIELDS if isinstance(response.get(k), str)]
    found: list[str] = []
    for candidate in dict.fromkeys(candidates):  # in order, once each
        if len(found) >= 3 or not _ID_LIKE.match(candidate):
            continue
        payment = await store.get(entry.namespace, candidate)
        if payment is not None and payment.id not in found:
            found.append(payment.id)
    return found
