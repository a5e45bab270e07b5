"""Mollie's v2 Payments and Refunds API -> canonical commands, and back to Mollie's objects.

Every payment starts `open` with `_links.checkout` pointing at the hosted test checkout
(`/__hosted/mollie/checkout/{token}`) where the tester picks the final status, as in
Mollie's test mode; the shopper is then sent to `redirectUrl` (`cancelUrl` when
canceled). Open payments expire on the virtual clock after their method's documented
lifetime. Each status change Mollie reports (paid, failed, canceled, expired) and each
refund sends `id=tr_…` as a form POST to the payment's `webhookUrl`.

Scenarios meet a payment when it is created (operation `authorize`; `method` is the
Mollie method): `decline` creates it `failed` (a card payment shows the reason in
`details.failureReason`), `approve` creates it `paid`, `pending` creates it `pending`
until `after:` (then `paid`, or what `then:` says), and `requires_action` with
`then: {decline: …}` leaves it `open` and fails it when the shopper pays at the checkout.

LIMITATIONS (what of the real API this does not imitate):
- Endpoints: payments (create, get, list, update, cancel) and payment refunds (create,
  get, list). No Orders, Customers, Mandates, Subscriptions, Captures, Chargebacks,
  Methods, Payment links, Profiles, Settlements or the top-level `GET /v2/refunds`.
- Credentials: test API keys (`test_…`) only. Organization access tokens, OAuth and
  the `testmode` parameter are refused; live keys are refused.
- Methods: ideal, bancontact, creditcard, banktransfer, paypal, paysafecard, belfius,
  eps, kbc, przelewy24 (or a list of them, or none: the checkout then asks for one).
  Method-specific extras (`cardToken`, addresses, `billingEmail`) are accepted; only
  `issuer` (iDEAL, KBC) and `dueDate` (bank transfer) are checked and change anything.
- Recurring payments (`sequenceType` first/recurring), manual capture, Apple Pay,
  routing and application fees are not imitated. Per-method minimum and maximum
  amounts are not enforced beyond "more than zero".
- `include=details.qrCode` is accepted and adds nothing. `embed=refunds` works on
  `GET /v2/payments/{id}`.
- Refunds are created `pending` and stay so (Mollie settling them later is not
  imitated); canceling a refund is refused with a 422 that says so. Over-refunds are
  refused.
- Idempotency keys are honoured on POST only, as Mollie documents; kept until reset,
  not 24 hours.
- A payment without `webhookUrl` notifies the endpoint configured for `mollie` with
  `--webhook mollie=URL` (if any), as a stand-in for a profile-level webhook.
"""

from __future__ import annotations

import contextlib
import html
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson
from aiohttp import web

from paysandbox.core.commands import (
    Authorize,
    Command,
    Complete,
    Expire,
    Listing,
    RefundPayment,
    Result,
    Update,
    Void,
)
from paysandbox.core.money import format_amount
from paysandbox.core.outcomes import DeclineReason, Outcome, decline_reason
from paysandbox.core.payments import AmountExceeded, InvalidTransition, Payment, PaymentChanges
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, ResourceMissing, Unauthorized
from paysandbox.hosted import HOSTED_NAMESPACE, render_page
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
from paysandbox.providers.mollie import magic, wire
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.store.base import NotFound
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

PREFIX = "/mollie"
CHECKOUT_KIND = "mollie.checkout"
_KEY = re.compile(r"^test_\w+$")

Handler = Callable[[web.Request], Coroutine[Any, Any, web.Response]]

#: Mollie statuses that call the webhook (https://docs.mollie.com/overview/webhooks).
_NOTIFIED = frozenset({"paid", "failed", "canceled", "expired", "authorized"})


