"""Razorpay's v1 paths -> canonical commands, and back to Razorpay's entities.

Mounted at `/razorpay`; the official SDK is given `base_url=<simulator>/razorpay` and
appends `/v1/...` itself. The key id (`rzp_test_…`, HTTP Basic username) is the
namespace: two key ids never see each other's orders, payments or refunds.

Flow imitated: create an Order, start a server-to-server UPI collect payment on it
(`POST /v1/payments/create/upi`), poll the payment (or receive webhooks) while the
customer approves the collect request in their UPI app, capture it (unless the order
captures automatically), refund it.

LIMITATIONS (what of the real API this does not imitate):
- Payment methods: UPI collect only. No cards, netbanking, wallets, UPI intent/QR
  (`upi.flow: intent` is refused with a clear error), EMI, recurring payments,
  customers, tokens, payment links, invoices, subscriptions, Route transfers,
  settlements, disputes or the Checkout (browser) flow and its payment signature.
- Bodies are JSON only; Razorpay also takes form-encoded bodies.
- The key secret is not checked (any non-empty secret is accepted with a test key id);
  live key ids (`rzp_live_…`) are refused.
- Order `partial_payment` allows payments up to the amount due; offers, `first_payment_
  min_amount` and per-currency minimum amounts other than 100 subunits are not enforced.
- Refunds are processed at once (`status: processed`, speed `normal`); `instant`/
  `optimum` speed, failed refunds and refund edits (PATCH) are not imitated.
- Authorized payments are not auto-refunded after Razorpay's capture window; fees are
  a flat 2% plus 18% GST.
- Idempotency: Razorpay has an idempotency header for refunds only
  (`X-Refund-Idempotency`); orders use `receipt` with `unique_receipt: true`, as
  documented. Payment creation has none (retry on the same order instead).
- Error descriptions follow Razorpay's where documented and otherwise say what to do;
  some carry more guidance than Razorpay's own.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from paysandbox.core.commands import (
    Authorize,
    Capture,
    Command,
    Complete,
    Expire,
    Listing,
    RefundPayment,
    Result,
)
from paysandbox.core.money import UnknownCurrency, currency, to_major
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import AmountExceeded, InvalidTransition, Payment, Status
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, Unauthorized
from paysandbox.objects import Objects
from paysandbox.providers.base import (
    NAMESPACE,
    RAW_BODY,
    REQUEST_ID,
    idempotent,
    json_fingerprint,
    payment_facts,
    route,
    scenario_facts,
)
from paysandbox.providers.razorpay import magic, wire
from paysandbox.store.base import NotFound
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

ORDER_KIND = "razorpay.order"
RECEIPT_KIND = "razorpay.receipt"
_KEY_ID = re.compile(r"^rzp_test_[A-Za-z0-9]{1,64}$")
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{10,}$")
_LIST_INTS = ("count", "skip", "from", "to", "authorized")

Handler = Callable[[web.Request], Coroutine[Any, Any, web.Response]]


class RazorpayProvider:
    name = "razorpay"
    title = "Razorpay"
    hostnames: Mapping[str, str] = {"api.razorpay.com": ""}
    webhooks: WebhookScheme = wire.RazorpayWebhooks()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""  # the SDK appends /v1 to its base_url itself

    def routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        api = _Api(self, engine)
        return [
            route("POST", "/v1/orders", api.create_order),
            route("GET", "/v1/orders", api.list_orders),
            route("GET", "/v1/orders/{id}", api.retrieve_order),
            route("GET", "/v1/orders/{id}/payments", api.list_order_payments),
            route("POST", "/v1/payments/create/upi", api.create_upi_payment),
            route("GET", "/v1/payments", api.list_payments),
            route("GET", "/v1/payments/{id}", api.retrieve_payment),
            route("POST", "/v1/payments/{id}/capture", api.capture_payment),
            route("POST", "/v1/payments/{id}/refund", api.refund_payment),
            route("GET", "/v1/payments/{id}/refunds", api.list_payment_refunds),
            route("GET", "/v1/payments/{id}/refunds/{refund_id}", api.retrieve_payment_refund),
            route("GET", "/v1/refunds", api.list_refunds),
            route("GET", "/v1/refunds/{id}", api.retrieve_refund),
        ]

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return _json(wire.error_body(error), request, status=error.status)

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # configured in the dashboard: PUT /__admin/webhooks/razorpay

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        types: list[str] = []
        if isinstance(command, Capture):
            types = list(_CAPTURE_EVENTS)
        elif isinstance(command, RefundPayment):
            types = list(_REFUND_EVENTS)
        elif before is None or before.status is not p.status:
            types = list(_ATTEMPT_EVENTS.get(p.status, ()))
        if not types:
            return ()
        now = p.history[-1].at if p.history else p.created
        return [self._event(namespace, t, now, p, result) for t in types]

    def _event(self, namespace: str, type_: str, now: float, p: Payment,
               result: Result) -> Event:
        eid = wire.new_id("evt")

        def render() -> bytes:
            entities: dict[str, dict[str, Any]]
            if type_.startswith("refund."):
                assert result.refund is not None
                entities = {"refund": wire.refund(p, result.refund), "payment": wire.payment(p)}
            elif type_ == "order.paid":
                entities = {"payment": wire.payment(p),
                            "order": wire.order(p.extra.get("order") or {}, [p])}
            elif type_ == "payment.authorized":
                entities = {"payment": wire.payment(_as_authorized(p))}
            else:
                entities = {"payment": wire.payment(p)}
            body = wire.dumps(wire.event(namespace, type_, now, entities))
            return wire.remember_event_id(body, eid)

        return Event(id=eid, provider=self.name, namespace=namespace, type=type_,
                     created=now, render=render)


_CAPTURE_EVENTS = ("payment.captured", "order.paid")
_REFUND_EVENTS = ("refund.created", "refund.processed")
_ATTEMPT_EVENTS: dict[Status, tuple[str, ...]] = {
    Status.AUTHORIZED: ("payment.authorized",),
    Status.CAPTURED: ("payment.authorized", "payment.captured", "order.paid"),
    Status.FAILED: ("payment.failed",),
    Status.EXPIRED: ("payment.failed",),
    Status.VOIDED: ("payment.failed",),
}

#: Every event type `events_for` can emit (each has a payload contract in
#: paysandbox/contracts_data/razorpay/operations.json).
EVENT_TYPES = frozenset({*_CAPTURE_EVENTS, *_REFUND_EVENTS,
                         *(t for types in _ATTEMPT_EVENTS.values() for t in types)})


def _as_authorized(p: Payment) -> Payment:
    """The payment as it was when authorized: `payment.authorized` is a snapshot of
    that moment even when the payment was captured at once."""
    if p.status is Status.AUTHORIZED:
        return p
    return dataclasses.replace(p, status=Status.AUTHORIZED, amount_captured=0,
                               amount_refunded=0, refunds=())


def _json(obj: Any, request: web.Request, *, status: int = 200) -> web.Response:
    return web.Response(body=wire.dumps(obj), status=status, headers={
        "Content-Type": "application/json",
        "X-Razorpay-Request-Id": request.get(REQUEST_ID, ""),
    })


def authenticate(request: web.Request) -> str:
    """HTTP Basic with the key id and key secret; the key id is the namespace."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    key_id, secret = "", ""
    if scheme.lower() == "basic":
        try:
            key_id, _, secret = base64.b64decode(value.strip(), validate=True) \
                .decode().partition(":")
        except ValueError:  # not base64, not UTF-8, or not ASCII at all
            key_id = ""
    if not key_id.startswith("rzp_test_") or not _KEY_ID.match(key_id) or not secret:
        hint = ("live key ids are never accepted; use a test key id (rzp_test_…)"
                if key_id.startswith("rzp_live_") else
                "use HTTP Basic auth with a test key id (rzp_test_…) as the username "
                "and its key secret as the password, e.g. razorpay.Client(auth=("
                "'rzp_test_1DP5mmOlF5G5ag', 'secret'))")
        raise Unauthorized(f"Authentication failed: {hint}.",
                           extra={"source": "NA", "step": "NA", "reason": "NA"})
    request[NAMESPACE] = key_id = tenant(key_id)
    return key_id


