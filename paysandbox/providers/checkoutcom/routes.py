"""Checkout.com's unified payments API (`/payments`) -> canonical commands, and back.

Mounted at `/checkoutcom`: give the official SDK an Environment whose `base_uri` is
`http://HOST:PORT/checkoutcom/`. Authentication is `Authorization: Bearer sk_sbox_…`
(the default SDK) or the raw secret key without "Bearer" (the Previous SDK's
`sk_test_…`); the key is the namespace.

LIMITATIONS (what of the real API this does not imitate):
- Payments with a `card` source only. A `token` source (`tok_…` from Frames or the
  Tokens API) is refused with 422 `token_invalid`: there is no Tokens API here; other
  source types (`id`, `customer`, `network_token`, APMs) with 422
  `payment_source_type_invalid`. Payouts, payment links, hosted payments, sessions and
  the Workflows API are not imitated.
- One capture per payment: a partial capture releases the rest ("Partially Captured");
  `capture_type: NonFinal` is accepted and changes nothing. Voids void the whole
  authorization. Incremental authorizations, reversals and `capture_on` are not imitated.
- Test values: the "Response code tests" cards, the "3D Secure test cards" and the
  amount triggers of "Response code testing" (see magic.py). The bypass by expiry date,
  the 3DS-only amount triggers (20150, 20153), "first attempt only" for 2011/2013, the
  card-verification cards and the AFT/payout cards are not imitated.
- A payment's `customer` gets a `cus_` id derived from its email (the same email under
  the same key is the same customer); the Customers API itself is not imitated.
- A payment declined by 3DS or the issuer is final, as in the real API; there is no
  retry (`retry`) or `previous_payment_id` chaining. Risk rules are not evaluated.
- The bodies of 403 (action not allowed) answers and the error codes of malformed or
  non-JSON bodies are this simulator's (the reference does not document them); an
  idempotency key reused with another body answers 422 `idempotency_key_invalid`.
  Idempotency keys do not expire.
- Webhooks go to the endpoint configured with `PUT /__admin/webhooks/checkoutcom` (the
  dashboard's job); `payment_capture_declined`, `payment_refund_declined` and
  `payment_void_declined` are never sent, because captures, refunds and voids here are
  never declined.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from paysandbox.core.cards import (
    card_fingerprint,
    detect_brand,
    digits_only,
    is_expired,
    luhn_valid,
)
from paysandbox.core.commands import (
    Authorize,
    Capture,
    Command,
    Listing,
    RefundPayment,
    Result,
    Void,
)
from paysandbox.core.money import UnknownCurrency, currency
from paysandbox.core.payments import (
    AmountExceeded,
    CardDetails,
    InvalidTransition,
    Payment,
    Status,
)
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, ResourceMissing, Unauthorized
from paysandbox.hosted import register_challenge
from paysandbox.objects import Objects
from paysandbox.providers.base import (
    NAMESPACE,
    RAW_BODY,
    REQUEST_ID,
    api_url,
    idempotent,
    json_fingerprint,
    payment_facts,
    route,
    scenario_facts,
)
from paysandbox.providers.checkoutcom import magic, wire
from paysandbox.providers.checkoutcom.wire import Invalid
from paysandbox.store.base import NotFound
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

PREFIX = "/checkoutcom"
ACTION_KIND = "checkoutcom.action"
_KEY = re.compile(r"^sk_(sbox|test)_[A-Za-z0-9_*#$=-]{1,200}$")

Handler = Callable[[], Coroutine[Any, Any, web.Response]]


class CheckoutProvider:
    name = "checkoutcom"
    title = "Checkout.com"
    # The shared host, and the merchant subdomains the SDKs now require ({prefix}.api…).
    hostnames: Mapping[str, str] = {"api.sandbox.checkout.com": "",
                                    "*.api.sandbox.checkout.com": ""}
    webhooks: WebhookScheme = wire.CheckoutWebhooks()

    @property
    def event_types(self) -> frozenset[str]:
        """Every webhook type `events_for` can send (contracts_data/checkoutcom/operations.json
        gives each its payload schema)."""
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def public_status(self, p: Payment) -> str:
        return wire.status(p)

    def return_url(self, p: Payment) -> str | None:
        """After the challenge the shopper goes to `success_url` when the payment was
        authorized and to `failure_url` otherwise, with `cko-session-id` appended."""
        ok = p.status in (Status.AUTHORIZED, Status.CAPTURED)
        url = p.extra.get("success_url" if ok else "failure_url")
        if not url:
            return None
        query = urlencode({"cko-session-id": p.extra.get("session_id", "")})
        return f"{url}{'&' if '?' in url else '?'}{query}"

    def routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        api = _Api(self, engine)
        return [
            route("POST", "/payments", api.create_payment),
            route("GET", "/payments/{id}", api.get_payment),
            route("GET", "/payments/{id}/actions", api.get_payment_actions),
            route("POST", "/payments/{id}/captures", api.capture_payment),
            route("POST", "/payments/{id}/refunds", api.refund_payment),
            route("POST", "/payments/{id}/voids", api.void_payment),
        ]

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        rid = request.get(REQUEST_ID, "")
        body = wire.error_body(error, rid)
        response = web.Response(status=error.status, body=body, headers=_headers(request))
        if body:
            response.content_type = "application/json"
        if error.status == 401:
            response.headers["WWW-Authenticate"] = (
                'Bearer error="invalid_token", error_description="Use a sandbox secret key: '
                "'Authorization: Bearer sk_sbox_...' or, on the previous platform, the raw "
                "'sk_test_...' key\"")
        return response

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return []  # configured in the dashboard: the dispatcher's admin-set endpoint

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        since = len(before.history) if before is not None else 0
        found: list[tuple[str, Mapping[str, Any] | None]] = []
        if p.status in (Status.REQUIRES_ACTION, Status.PENDING) and \
                (before is None or before.status is not p.status):
            found.append((PENDING_EVENT, None))
        for done in wire.actions(p, {}, since=since):
            found.append((_EVENT_TYPES[done["type"], done["approved"]], done))
        at = p.history[-1].at if p.history else p.created
        events = []
        for type_, action in found:
            eid = wire.new_id("evt")
            events.append(Event(
                id=eid, provider=self.name, namespace=namespace, type=type_, created=at,
                render=lambda eid=eid, type_=type_, action=action: wire.dumps(  # type: ignore[misc]
                    wire.event(eid, type_, at, p, action))))
        return events


_EVENT_TYPES: Mapping[tuple[str, bool], str] = {
    ("Authorization", True): "payment_approved",
    ("Authorization", False): "payment_declined",
    ("Card Verification", True): "card_verified",
    ("Card Verification", False): "card_verification_declined",
    ("Capture", True): "payment_captured",
    ("Capture", False): "payment_capture_declined",
    ("Void", True): "payment_voided",
    ("Void", False): "payment_void_declined",
    ("Refund", True): "payment_refunded",
    ("Refund", False): "payment_refund_declined",
}
PENDING_EVENT = "payment_pending"
EVENT_TYPES = frozenset({PENDING_EVENT, *_EVENT_TYPES.values()})


def _headers(request: web.Request) -> dict[str, str]:
    return {"Cko-Request-Id": request.get(REQUEST_ID, "")}


def _json(obj: Any, request: web.Request, *, status: int = 200) -> web.Response:
    return web.Response(body=wire.dumps(obj), status=status, content_type="application/json",
                        headers=_headers(request))


def authenticate(request: web.Request) -> str:
    """The secret key is the namespace: two keys never see each other's payments."""
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    key = value.strip() if scheme.lower() == "bearer" else header
    if not _KEY.match(key):
        raise Unauthorized("Invalid or missing secret key.")
    request[NAMESPACE] = key = tenant(key)
    return key


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    request[RAW_BODY] = raw
    if not raw.strip():
        return {}
    if request.content_type not in ("application/json", "application/octet-stream") and \
            not request.content_type.endswith("+json"):
        raise Invalid("content_type_unsupported", status=415)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Invalid("request_body_malformed") from None