class MollieProvider:
    name = "mollie"
    title = "Mollie"
    hostnames: Mapping[str, str] = {"api.mollie.com": ""}
    webhooks: WebhookScheme = wire.MollieWebhooks()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def public_status(self, p: Payment) -> str:
        return wire.status(p)

    # -- plumbing --------------------------------------------------------------------

    def routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        api = _Api(self, engine)
        return [
            route("POST", "/v2/payments", api.create_payment),
            route("GET", "/v2/payments", api.list_payments),
            route("GET", "/v2/payments/{id}", api.get_payment),
            route("PATCH", "/v2/payments/{id}", api.update_payment),
            route("DELETE", "/v2/payments/{id}", api.cancel_payment),
            route("POST", "/v2/payments/{id}/refunds", api.create_refund),
            route("GET", "/v2/payments/{id}/refunds", api.list_refunds),
            route("GET", "/v2/payments/{id}/refunds/{refund}", api.get_refund),
            route("DELETE", "/v2/payments/{id}/refunds/{refund}", api.cancel_refund),
        ]

    def hosted_routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        page = _Checkout(self, engine)
        return [web.get("/checkout/{token}", page.show),
                web.post("/checkout/{token}", page.finish)]

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return _json(wire.error_body(error), request, status=error.status)

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        if isinstance(command, RefundPayment):
            type_ = "refund.created"
        else:
            now = wire.status(p)
            if now not in _NOTIFIED or (before is not None and wire.status(before) == now):
                return ()
            type_ = f"payment.{now}"
        at = p.history[-1].at if p.history else p.created
        pid = p.id
        return [Event(id=wire.new_id("evt", 14), provider=self.name, namespace=namespace,
                      type=type_, created=at, render=lambda: wire.webhook_body(pid),
                      url=p.extra.get("webhookUrl") or None)]


#: Every event type `events_for` can emit (each has a payload contract): a status
#: change Mollie notifies, or a refund.
EVENT_TYPES = frozenset({"refund.created", *(f"payment.{s}" for s in _NOTIFIED)})