class _Api:
    """The request handlers; one instance per app."""

    def __init__(self, provider: RazorpayProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine
        self.store = engine.store

    # -- shared steps ----------------------------------------------------------------

    async def _body(self, request: web.Request, contract: str) -> dict[str, Any]:
        raw = await request.read()
        request[RAW_BODY] = raw
        ctype = request.content_type if raw else ""
        return wire.parse_body(raw, ctype, contract)

    async def _read(self, request: web.Request, ns: str, operation: str,
                    facts: Mapping[str, Any] | None = None) -> None:
        """Scenarios meet requests that change no payment here (commands meet them in
        the engine)."""
        await self.engine.intercept(self.provider, ns, Listing(""), scenario_facts(
            request, self.provider.name, operation=operation, **(facts or {})))

    def _query(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, value in request.query.items():
            if key in _LIST_INTS:
                if not value.lstrip("-").isdigit():
                    raise wire.bad_request(f"The {key} must be an integer.", field=key)
                params[key] = int(value)
            else:
                params[key] = value
        wire.check(params, "list.request")
        return params

    async def _payment(self, ns: str, pid: str) -> Payment:
        p = await self.store.get(ns, pid)
        if p is None or p.provider != self.provider.name:
            raise wire.not_found()
        return p

    async def _order(self, ns: str, order_id: str, field: str = "id") -> dict[str, Any]:
        record = await self.store.get_object(ns, ORDER_KIND, order_id)
        if record is None:
            raise wire.not_found(field)
        return dict(record)

    async def _order_payments(self, ns: str, record: Mapping[str, Any]) -> list[Payment]:
        found = [await self.store.get(ns, pid) for pid in record.get("payments", ())]
        return [p for p in found if p is not None]

    async def _run(self, ns: str, command: Command, request: web.Request,
                   p: Payment) -> Result:
        """Execute a command, telling scenarios what they can match on."""
        facts = payment_facts(request, self.provider.name, p, country="IN")
        try:
            return await self.engine.execute(self.provider, ns, command, facts)
        except NotFound:
            raise wire.not_found() from None
        except InvalidTransition as exc:
            raise wire.bad_request(
                f"This payment cannot be {exc.action}d: its status is "
                f"{wire.payment_status(exc.payment)}.", source="NA", step="NA",
                reason="NA") from None
        except AmountExceeded as exc:
            raise wire.bad_request(
                f"The {exc.action} amount ({exc.requested}) is greater than the amount "
                f"available ({exc.available}).", field="amount") from None

    # -- orders ------------------------------------------------------------------------

    async def create_order(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        params = await self._body(request, "create_order.request")
        code = _currency(params["currency"])
        await self._read(request, ns, "create",
                         {"amount": params["amount"], "currency": code})
        if params["amount"] < 100:
            raise wire.bad_request("Order amount less than minimum amount allowed",
                                   field="amount", step="order_creation",
                                   reason="amount_less_than_minimum_amount")
        receipt = params.get("receipt")
        if params.get("unique_receipt"):
            if not receipt:
                raise wire.bad_request("receipt: is required when unique_receipt is true.",
                                       field="receipt")
            existing = await self.store.get_object(ns, RECEIPT_KIND, receipt)
            if existing is not None:
                raise wire.bad_request(
                    "Order receipt should be unique. An order with this receipt exists: "
                    f"{existing['order_id']}; fetch it with GET /v1/orders?receipt="
                    f"{receipt}.", field="receipt",
                    metadata={"order_id": existing["order_id"]})
        auto = _auto_capture(params)
        record = {
            "id": wire.new_id("order"), "amount": params["amount"], "currency": code,
            "receipt": receipt, "notes": dict(params.get("notes") or {}),
            "created_at": self.engine.clock.now_int(), "auto_capture": auto,
            "partial_payment": bool(params.get("partial_payment")), "offer_id": None,
            "payments": [],
        }
        await self.store.put_object(ns, ORDER_KIND, record["id"], record)
        if receipt and await self.store.get_object(ns, RECEIPT_KIND, receipt) is None:
            await self.store.put_object(ns, RECEIPT_KIND, receipt, {"order_id": record["id"]})
        return _json(wire.order(record, []), request)

    async def retrieve_order(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        await self._read(request, ns, "retrieve")
        record = await self._order(ns, request.match_info["id"])
        return _json(wire.order(record, await self._order_payments(ns, record)), request)

    async def list_orders(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        params = self._query(request)
        await self._read(request, ns, "list")
        records = (await self.store.list_objects(ns, ORDER_KIND))[::-1]
        if "receipt" in params:
            records = [r for r in records if r.get("receipt") == params["receipt"]]
        page = _page(records, params, created=lambda r: r["created_at"])
        return _json(wire.collection([
            wire.order(r, await self._order_payments(ns, r)) for r in page]), request)

    async def list_order_payments(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        await self._read(request, ns, "list")
        record = await self._order(ns, request.match_info["id"])
        pays = sorted(await self._order_payments(ns, record), key=lambda p: -p.created)
        return _json(wire.collection([wire.payment(p) for p in pays]), request)

    # -- payments ----------------------------------------------------------------------

    async def create_upi_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        params = await self._body(request, "create_upi_payment.request")
        upi = params["upi"]
        if upi["flow"] != "collect":
            raise wire.bad_request(
                "Only the UPI collect flow is simulated: send upi.flow \"collect\" with "
                "upi.vpa (test VPAs: success@razorpay, failure@razorpay).",
                field="upi.flow")
        vpa = upi.get("vpa")
        if not vpa:
            raise wire.bad_request("upi.vpa: is required.", field="upi.vpa")
        if not magic.valid_vpa(vpa):
            raise wire.bad_request("Invalid VPA. Please enter a valid Virtual Payment "
                                   "Address, for example success@razorpay.",
                                   field="upi.vpa", reason="invalid_vpa", source="customer")
        expiry = _expiry_minutes(upi.get("expiry_time"))
        code = _currency(params["currency"])
        record = await self._order(ns, params["order_id"], "order_id")
        await self._check_payable(ns, record, params["amount"], code)
        p = self._new_payment(ns, params, record, vpa, code)
        pending = Outcome.pending()
        result = await self._run(ns, Authorize(p.id, outcome=pending, create=p), request, p)
        record["payments"] = [*record["payments"], p.id]
        await self.store.put_object(ns, ORDER_KIND, record["id"], record)
        if result.payment.status is Status.PENDING:  # it expires even when a scenario answers
            answer = magic.outcome_for(vpa, p.amount) if result.outcome is pending else None
            self._customer_answers(ns, p, answer, expiry)
        return _json({"razorpay_payment_id": p.id}, request)

    async def _check_payable(self, ns: str, record: Mapping[str, Any], amount: int,
                             code: str) -> None:
        if code != record["currency"]:
            raise wire.bad_request(f"The currency must be the order's currency, "
                                   f"{record['currency']}.", field="currency")
        pays = await self._order_payments(ns, record)
        paid = sum(p.amount_captured for p in pays if p.status in wire.CAPTURED)
        if paid >= record["amount"]:
            raise wire.bad_request("Order has already been paid. Create a new order for "
                                   "another payment.", field="order_id")
        if any(p.status is Status.AUTHORIZED for p in pays):
            raise wire.bad_request("A payment on this order is already authorized: "
                                   "capture it instead of starting another payment.",
                                   field="order_id")
        due = record["amount"] - paid
        if record.get("partial_payment") and 0 < amount <= due:
            return
        if amount != due:
            raise wire.bad_request(f"The amount must be equal to the order amount due, "
                                   f"{due}.", field="amount")

    def _new_payment(self, ns: str, params: Mapping[str, Any], record: Mapping[str, Any],
                     vpa: str, code: str) -> Payment:
        notes = {str(k): "" if v is None else str(v)
                 for k, v in (params.get("notes") or {}).items()}
        contact = params.get("contact")
        snapshot = {k: record[k] for k in ("id", "amount", "currency", "receipt", "notes",
                                           "created_at", "offer_id")}
        return Payment(
            id=wire.new_id("pay"), namespace=ns, provider=self.provider.name,
            amount=params["amount"], currency=code, created=self.engine.clock.now(),
            capture_manual=not record.get("auto_capture", True), method="upi",
            metadata=notes, description=params.get("description"),
            extra={"order_id": record["id"], "order": snapshot, "vpa": vpa,
                   "email": params.get("email"),
                   "contact": None if contact is None else str(contact),
                   "customer_id": params.get("customer_id"), "flow": "collect",
                   "rrn": str(random.randrange(10**11, 10**12)),
                   "upi_txn": wire.new_id("UPI")[4:].upper()})

    def _customer_answers(self, ns: str, p: Payment, outcome: Outcome | None,
                          expiry_minutes: int) -> None:
        """What the test customer does with the collect request, on the virtual clock:
        answer it after a moment (test VPAs and amounts) or let it expire."""
        now = self.engine.clock.now()
        if outcome is not None:
            answer = Complete(p.id, True) if outcome.is_approved else Complete(
                p.id, False, reason=outcome.reason, native_code=outcome.native_code)
            self.engine.schedule(self.provider, ns, answer, now + magic.APPROVAL_DELAY)
        self.engine.schedule(self.provider, ns, Expire(p.id), now + expiry_minutes * 60)

    async def retrieve_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        await self._read(request, ns, "retrieve")
        return _json(wire.payment(await self._payment(ns, request.match_info["id"])),
                     request)

    async def list_payments(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        params = self._query(request)
        await self._read(request, ns, "list")
        found = await self.store.list_payments(ns, provider=self.provider.name, limit=10_000)
        page = _page(found, params, created=lambda p: p.created)
        return _json(wire.collection([wire.payment(p) for p in page]), request)

    async def capture_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        params = await self._body(request, "capture_payment.request")
        p = await self._payment(ns, request.match_info["id"])
        if p.status is not Status.AUTHORIZED:
            raise wire.bad_request(
                "This payment has already been captured" if p.status in wire.CAPTURED else
                "Only payments which have been authorized and not yet captured can be "
                f"captured; this payment is {wire.payment_status(p)}.",
                field="id", source="NA", step="NA", reason="NA")
        if params["amount"] != p.amount_authorized:
            raise wire.bad_request(
                f"Capture amount must be equal to the amount authorized "
                f"({p.amount_authorized}).", field="amount")
        if _currency(params["currency"]) != p.currency:
            raise wire.bad_request(f"Currency should be same as payment currency "
                                   f"({p.currency}).", field="currency")
        result = await self._run(ns, Capture(p.id, params["amount"]), request, p)
        return _json(wire.payment(result.payment), request)

    # -- refunds -----------------------------------------------------------------------

    async def refund_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        params = await self._body(request, "refund_payment.request")
        pid = request.match_info["id"]

        async def run() -> web.Response:
            p = await self._payment(ns, pid)
            _check_refundable(p, params.get("amount"))
            cmd = RefundPayment(p.id, refund_id=wire.new_id("rfnd"),
                                amount=params.get("amount"), reason=params.get("receipt"),
                                metadata={str(k): str(v) for k, v in
                                          (params.get("notes") or {}).items()})
            result = await self._run(ns, cmd, request, p)
            assert result.refund is not None
            return _json(wire.refund(result.payment, result.refund), request)

        key = request.headers.get("X-Refund-Idempotency")
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise wire.bad_request(
                "The X-Refund-Idempotency key must be at least 10 characters long and "
                "contain only letters, digits, hyphens and underscores, e.g. a UUID.",
                field="X-Refund-Idempotency")
        fingerprint = "" if key is None else json_fingerprint(request, params)
        return await idempotent(
            self.store, ns, None if key is None else "rzp-refund:" + key, fingerprint,
            self.engine.clock.now(), run, replay_header=None,
            mismatch=lambda: wire.bad_request(
                "Different request with the same idempotency key has already been "
                "processed.", source="NA", step="NA", reason="NA"),
            in_flight=lambda: Conflict(
                "A request with this idempotency key is still being processed; retry "
                "it after a moment.", extra={"source": "NA", "step": "NA", "reason": "NA"}),
            render=lambda exc: self.provider.render_error(exc, request))

    async def retrieve_refund(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        await self._read(request, ns, "retrieve")
        rid = request.match_info["id"]
        pid = await self.store.resolve(ns, rid)
        p = await self.store.get(ns, pid) if pid else None
        r = p.refund(rid) if p is not None and p.provider == self.provider.name else None
        if p is None or r is None:
            raise wire.not_found()
        return _json(wire.refund(p, r), request)

    async def list_payment_refunds(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        await self._read(request, ns, "list")
        p = await self._payment(ns, request.match_info["id"])
        refunds = sorted(p.refunds, key=lambda r: -r.created)
        return _json(wire.collection([wire.refund(p, r) for r in refunds]), request)

    async def retrieve_payment_refund(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        await self._read(request, ns, "retrieve")
        p = await self._payment(ns, request.match_info["id"])
        r = p.refund(request.match_info["refund_id"])
        if r is None:
            raise wire.not_found("refund_id")
        return _json(wire.refund(p, r), request)

    async def list_refunds(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        params = self._query(request)
        await self._read(request, ns, "list")
        pays = await self.store.list_payments(ns, provider=self.provider.name, limit=10_000)
        found = sorted(((p, r) for p in pays for r in p.refunds), key=lambda pr: -pr[1].created)
        page = _page(found, params, created=lambda pr: pr[1].created)
        return _json(wire.collection([wire.refund(p, r) for p, r in page]), request)


def _check_refundable(p: Payment, amount: int | None) -> None:
    if p.status is Status.REFUNDED:
        raise wire.bad_request("The payment has been fully refunded already",
                               field="id", source="NA", step="NA", reason="NA")
    if p.status not in wire.CAPTURED:
        raise wire.bad_request(
            f"Only captured payments can be refunded; this payment is "
            f"{wire.payment_status(p)}.", field="id", source="NA", step="NA", reason="NA")
    if amount is not None and amount > p.amount_refundable:
        raise wire.bad_request(
            f"The refund amount provided is greater than amount captured: "
            f"{to_major(p.amount_refundable, p.currency)} {p.currency} can still be "
            "refunded.", field="amount")


def _currency(code: Any) -> str:
    try:
        return currency(str(code)).code
    except UnknownCurrency:
        raise wire.bad_request(f"The currency {code} is not supported. Use an ISO 4217 "
                               "code such as INR.", field="currency") from None


def _auto_capture(params: Mapping[str, Any]) -> bool:
    """`payment.capture` (current) or `payment_capture` (older); automatic unless
    either says otherwise."""
    payment = params.get("payment") or {}
    if "capture" in payment:
        return bool(payment["capture"] == "automatic")
    if "payment_capture" in params:
        return bool(params["payment_capture"])
    return True


def _expiry_minutes(value: Any) -> int:
    if value is None:
        return magic.DEFAULT_EXPIRY_MINUTES
    text = str(value)
    if not text.isdigit() or not \
            magic.MIN_EXPIRY_MINUTES <= int(text) <= magic.MAX_EXPIRY_MINUTES:
        raise wire.bad_request(
            f"upi.expiry_time must be a whole number of minutes between "
            f"{magic.MIN_EXPIRY_MINUTES} and {magic.MAX_EXPIRY_MINUTES}.",
            field="upi.expiry_time")
    return int(text)


def _page(items: Sequence[Any], params: Mapping[str, Any],
          created: Callable[[Any], float]) -> list[Any]:
    """Razorpay's `from`/`to` (unix seconds) and `skip`/`count` (default 10)."""
    if "from" in params or "to" in params:
        lo, hi = params.get("from", 0), params.get("to", float("inf"))
        items = [i for i in items if lo <= created(i) <= hi]
    skip = params.get("skip", 0)
    return list(items[skip:skip + params.get("count", 10)])


provider = RazorpayProvider()