class _Api:
    def __init__(self, provider: CheckoutProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine
        self.store = engine.store

    # -- shared steps ----------------------------------------------------------------

    async def _body(self, request: web.Request, contract: str) -> tuple[str, dict[str, Any]]:
        ns = authenticate(request)
        return ns, wire.validate(await read_json(request), contract)

    async def _once(self, request: web.Request, ns: str, body: Any,
                    run: Handler) -> web.Response:
        key = request.headers.get("Cko-Idempotency-Key")
        fingerprint = "" if key is None else json_fingerprint(request, body)
        return await idempotent(
            self.store, ns, key, fingerprint, self.engine.clock.now(), run,
            replay_header=None,
            mismatch=lambda: Invalid("idempotency_key_invalid"),
            in_flight=lambda: Conflict("Another request with this Cko-Idempotency-Key is "
                                       "still being processed.", code="request_in_progress"),
            render=lambda exc: self.provider.render_error(exc, request))

    async def _payment(self, ns: str, pid: str) -> Payment:
        if pid.startswith("sid_"):
            pid = await self.store.resolve(ns, pid) or pid
        p = await self.store.get(ns, pid)
        if p is None or p.provider != self.provider.name:
            raise ResourceMissing(f"No payment {pid}.")
        return p

    async def _read(self, request: web.Request, operation: str) -> str:
        ns = authenticate(request)
        await self.engine.intercept(self.provider, ns, Listing(""), scenario_facts(
            request, self.provider.name, operation=operation))
        return ns

    async def _run(self, ns: str, command: Command, request: web.Request, p: Payment,
                   amount: int | None = None) -> Result:
        facts = payment_facts(request, self.provider.name, p, amount=amount)
        try:
            return await self.engine.execute(self.provider, ns, command, facts)
        except NotFound:
            raise ResourceMissing(f"No payment {command.payment_id}.") from None
        except InvalidTransition as exc:
            raise _not_allowed(exc.action) from None
        except AmountExceeded as exc:
            raise Invalid("capture_value_greater_than_authorized" if exc.action == "capture"
                          else "refund_amount_exceeds_balance") from None

    async def _notes(self, ns: str, p: Payment) -> dict[str, Mapping[str, Any]]:
        notes: dict[str, Mapping[str, Any]] = {}
        for i, h in enumerate(p.history):
            if h.action in ("capture", "void", "refund"):
                aid = wire.action_id(p, i, h.action)
                found = await self.store.get_object(ns, ACTION_KIND, aid)
                if found is not None:
                    notes[aid] = found
        return notes

    # -- payments --------------------------------------------------------------------

    async def create_payment(self, request: web.Request) -> web.Response:
        ns, body = await self._body(request, "create_payment.request")
        payment, outcome = self._new_payment(request, ns, body)

        async def run() -> web.Response:
            result = await self._run(ns, Authorize(payment.id, outcome, create=payment),
                                     request, payment)
            p = result.payment
            await self.store.link(ns, p.extra["session_id"], p.id)
            if p.status is Status.REQUIRES_ACTION:
                await register_challenge(self.store, p.extra["session_id"],
                                         provider=self.provider.name, namespace=ns,
                                         payment_id=p.id)
            pending = p.status in (Status.REQUIRES_ACTION, Status.PENDING)
            return _json(wire.created(p), request, status=202 if pending else 201)
        return await self._once(request, ns, body, run)

    def _new_payment(self, request: web.Request, ns: str,
                     body: Mapping[str, Any]) -> tuple[Payment, Any]:
        """The payment a request describes and the outcome its test values call for;
        every problem found at once, in one 422."""
        problems: list[str] = []
        code = body["currency"]
        try:
            cur = currency(code)
        except UnknownCurrency:
            problems.append("currency_invalid")
            cur = None
        src = body["source"]
        card: CardDetails | None = None
        number = ""
        kind = src["type"]
        if kind == "token":
            problems.append("token_invalid")
        elif kind != "card":
            problems.append("payment_source_type_invalid")
        else:
            card, number = self._card(src, problems)
        for name in ("success_url", "failure_url"):
            url = body.get(name)
            if url is not None and not str(url).startswith(("http://", "https://")):
                problems.append(f"{name}_invalid")
        if problems or cur is None or card is None:
            raise Invalid(*problems)
        amount = body.get("amount", 0)
        tds = body.get("3ds") or {}
        outcome = magic.outcome(number, amount, cur.minor_units,
                                three_ds=bool(tds.get("enabled")),
                                attempt_n3d=bool(tds.get("attempt_n3d")))
        pid = wire.new_id("pay")
        sid = wire.new_id("sid")
        metadata = body.get("metadata") or {}
        extra: dict[str, Any] = {
            "base": api_url(request, PREFIX[1:]),
            "session_id": sid,
            "redirect": f"{request.scheme}://{request.host}/__hosted/3ds/{sid}",
            "source_id": "src_" + card.fingerprint[:26].lower().translate(_HEX_TO_B32),
            "auth_code": f"{secrets.randbelow(1_000_000):06d}",
            "scheme_id": f"{secrets.randbelow(10**15):015d}",
            "acquirer_transaction_id": secrets.token_hex(10),
            "retrieval_reference_number": f"{secrets.randbelow(10**12):012d}",
            "verification": amount == 0,
            "three_ds": bool(tds.get("enabled")),
            "cvv": bool(src.get("cvv")),
            "card_name": src.get("name"),
            "payment_type": body.get("payment_type", "Regular"),
            "metadata": metadata,
        }
        for key in ("reference", "description", "success_url", "failure_url"):
            if body.get(key) is not None:
                extra[key] = body[key]
        if body.get("customer") is not None:
            extra["customer"] = wire.customer(ns, body["customer"])
        payment = Payment(
            id=pid, namespace=ns, provider=self.provider.name, amount=amount,
            currency=cur.code, created=self.engine.clock.now(),
            capture_manual=body.get("capture") is False or amount == 0, card=card,
            metadata={str(k): str(v) for k, v in metadata.items()},
            description=body.get("description"), extra=extra)
        return payment, outcome

    def _card(self, src: Mapping[str, Any], problems: list[str]) \
            -> tuple[CardDetails | None, str]:
        for field, name in (("number", "card_number"), ("expiry_month", "card_expiry_month"),
                            ("expiry_year", "card_expiry_year")):
            if src.get(field) is None:
                problems.append(f"{name}_required")
        if problems and any(p.startswith("card_") for p in problems):
            return None, ""
        number = digits_only(src["number"])
        if not luhn_valid(number):
            problems.append("card_number_invalid")
            return None, ""
        month, year = src["expiry_month"], src["expiry_year"]
        if is_expired(month, year, self.engine.clock.now_datetime()):
            problems.append("card_expired")
            return None, ""
        fingerprint = card_fingerprint(number, self.engine.fingerprint_key, 64).upper()
        return CardDetails(brand=detect_brand(number).value, last4=number[-4:],
                           bin=number[:6], exp_month=month, exp_year=year,
                           country="GB", fingerprint=fingerprint), number

    async def get_payment(self, request: web.Request) -> web.Response:
        ns = await self._read(request, "retrieve")
        p = await self._payment(ns, request.match_info["id"])
        return _json(wire.details(p, await self._notes(ns, p)), request)

    async def get_payment_actions(self, request: web.Request) -> web.Response:
        ns = await self._read(request, "list")
        p = await self._payment(ns, request.match_info["id"])
        found = wire.actions(p, await self._notes(ns, p))[::-1]
        return _json(found, request)

    # -- actions ---------------------------------------------------------------------

    async def capture_payment(self, request: web.Request) -> web.Response:
        return await self._act(request, "capture", "capture_payment.request",
                               lambda p, b: Capture(p.id, b.get("amount")))

    async def void_payment(self, request: web.Request) -> web.Response:
        return await self._act(request, "void", "void_payment.request",
                               lambda p, b: Void(p.id, b.get("reference")))

    async def refund_payment(self, request: web.Request) -> web.Response:
        return await self._act(
            request, "refund", "refund_payment.request",
            lambda p, b: RefundPayment(p.id, refund_id=wire.new_id("rfd"),
                                       amount=b.get("amount"), reason=b.get("reference"),
                                       metadata=b.get("metadata") or {}))

    async def _act(self, request: web.Request, action: str, contract: str,
                   command: Callable[[Payment, Mapping[str, Any]], Command]) -> web.Response:
        ns, body = await self._body(request, contract)

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["id"])
            if wire.is_verification(p):
                raise _not_allowed(action)
            aid = wire.action_id(p, len(p.history), action)
            note = {k: body[k] for k in ("reference", "metadata") if body.get(k) is not None}
            if note:
                await self.store.put_object(ns, ACTION_KIND, aid, note)
            result = await self._run(ns, command(p, body), request, p, body.get("amount"))
            return _json(wire.accepted(result.payment, aid, body.get("reference")), request,
                         status=202)
        return await self._once(request, ns, body, run)


def _not_allowed(action: str) -> Invalid:
    verb = {"authorize": "authorization", "complete": "authorization"}.get(action, action)
    return Invalid(f"{verb}_not_allowed", error_type="action_not_allowed", status=403)


_HEX_TO_B32 = str.maketrans("0189", "wxyz")

provider = CheckoutProvider()