def _json(obj: Any, request: web.Request, *, status: int = 200,
          headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(body=wire.dumps(obj), status=status, headers={
        "Content-Type": wire.CONTENT_TYPE, "X-Request-Id": request.get(REQUEST_ID, ""),
        **(headers or {})})


def api_base(request: web.Request) -> str:
    return api_url(request, PREFIX[1:], "/v2")


def checkout_url(request: web.Request, p: Payment) -> str | None:
    token = p.extra.get("checkout")
    return f"{request.scheme}://{request.host}/__hosted/mollie/checkout/{token}" \
        if token else None


def authenticate(request: web.Request) -> str:
    """The API key is the namespace: two keys never see each other's payments."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    key = value.strip() if scheme.lower() == "bearer" else ""
    if not key:
        raise Unauthorized(
            "Missing authentication, or failed to authenticate. Send your API key as "
            "'Authorization: Bearer test_…' (any test-mode key works here, for example "
            "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM).")
    if key.startswith("live_"):
        raise Unauthorized("Failed to authenticate: this simulator never accepts live API "
                           "keys (live_…). Use a test-mode key: test_ followed by letters "
                           "and digits.")
    if key.startswith("access_"):
        raise Unauthorized("Failed to authenticate: organization access tokens and OAuth "
                           "(access_…) are not imitated. Use a test-mode API key (test_…).")
    if not _KEY.match(key):
        shown = key[:9] + "…" if len(key) > 12 else key
        raise Unauthorized(f"Failed to authenticate: '{shown}' is not a Mollie API key. "
                           "Use a test-mode key: test_ followed by letters and digits.")
    request[NAMESPACE] = key = tenant(key)
    return key


# -- request bodies --------------------------------------------------------------------

_FORM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_FORM_PART = re.compile(r"\[([^\[\]]*)\]")


def parse_form(text: str) -> dict[str, Any]:
    """Mollie also takes form bodies, as its curl examples send them:
    `amount[currency]=EUR&amount[value]=10.00&method[]=ideal&metadata={"a":1}`."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        m = _FORM_KEY.match(key)
        if m is None:
            raise MollieError(f"Invalid parameter name in the form body: {key!r}.",
                              status=400)
        parts = [m.group(1), *_FORM_PART.findall(m.group(2))]
        appends = parts[-1] == "" and len(parts) > 1  # `method[]=ideal`
        if appends:
            parts.pop()
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise _form_clash(key, parts[0])
        last = parts[-1]
        if appends:
            listed = node.setdefault(last, [])
            if not isinstance(listed, list):
                raise _form_clash(key, parts[0])
            listed.append(value)
        elif last in node:
            raise _form_clash(key, parts[0])
        else:
            node[last] = value
    if isinstance(root.get("metadata"), str):  # the docs send metadata as JSON text
        with contextlib.suppress(orjson.JSONDecodeError):
            root["metadata"] = orjson.loads(root["metadata"])
    return root


def _form_clash(key: str, field: str) -> MollieError:
    return MollieError(f"The form parameter {key!r} is given twice, or both as a value and "
                       "as an object.", field=field, status=400)


async def read_body(request: web.Request, contract: str) -> dict[str, Any]:
    raw = await request.read()
    request[RAW_BODY] = raw
    data: Any = {}
    ctype = request.content_type
    if raw.strip():
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MollieError("The request body is not valid UTF-8. Encode the JSON body "
                              "as UTF-8.", status=400) from None
        if ctype == "application/json" or ctype.endswith("+json"):
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise MollieError(f"The request body is not valid JSON: {exc}. Send a JSON "
                                  'object, for example {"amount": {"currency": "EUR", '
                                  '"value": "10.00"}, …}.', status=400) from None
        elif ctype == "application/x-www-form-urlencoded":
            data = parse_form(text)
        else:
            raise MollieError(f"Unsupported Media Type: the API takes JSON (Content-Type: "
                              f"application/json), not {ctype or 'an unnamed type'}.",
                              status=415)
    if not isinstance(data, dict):
        raise MollieError("The request body must be a JSON object, not "
                          f"{type(data).__name__}.", status=400)
    wire.validate(data, contract)
    return data


def read_query(request: web.Request, contract: str) -> dict[str, Any]:
    data: dict[str, Any] = dict(request.query)
    if "limit" in data:
        try:
            data["limit"] = int(data["limit"])
        except ValueError:
            raise MollieError(f"The 'limit' parameter must be a number from 1 to 250, not "
                              f"{data['limit']!r}.", field="limit", status=400) from None
    if "testmode" in data:
        raise MollieError("The 'testmode' parameter is only for organization access tokens "
                          "and OAuth; with a test API key every payment is a test payment.",
                          field="testmode", status=400)
    try:
        wire.validate(data, contract)
    except MollieError as exc:
        exc.status = 400
        raise
    return data


def _url(value: Any, field: str, label: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MollieError(f"The {label} is invalid: {value!r}. Use an absolute http(s) URL, "
                          "for example https://webshop.example.org/order/12345/.", field=field)
    return str(value)


def _metadata(value: Any) -> tuple[Any, dict[str, str]]:
    """Mollie keeps any JSON (about 1 kB); scenarios match on its scalar keys."""
    if value is not None and len(orjson.dumps(value)) > 1024:
        raise MollieError("The metadata is too large: Mollie keeps up to about 1 kB of "
                          "JSON with a payment.", field="metadata")
    flat = {str(k): str(v) for k, v in value.items()
            if isinstance(v, str | int | float | bool)} if isinstance(value, dict) else {}
    return value, flat


def _amount(data: Mapping[str, Any], where: str = "amount") -> tuple[int, str]:
    try:
        return wire.parse_amount(data[where], where)
    except wire.AmountError as exc:
        raise MollieError(str(exc), field=exc.field) from None


def _issuer(method: str | None, issuer: str | None) -> str | None:
    if issuer is None:
        return None
    known: Mapping[str, str] = magic.IDEAL_ISSUERS if method == "ideal" else \
        {"kbc": "KBC", "cbc": "CBC"} if method == "kbc" else {}
    if not known:
        raise MollieError(f"The issuer parameter applies to iDEAL and KBC payments only, "
                          f"not to method {method!r}.", field="issuer")
    if issuer not in known:
        raise MollieError(f"The issuer is invalid: {issuer!r}. Use one of "
                          f"{', '.join(sorted(known))}.", field="issuer")
    return issuer


def _due_date(value: str | None, method: str | None, today: date) -> date | None:
    if value is None:
        return None
    if method != "banktransfer":
        raise MollieError("The dueDate parameter applies to bank transfer payments "
                          "(method banktransfer) only.", field="dueDate")
    try:
        due = date.fromisoformat(value)
    except ValueError:
        raise MollieError(f"The due date is invalid: {value!r}. Use YYYY-MM-DD.",
                          field="dueDate") from None
    first, last = today + timedelta(days=1), today + timedelta(days=101)
    if not first <= due <= last:
        raise MollieError(f"The due date must be between {first} and {last} (tomorrow up "
                          "to 100 days after tomorrow).", field="dueDate")
    return due


def _methods(value: Any, currency: str) -> tuple[str | None, list[str]]:
    """`method` as a string (that method), a list (a choice among them) or absent."""
    names = [value] if isinstance(value, str) else list(value or [])
    for name in names:
        if name not in magic.METHODS:
            raise MollieError(f"The payment method is invalid: {name!r}. This simulator "
                              f"imitates {', '.join(sorted(magic.METHODS))}.", field="method")
    usable = [n for n in names if magic.METHODS[n].accepts(currency)]
    if names and not usable:
        method = magic.METHODS[names[0]]
        takes = ", ".join(sorted(method.currencies or ()))
        raise MollieError(f"The currency {currency} is not supported by the payment method "
                          f"{method.title} ({method.id} takes {takes}).",
                          field="amount.currency")
    return (value if isinstance(value, str) else None), usable


# -- the API ---------------------------------------------------------------------------

class _Api:
    """The request handlers; one instance per app."""

    def __init__(self, provider: MollieProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine
        self.store = engine.store

    async def _read(self, request: web.Request, ns: str, operation: str) -> None:
        """Reads meet scenarios here (latency, faults); commands meet them in the engine."""
        await self.engine.intercept(self.provider, ns, Listing(""), scenario_facts(
            request, self.provider.name, operation=operation))

    async def _once(self, request: web.Request, ns: str, body: Mapping[str, Any],
                    run: Callable[[], Coroutine[Any, Any, web.Response]]) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        fingerprint = "" if key is None else json_fingerprint(request, body)
        return await idempotent(
            self.store, ns, key, fingerprint, self.engine.clock.now(), run,
            replay_header="Idempotent-Replayed",
            mismatch=lambda: MollieError(
                f"The idempotency key {key!r} was already used for another request (another "
                "endpoint or other parameters). Use a new key for a new request.",
                status=400),
            in_flight=lambda: Conflict(
                f"A request with the idempotency key {key!r} is still being processed. "
                "Retry in a moment with the same key."),
            render=lambda exc: self.provider.render_error(exc, request))

    def _webhook_url(self, value: Any) -> str | None:
        """Mollie refuses a webhook URL it cannot reach; here, one the operator has not
        allowed webhooks to go to."""
        url = _url(value, "webhookUrl", "webhook URL")
        refusal = None if url is None else self.engine.dispatcher.destinations.url_refusal(url)
        if refusal is not None:
            raise MollieError("The webhook URL is invalid because it is unreachable from "
                              f"Mollie's point of view: destination not allowed: {refusal}",
                              field="webhookUrl")
        return url

    async def _payment(self, ns: str, pid: str) -> Payment:
        p = await self.store.get(ns, pid)
        if p is None or p.provider != "mollie":
            raise ResourceMissing(f"No payment exists with token {pid}.")
        return p

    async def _run(self, ns: str, command: Command, request: web.Request, p: Payment,
                   *, amount: int | None = None) -> Result:
        facts = payment_facts(request, self.provider.name, p, amount=amount,
                              method=p.method or None)
        try:
            return await self.engine.execute(self.provider, ns, command, facts)
        except NotFound:
            raise ResourceMissing(f"No payment exists with token {command.payment_id}.") \
                from None
        except InvalidTransition as exc:
            raise MollieError(f"The payment {exc.payment.id} cannot be changed this way: its "
                              f"status is {wire.status(exc.payment)}.") from None
        except AmountExceeded as exc:
            raise MollieError(
                f"The amount is higher than the amount remaining on the payment: "
                f"{_major(exc.requested, exc.payment)} requested, "
                f"{_major(exc.available, exc.payment)} remaining.",
                field="amount.value") from None

    def _respond(self, request: web.Request, p: Payment, *, status: int = 200,
                 refunds: Sequence[Any] | None = None) -> web.Response:
        return _json(wire.payment(p, api_base(request), refunds=refunds,
                                  checkout=checkout_url(request, p)), request, status=status)

    # -- payments ----------------------------------------------------------------------

    async def create_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        data = await read_body(request, "create_payment.request")
        amount, currency = _amount(data)
        method, usable = _methods(data.get("method"), currency)
        today = self.engine.clock.now_datetime().date()
        extra: dict[str, Any] = {
            "method": method,
            "methods": usable,
            "issuer": _issuer(method, data.get("issuer")),
            "redirectUrl": _url(data["redirectUrl"], "redirectUrl", "redirect URL"),
            "cancelUrl": _url(data.get("cancelUrl"), "cancelUrl", "cancel URL"),
            "webhookUrl": self._webhook_url(data.get("webhookUrl")),
            "locale": data.get("locale"),
            "restrictPaymentMethodsToCountry": data.get("restrictPaymentMethodsToCountry"),
            "billingEmail": data.get("billingEmail"),
        }
        due = _due_date(data.get("dueDate"), method, today)
        raw_meta, flat_meta = _metadata(data.get("metadata"))

        async def run() -> web.Response:
            now = self.engine.clock.now()
            pid = wire.new_id("tr")
            token = secrets.token_urlsafe(16)
            payment = Payment(
                id=pid, namespace=ns, provider="mollie", amount=amount, currency=currency,
                created=now, method=method or "", metadata=flat_meta,
                description=str(data["description"])[:255],
                extra={**extra, "metadata": raw_meta, "checkout": token,
                       "expiresAt": magic.expires_at(method, now, due)})
            result = await self._run(ns, Authorize(pid, Outcome.requires_action("redirect"),
                                                   create=payment), request, payment)
            p = result.payment
            if wire.status(p) in ("open", "pending"):
                await self.store.put_object(HOSTED_NAMESPACE, CHECKOUT_KIND, token,
                                            {"namespace": ns, "payment_id": pid})
                self.engine.schedule(self.provider, ns, Expire(pid), p.extra["expiresAt"])
            return self._respond(request, p, status=201)
        return await self._once(request, ns, data, run)

    async def get_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        query = read_query(request, "get.request")
        await self._read(request, ns, "retrieve")
        p = await self._payment(ns, request.match_info["id"])
        embed = query.get("embed", "").split(",")
        return self._respond(request, p,
                             refunds=list(reversed(p.refunds)) if "refunds" in embed else None)

    async def list_payments(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        query = read_query(request, "list.request")
        await self._read(request, ns, "list")
        found = await self.store.list_payments(ns, provider="mollie", limit=100_000)
        base = api_base(request)
        page, nxt = _page(found, query, lambda p: p.id)
        items = [wire.payment(p, base, checkout=checkout_url(request, p)) for p in page]
        return _json(_listing("payments", items, request, f"{base}/payments", query, nxt,
                              "payments-api/list-payments"), request)

    async def update_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        data = await read_body(request, "update_payment.request")
        p = await self._payment(ns, request.match_info["id"])
        if wire.status(p) != "open":
            raise MollieError(f"The payment {p.id} cannot be updated: its status is "
                              f"{wire.status(p)}. Only open payments can be updated.")
        extra: dict[str, Any] = {}
        changes: dict[str, Any] = {"extra": extra}
        for key, label in (("redirectUrl", "redirect URL"), ("cancelUrl", "cancel URL")):
            if key in data:
                extra[key] = _url(data[key], key, label)
        if "webhookUrl" in data:
            extra["webhookUrl"] = self._webhook_url(data["webhookUrl"])
        for key in ("locale", "restrictPaymentMethodsToCountry"):
            if key in data:
                extra[key] = data[key]
        if "metadata" in data:
            extra["metadata"], changes["metadata"] = _metadata(data["metadata"])
        if "description" in data:
            changes["description"] = str(data["description"])[:255]
        result = await self._run(ns, Update(p.id, cast(PaymentChanges, changes)), request, p)
        return self._respond(request, result.payment)

    async def cancel_payment(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        p = await self._payment(ns, request.match_info["id"])
        if not wire.is_cancelable(p):
            why = f"its status is {wire.status(p)}" if wire.status(p) != "open" else \
                f"open {p.extra.get('method') or 'payments without a method'} payments " \
                "cannot be canceled by the merchant (only open bank transfer payments can)"
            raise MollieError(f"The payment {p.id} cannot be canceled: {why}. Check "
                              "isCancelable before canceling.")
        result = await self._run(ns, Void(p.id, "canceled by the merchant"), request, p)
        return self._respond(request, result.payment)

    # -- refunds -----------------------------------------------------------------------

    async def create_refund(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        data = await read_body(request, "create_refund.request")
        amount, currency = _amount(data)
        pid = request.match_info["id"]

        async def run() -> web.Response:
            p = await self._payment(ns, pid)
            if p.status not in wire.PAID:
                raise MollieError(f"The payment {p.id} cannot be refunded: its status is "
                                  f"{wire.status(p)}. Only paid payments can be refunded.")
            if currency != p.currency:
                raise MollieError(f"The refund currency {currency} differs from the "
                                  f"payment's ({p.currency}); refund in {p.currency}.",
                                  field="amount.currency")
            refund_id = wire.new_id("re")
            meta = {} if data.get("metadata") is None else \
                {wire.REFUND_METADATA: orjson.dumps(data["metadata"]).decode()}
            cmd = RefundPayment(p.id, refund_id=refund_id, amount=amount,
                                reason=data.get("description"), metadata=meta)
            result = await self._run(ns, cmd, request, p, amount=amount)
            assert result.refund is not None
            return _json(wire.refund(result.payment, result.refund, api_base(request)),
                         request, status=201)
        return await self._once(request, ns, data, run)

    async def get_refund(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        read_query(request, "get.request")
        await self._read(request, ns, "retrieve")
        p = await self._payment(ns, request.match_info["id"])
        refund_id = request.match_info["refund"]
        r = p.refund(refund_id)
        if r is None:
            raise ResourceMissing(f"No refund exists with token {refund_id}.")
        return _json(wire.refund(p, r, api_base(request)), request)

    async def list_refunds(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        query = read_query(request, "list.request")
        await self._read(request, ns, "list")
        p = await self._payment(ns, request.match_info["id"])
        base = api_base(request)
        page, nxt = _page(list(reversed(p.refunds)), query, lambda r: r.id)
        items = [wire.refund(p, r, base) for r in page]
        return _json(_listing("refunds", items, request, f"{base}/payments/{p.id}/refunds",
                              query, nxt, "refunds-api/list-refunds"), request)

    async def cancel_refund(self, request: web.Request) -> web.Response:
        ns = authenticate(request)
        p = await self._payment(ns, request.match_info["id"])
        if p.refund(request.match_info["refund"]) is None:
            raise ResourceMissing(f"No refund exists with token {request.match_info['refund']}.")
        raise MollieError("Canceling a refund is not imitated by this simulator: its refunds "
                          "are final once created.")


def _page(items: Sequence[Any], query: Mapping[str, Any],
          key: Callable[[Any], str]) -> tuple[list[Any], str | None]:
    """Mollie's cursor pagination: `from` (inclusive) and `limit` (default 50, max 250)."""
    limit = query.get("limit", 50)
    start = 0
    if "from" in query:
        ids = [key(i) for i in items]
        if query["from"] not in ids:
            raise MollieError(f"The 'from' parameter names no object in this list: "
                              f"{query['from']!r}.", field="from", status=400)
        start = ids.index(query["from"])
    page = list(items[start:start + limit])
    nxt = key(items[start + limit]) if start + limit < len(items) else None
    return page, nxt


def _listing(kind: str, items: list[dict[str, Any]], request: web.Request, url: str,
             query: Mapping[str, Any], nxt: str | None, doc: str) -> dict[str, Any]:
    self_href = url + ("?" + request.query_string if request.query_string else "")
    next_href = None
    if nxt is not None:
        next_href = url + "?" + urlencode({**{k: v for k, v in query.items()
                                              if k != "from"}, "from": nxt,
                                           "limit": query.get("limit", 50)})
    return wire.listing(kind, items, self_href=self_href, next_href=next_href,
                        doc=f"{wire.DOCS}/reference/v2/{doc}")


def _major(minor: int, p: Payment) -> str:
    m = wire.money(minor, p.currency)
    return f"{m['value']} {m['currency']}"


# -- the hosted test checkout ----------------------------------------------------------

#: What the checkout's "failed" button says for a card payment, by Mollie's reason.
_CARD_FAILURES: tuple[tuple[str, str], ...] = tuple(
    (reason.value, wire.codes()[reason.value]["failureReason"]) for reason in DeclineReason)


class _Checkout:
    """`/__hosted/mollie/checkout/{token}`: Mollie's test-mode payment screen. The tester
    picks the status; the shopper then goes to redirectUrl (cancelUrl when canceled)."""

    def __init__(self, provider: MollieProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine

    async def _lookup(self, request: web.Request) -> tuple[str, Payment]:
        record = await self.engine.store.get_object(HOSTED_NAMESPACE, CHECKOUT_KIND,
                                                    request.match_info["token"])
        p = None if record is None else \
            await self.engine.store.get(record["namespace"], record["payment_id"])
        if record is None or p is None:
            raise web.HTTPNotFound(text="This checkout link is unknown or was reset.")
        return record["namespace"], p

    async def show(self, request: web.Request) -> web.Response:
        _, p = await self._lookup(request)
        status = wire.status(p)
        if status != "open":
            return render_page("Payment finished", f"<p id='status'>Payment "
                               f"{html.escape(p.id)} is {html.escape(status)}.</p>",
                               self.provider.title)
        return render_page("Mollie test payment", self._form(request, p), self.provider.title)

    def _form(self, request: web.Request, p: Payment) -> str:
        method = p.extra.get("method")
        title = magic.METHODS[method].title if method else "Choose a payment method"
        lines = [f"<p>Pay <strong id='amount'>{html.escape(format_amount(p.amount, p.currency))}"
                 f"</strong> for <span id='description'>{html.escape(p.description or '')}"
                 f"</span></p>",
                 f"<p id='method'>{html.escape(title)}</p>"]
        issuer = p.extra.get("issuer")
        if issuer:
            name = magic.IDEAL_ISSUERS.get(issuer, issuer)
            lines.append(f"<p id='issuer'>{html.escape(name)}</p>")
        token = html.escape(request.match_info["token"])
        lines.append(f"<form method='post' action='/__hosted/mollie/checkout/{token}'>")
        if not method:
            choices = p.extra.get("methods") or [m.id for m in magic.METHODS.values()
                                                 if m.accepts(p.currency)]
            options = "".join(f"<option value='{html.escape(m)}'>"
                              f"{html.escape(magic.METHODS[m].title)}</option>"
                              for m in choices)
            lines.append(f"<p><label>Method <select id='choose-method' name='method'>"
                         f"{options}</select></label></p>")
        if method in (None, "creditcard"):
            options = "".join(f"<option value='{r}'>{html.escape(native)} ({r})</option>"
                              for r, native in _CARD_FAILURES)
            lines.append("<p><label>Card failure reason <select id='reason' name='reason'>"
                         f"{options}</select></label></p>")
        lines.append("<p><small>Test mode: select the status this payment ends with."
                     "</small></p>")
        lines += [f"<button id='{s}' name='status' value='{s}' type='submit'>"
                  f"{s.capitalize()}</button>" for s in magic.PAGE_CHOICES]
        lines.append("</form>")
        return "".join(lines)

    async def finish(self, request: web.Request) -> web.Response:
        ns, p = await self._lookup(request)
        form = await request.post()
        choice = str(form.get("status", ""))
        if choice not in magic.PAGE_CHOICES:
            return render_page("Unknown status", f"<p>Pick one of "
                               f"{', '.join(magic.PAGE_CHOICES)}.</p>",
                               self.provider.title, 400)
        chosen = str(form.get("method", "")) or None
        try:
            if chosen and not p.extra.get("method") and chosen in magic.METHODS:
                await self.engine.execute(self.provider, ns, Update(p.id, {
                    "method": chosen, "extra": {"method": chosen}}))
            result = await self.engine.execute(self.provider, ns,
                                               self._command(p.id, choice, form))
            p = result.payment
        except InvalidTransition:
            p = await self.engine.store.get(ns, p.id) or p  # finished already: show it
        target = p.extra.get("redirectUrl")
        if wire.status(p) == "canceled" and p.extra.get("cancelUrl"):
            target = p.extra["cancelUrl"]
        if target:
            raise web.HTTPSeeOther(target)
        return render_page("Payment finished", f"<p id='status'>Payment {html.escape(p.id)} "
                           f"is {html.escape(wire.status(p))}.</p>", self.provider.title)

    @staticmethod
    def _command(pid: str, choice: str, form: Mapping[str, Any]) -> Command:
        if choice == "paid":
            return Complete(pid, True)
        if choice == "canceled":
            return Void(pid, "canceled by the shopper")
        if choice == "expired":
            return Expire(pid)
        try:
            reason = decline_reason(str(form.get("reason") or "generic_decline"))
        except ValueError:
            reason = DeclineReason.GENERIC_DECLINE
        return Complete(pid, False, reason)


provider = MollieProvider()
