"""Mercado Pago's Checkout API (/v1/payments, refunds, card tokens) -> canonical commands.

Cards pay at once (the cardholder name on the card token picks the outcome, as in
Mercado Pago's sandbox); PIX, boleto and OXXO are created `pending` with their QR code
or voucher and are paid on a hosted page (`ticket_url` / `external_resource_url`),
through `POST /__admin/payments/{id}/complete`, or expire on the virtual clock.

LIMITATIONS (what of the real API this does not imitate):
- Resources: payments, refunds and card tokens only. No Orders API, preferences
  (Checkout Pro), customers and saved cards, merchant orders, disbursements,
  chargebacks, subscriptions or Point.
- The currency comes from the payment method (PIX and boleto BRL, OXXO MXN); cards
  take `currency_id` (a legacy field) or else BRL: the simulator has no account site.
- Card tokens are made with the access token (`POST /v1/card_tokens`, as the SDKs do);
  the browser flow with a `public_key` (MercadoPago.js, Bricks) is not imitated. A
  token's brand is not checked against `payment_method_id`.
- `binary_mode`, `application_fee`, installments pricing, fees (`fee_details`) and
  3DS (`three_d_secure_mode`) are accepted and change nothing.
- Search supports `external_reference`, `status`, `id`, `payment_method_id`,
  `payment_type_id`, `sort`, `criteria`, `limit` and `offset`; date ranges (`range`,
  `begin_date`, `end_date`) are refused with a 400 rather than ignored.
- An authorization not captured is cancelled after 7 virtual days (the period varies
  by country at Mercado Pago).
- Cause codes follow the create-payment reference where it lists one (1, 8, 23,
  2006, 2062, 4020, 4292); others (2000 payment not found, 4037 amount, and state
  errors) are the ones Mercado Pago is seen to answer, not a published table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

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
    Expire,
    Listing,
    RefundPayment,
    Result,
    Void,
)
from paysandbox.core.money import UnknownCurrency, currency, to_major
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    CardDetails,
    InvalidTransition,
    Payment,
    PaymentChanges,
    Status,
)
from paysandbox.core.tenancy import tenant
from paysandbox.errors import (
    ApiError,
    Conflict,
    InvalidRequest,
    ResourceMissing,
    Unauthorized,
)
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
from paysandbox.providers.mercadopago import boleto, magic, pages, pix, wire
from paysandbox.store.base import NotFound
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

TOKEN_KIND = "mercadopago.card_token"
_TOKEN = re.compile(r"^TEST-[A-Za-z0-9_-]{1,250}$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")

#: Documented defaults: PIX 24 hours; boleto and OXXO vouchers 3 days.
DEFAULT_EXPIRY = {"pix": 24 * 3600.0, "boleto": 3 * 86400.0, "oxxo": 3 * 86400.0}
PIX_MIN, PIX_MAX = 30 * 60.0, 30 * 86400.0
AUTHORIZATION_HOLD = 7 * 86400.0
CARD_TOKEN_TTL = 7 * 86400.0
_BRT = timezone(timedelta(hours=-3))


class MercadoPagoProvider:
    name = "mercadopago"
    title = "Mercado Pago"
    hostnames: Mapping[str, str] = {"api.mercadopago.com": ""}
    # Its API answers a path ending in `/` as the same request, and its Node SDK lists
    # refunds that way (GET /v1/payments/{id}/refunds/).
    trailing_slash = True
    webhooks: WebhookScheme = wire.MercadoPagoWebhooks()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def public_status(self, p: Payment) -> str:
        return wire.status(p)[0]

    def routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        api = _Api(self, engine)
        return [
            route("POST", "/v1/payments", api.create_payment),
            route("GET", "/v1/payments/search", api.search_payments),
            route("GET", "/v1/payments/{id}", api.get_payment),
            route("PUT", "/v1/payments/{id}", api.update_payment),
            route("POST", "/v1/payments/{id}/refunds", api.create_refund),
            route("GET", "/v1/payments/{id}/refunds", api.list_refunds),
            route("GET", "/v1/payments/{id}/refunds/{refund_id}", api.get_refund),
            route("POST", "/v1/card_tokens", api.create_card_token),
            route("GET", "/v1/card_tokens/{id}", api.get_card_token),
        ]

    def hosted_routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        return pages.routes(self, engine)

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return _json(wire.error_body(error), request, status=error.status)

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # Mercado Pago's webhooks are configured in its dashboard

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        action = _ACTIONS[before is None]
        eid = wire.new_id()
        now = p.history[-1].at if p.history else p.created
        user_id = int(p.extra.get("collector_id", 0))
        return [Event(id=str(eid), provider=self.name, namespace=namespace, type=action,
                      created=now, url=p.extra.get("notification_url"),
                      render=lambda: wire.dumps(wire.notification(eid, action, p.id, now,
                                                                  user_id)))]


#: A notification's `action`, by whether the change created the payment.
_ACTIONS: Mapping[bool, str] = {True: "payment.created", False: "payment.updated"}

#: Every notification action `events_for` can send (each has a payload contract).
EVENT_TYPES = frozenset(_ACTIONS.values())


def _json(obj: Any, request: web.Request, *, status: int = 200) -> web.Response:
    return web.Response(body=wire.dumps(obj), status=status, headers={
        "Content-Type": "application/json;charset=UTF-8",
        "x-request-id": request.get(REQUEST_ID, ""),
    })


def user_id(token: str) -> int:
    """The account a test token belongs to: its last segment, as Mercado Pago's tokens
    end with the user id; otherwise a stable number derived from the token."""
    last = token.rsplit("-", 1)[-1]
    if last.isdigit() and 0 < len(last) <= 12:
        return int(last)
    return int(hashlib.sha256(token.encode()).hexdigest()[:12], 16) % 10**9


def authenticate(request: web.Request) -> str:
    """The access token is the namespace: two tokens never see each other's payments."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else ""
    if not header and "access_token" in request.query:  # the legacy query parameter
        token = request.query["access_token"]
    if not token:
        raise Unauthorized(
            "unauthorized: no access token. Send your test access token as "
            "'Authorization: Bearer TEST-…' (for example mercadopago.SDK('TEST-123-4567')).",
            code="401")
    if not _TOKEN.match(token):
        shown = token[:10] + "…" if len(token) > 10 else token
        live = token.startswith("APP_USR-")
        raise Unauthorized(
            f"invalid access token {shown!r}. "
            + ("This simulator accepts test access tokens only (TEST-…), never production "
               "credentials." if live else "Use a test access token such as "
               "TEST-1234567890123456-010203-abcdef-123456789."), code="401")
    request[NAMESPACE] = token = tenant(token)
    return token


class _Api:
    """The request handlers; one instance per app."""

    def __init__(self, provider: MercadoPagoProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine
        self.store = engine.store

    # -- shared steps ------------------------------------------------------------------

    async def _body(self, request: web.Request, contract: str) -> tuple[str, dict[str, Any]]:
        ns = authenticate(request)
        raw = await request.read()
        request[RAW_BODY] = raw
        return ns, wire.parse_body(raw, request.content_type, contract)

    async def _read(self, request: web.Request, operation: str) -> str:
        """Authenticate a read and let scenarios act on it."""
        ns = authenticate(request)
        await self.engine.intercept(self.provider, ns, Listing(""), scenario_facts(
            request, self.provider.name, operation=operation))
        return ns

    async def _once(self, request: web.Request, ns: str, params: Mapping[str, Any],
                    run: Callable[[], Coroutine[Any, Any, web.Response]]) -> web.Response:
        key = request.headers.get("X-Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 64:
            raise InvalidRequest("Header X-Idempotency-Key must be 1 to 64 characters long; "
                                 "use a UUID v4.", code="4292")
        fingerprint = "" if key is None else json_fingerprint(request, params)
        return await idempotent(
            self.store, ns, key, fingerprint, self.engine.clock.now(), run,
            replay_header=None,
            mismatch=lambda: InvalidRequest(
                f"X-Idempotency-Key '{key}' was already used with a different request. Use "
                "a new key (a UUID v4) for each new operation.", code="4292"),
            in_flight=lambda: Conflict(
                f"A request with X-Idempotency-Key '{key}' is still being processed; retry "
                "it once that request has finished.", code="409"),
            render=lambda exc: self.provider.render_error(exc, request))

    async def _payment(self, ns: str, raw_id: str) -> Payment:
        if not raw_id.isdigit():
            raise InvalidRequest(f"Invalid payment id {raw_id!r}: Mercado Pago's payment ids "
                                 "are numbers, for example 1234567890.", code="1")
        p = await self.store.get(ns, raw_id)
        if p is None or p.provider != "mercadopago":
            raise _not_found("Payment")
        return p

    async def _run(self, ns: str, command: Command, request: web.Request, p: Payment,
                   *, amount: int | None = None) -> Result:
        """Execute a command, telling scenarios what they can match on."""
        facts = payment_facts(request, self.provider.name, p, amount=amount)
        try:
            return await self.engine.execute(self.provider, ns, command, facts)
        except NotFound:
            raise _not_found("Payment") from None
        except InvalidTransition as exc:
            raise _state_error(exc) from None
        except AmountExceeded as exc:
            raise _amount_error(exc) from None

    # -- payments ----------------------------------------------------------------------

    async def create_payment(self, request: web.Request) -> web.Response:
        ns, params = await self._body(request, "create_payment.request")
        if not request.headers.get("X-Idempotency-Key"):
            raise InvalidRequest(
                "Header X-Idempotency-Key can't be null. Send a unique key (a UUID v4) with "
                "every payment creation; the official SDKs send one for you.", code="4292")
        method_id = params["payment_method_id"]
        known = wire.METHODS.get(method_id)
        if known is None:
            raise InvalidRequest(
                f"Invalid payment_method_id {method_id!r}. Use one of: "
                f"{', '.join(sorted(wire.METHODS))}.", param="payment_method_id", code="1")
        type_id, fixed, method = known
        code = _currency(params.get("currency_id"), fixed, method_id)
        minor = wire.to_minor(params["transaction_amount"], code)
        url = params.get("notification_url")
        if url is not None and not _URL.match(url):
            raise InvalidRequest("notificaction_url attribute must be url valid",
                                 param="notification_url", code="4020")
        refusal = None if url is None else \
            self.engine.dispatcher.destinations.url_refusal(url)
        if refusal is not None:
            raise InvalidRequest("notificaction_url attribute must be url valid: destination "
                                 f"not allowed: {refusal}", param="notification_url",
                                 code="4020")
        expires_at = self._expiry(params, method)

        async def run() -> web.Response:
            p = self._new_payment(ns, params, minor, code, method, type_id, expires_at)
            if method == "card":
                return await self._pay_by_card(request, ns, p, params)
            return await self._pay_later(request, ns, p)
        return await self._once(request, ns, params, run)

    def _expiry(self, params: Mapping[str, Any], method: str) -> float | None:
        if method == "card":
            return None
        now = self.engine.clock.now()
        given = params.get("date_of_expiration")
        if given is None:
            return now + DEFAULT_EXPIRY[method]
        at = wire.parse_date(given)
        if at <= now:
            raise InvalidRequest(f"date_of_expiration {given} is in the past; give a future "
                                 "date.", param="date_of_expiration", code="23")
        if method == "pix" and not PIX_MIN <= at - now <= PIX_MAX:
            raise InvalidRequest(
                f"date_of_expiration {given} is out of range: a PIX payment expires between "
                "30 minutes and 30 days after it is created.", param="date_of_expiration",
                code="23")
        return at

    def _new_payment(self, ns: str, params: Mapping[str, Any], minor: int, code: str,
                     method: str, type_id: str, expires_at: float | None) -> Payment:
        pid = str(wire.new_id())
        metadata = params.get("metadata") or {}
        extra: dict[str, Any] = {
            "payment_method_id": params["payment_method_id"], "payment_type_id": type_id,
            "payer": _payer(params["payer"]), "collector_id": user_id(ns),
            "metadata": metadata, "expires_at": expires_at,
            **{k: params[k] for k in ("external_reference", "notification_url", "callback_url",
                                      "statement_descriptor", "installments", "issuer_id",
                                      "binary_mode", "additional_info") if k in params},
        }
        return Payment(
            id=pid, namespace=ns, provider="mercadopago", amount=minor, currency=code,
            created=self.engine.clock.now(), capture_manual=params.get("capture") is False,
            metadata={str(k): str(v) for k, v in metadata.items()},
            description=params.get("description"), method=method, extra=extra)

    async def _pay_by_card(self, request: web.Request, ns: str, p: Payment,
                           params: Mapping[str, Any]) -> web.Response:
        token_id = params.get("token")
        if not token_id:
            raise InvalidRequest(
                f"token attribute can't be null: paying with {params['payment_method_id']} "
                "needs a card token. Create one with POST /v1/card_tokens.", param="token",
                code="1")
        record = await self.store.get_object(ns, TOKEN_KIND, token_id)
        if record is None:
            raise InvalidRequest(f"Card Token not found: {token_id}", param="token",
                                 code="2006")
        if record["_used"] or record["_due"] < self.engine.clock.now():
            raise InvalidRequest(
                f"Invalid card token {token_id}: a card token can be used once and for 7 "
                "days; create a new one.", param="token", code="2062")
        await self.store.put_object(ns, TOKEN_KIND, token_id, {**record, "_used": True})
        card = CardDetails(brand=record["_brand"], last4=record["last_four_digits"],
                           bin=record["first_six_digits"],
                           exp_month=record["expiration_month"],
                           exp_year=record["expiration_year"],
                           funding="debit" if params["payment_method_id"].startswith("deb")
                           else "credit", country="BR", fingerprint=record["_fingerprint"])
        now = wire.date(self.engine.clock.now())
        changes = PaymentChanges(card=card, extra={
            "authorization_code": f"{secrets.randbelow(10**6):06d}",
            "card": {"id": None, "first_six_digits": record["first_six_digits"],
                     "last_four_digits": record["last_four_digits"],
                     "expiration_month": record["expiration_month"],
                     "expiration_year": record["expiration_year"],
                     "date_created": now, "date_last_updated": now,
                     "cardholder": record["cardholder"]}})
        outcome = magic.outcome_for_cardholder(record["cardholder"].get("name"))
        p = dataclasses.replace(p, card=card)
        result = await self._run(ns, Authorize(p.id, outcome, changes, create=p), request, p)
        if result.payment.status is Status.AUTHORIZED:
            self.engine.schedule(self.provider, ns, Void(p.id, "expired"),
                                 self.engine.clock.now() + AUTHORIZATION_HOLD)
        return _json(wire.payment(result.payment), request, status=201)

    async def _pay_later(self, request: web.Request, ns: str, p: Payment) -> web.Response:
        """PIX, boleto, OXXO: pending with a QR code or voucher until paid or expired."""
        token = secrets.token_urlsafe(16)
        extra: dict[str, Any] = {
            "external_resource_url": f"{request.scheme}://{request.host}"
                                     f"{pages.PREFIX}/tickets/{token}"}
        extra.update(_voucher(p))
        result = await self._run(ns, Authorize(p.id, Outcome.pending(), {"extra": extra},
                                               create=p), request, p)
        await pages.register(self.store, token, namespace=ns, payment_id=p.id)
        at = p.extra["expires_at"]
        if result.payment.status is Status.PENDING and at is not None:
            self.engine.schedule(self.provider, ns, Expire(p.id), at)
        return _json(wire.payment(result.payment), request, status=201)

    async def get_payment(self, request: web.Request) -> web.Response:
        ns = await self._read(request, "retrieve")
        return _json(wire.payment(await self._payment(ns, request.match_info["id"])), request)

    async def update_payment(self, request: web.Request) -> web.Response:
        ns, params = await self._body(request, "update_payment.request")

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["id"])
            if params.get("status") == "cancelled":
                result = await self._run(ns, Void(p.id, "by_collector"), request, p)
            elif params.get("capture") is True:
                amount = params.get("transaction_amount")
                minor = None if amount is None else wire.to_minor(amount, p.currency)
                result = await self._run(ns, Capture(p.id, minor), request, p, amount=minor)
            else:
                raise InvalidRequest(
                    "Params Error: nothing to update. Send {\"status\": \"cancelled\"} to "
                    "cancel a pending or authorized payment, or {\"capture\": true} to capture "
                    "an authorized one.", code="1")
            return _json(wire.payment(result.payment), request)
        return await self._once(request, ns, params, run)

    async def search_payments(self, request: web.Request) -> web.Response:
        ns = await self._read(request, "list")
        params: dict[str, Any] = dict(request.query)
        for name in ("limit", "offset"):
            if name in params and re.fullmatch(r"-?\d{1,9}", params[name]):
                params[name] = int(params[name])
        params.pop("access_token", None)
        wire.validate(params, "search_payments.request")
        for unsupported in ("range", "begin_date", "end_date"):
            if unsupported in params:
                raise InvalidRequest(f"The simulator does not search by date ({unsupported}); "
                                     "filter by external_reference, status or id instead.",
                                     param=unsupported, code="1")
        found = [wire.payment(p) for p in await self.store.list_payments(
            ns, provider="mercadopago", limit=100_000)]
        for field in ("external_reference", "status", "payment_method_id", "payment_type_id"):
            if field in params:
                found = [r for r in found if r.get(field) == params[field]]
        if "id" in params:
            found = [r for r in found if str(r["id"]) == params["id"]]
        key = params.get("sort", "date_created")
        found.sort(key=lambda r: (r.get(key) is not None, r.get(key) or 0, r["id"]),
                   reverse=params.get("criteria", "desc") == "desc")
        limit, offset = params.get("limit", 30), params.get("offset", 0)
        return _json({"paging": {"total": len(found), "limit": limit, "offset": offset},
                      "results": found[offset:offset + limit]}, request)

    # -- refunds -------------------------------------------------------------------------

    async def create_refund(self, request: web.Request) -> web.Response:
        ns, params = await self._body(request, "create_refund.request")

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["id"])
            amount = params.get("amount")
            minor = None if amount is None else wire.to_minor(amount, p.currency)
            cmd = RefundPayment(p.id, refund_id=str(wire.new_id()), amount=minor,
                                metadata={str(k): str(v) for k, v in
                                          (params.get("metadata") or {}).items()})
            result = await self._run(ns, cmd, request, p, amount=minor)
            assert result.refund is not None
            return _json(wire.refund(result.payment, result.refund), request, status=201)
        return await self._once(request, ns, params, run)

    async def list_refunds(self, request: web.Request) -> web.Response:
        ns = await self._read(request, "list")
        p = await self._payment(ns, request.match_info["id"])
        return _json([wire.refund(p, r) for r in p.refunds], request)

    async def get_refund(self, request: web.Request) -> web.Response:
        ns = await self._read(request, "retrieve")
        p = await self._payment(ns, request.match_info["id"])
        r = p.refund(request.match_info["refund_id"])
        if r is None:
            raise _not_found("Refund")
        return _json(wire.refund(p, r), request)

    # -- card tokens ---------------------------------------------------------------------

    async def create_card_token(self, request: web.Request) -> web.Response:
        ns, params = await self._body(request, "create_card_token.request")
        number = digits_only(params["card_number"])
        if not luhn_valid(number):
            raise InvalidRequest("Invalid card_number: it fails the Luhn check. Use a test "
                                 "card, for example 5031 4332 1540 6351.",
                                 param="card_number", code="E301")
        month, year = _int(params["expiration_month"], "325"), _int(
            params["expiration_year"], "326")
        year = year + 2000 if year < 100 else year
        if not 1 <= month <= 12:
            raise InvalidRequest("Invalid expiration_month: use 1 to 12.",
                                 param="expiration_month", code="325")
        if is_expired(month, year, self.engine.clock.now_datetime()):
            raise InvalidRequest("Invalid expiration_year: the card has expired.",
                                 param="expiration_year", code="326")
        now = self.engine.clock.now()
        holder = params.get("cardholder") or {}
        token_id = secrets.token_hex(16)
        record = {
            "id": token_id, "public_key": None, "card_id": None,
            "luhn_validation": True, "status": "active", "live_mode": False,
            "require_esc": False, "date_used": None,
            "card_number_length": len(number),
            "security_code_length": len(params.get("security_code") or ""),
            "first_six_digits": number[:6], "last_four_digits": number[-4:],
            "expiration_month": month, "expiration_year": year,
            "cardholder": {"name": holder.get("name"), "identification": {
                k: v for k, v in (holder.get("identification") or {}).items()
                if k in ("type", "number")}},
            "date_created": wire.date(now), "date_last_updated": wire.date(now),
            "date_due": wire.date(now + CARD_TOKEN_TTL),
            "_brand": detect_brand(number).value, "_used": False,
            "_due": now + CARD_TOKEN_TTL,
            "_fingerprint": card_fingerprint(number, self.engine.fingerprint_key),
        }

        async def run() -> web.Response:
            await self.store.put_object(ns, TOKEN_KIND, token_id, record)
            return _json(wire.card_token(record), request, status=201)
        return await self._once(request, ns, params, run)

    async def get_card_token(self, request: web.Request) -> web.Response:
        ns = await self._read(request, "retrieve")
        record = await self.store.get_object(ns, TOKEN_KIND, request.match_info["id"])
        if record is None:
            raise _not_found("Card token")
        return _json(wire.card_token(record), request)


def _int(value: int | float | str, code: str) -> int:
    """A month or year as a number. JSON parsers read integers too large for 64 bits as
    floats, which a schema's `integer` still admits when they have no fraction."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 10_000:
        return int(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 4:
        return int(value)
    raise InvalidRequest(f"Invalid value {value!r}: expected a number.", code=code)


def _payer(given: Mapping[str, Any]) -> dict[str, Any]:
    ident = given.get("identification") or {}
    return {"id": None, "type": None, "entity_type": given.get("entity_type"),
            "email": given.get("email"), "first_name": given.get("first_name"),
            "last_name": given.get("last_name"),
            "identification": {"type": ident.get("type"), "number": ident.get("number")},
            "phone": {"area_code": None, "number": None, "extension": None},
            "operator_id": None}


def _currency(given: str | None, fixed: str | None, method_id: str) -> str:
    if fixed is not None and given is not None and given != fixed:
        raise InvalidRequest(f"Invalid currency_id {given}: {method_id} payments are in "
                             f"{fixed}.", param="currency_id", code="1")
    code = fixed or given or "BRL"
    try:
        currency(code)
    except UnknownCurrency:  # served past its contract (report mode): still unusable
        raise InvalidRequest(f"Invalid currency_id {code!r}: use one of ARS, BRL, CLP, COP, "
                             "MXN, PEN, UYU or USD.", param="currency_id", code="1") from None
    return code


def _voucher(p: Payment) -> dict[str, Any]:
    """What the payer needs to pay: a PIX code, a boleto's lines, an OXXO reference."""
    if p.method == "pix":
        code = pix.br_code(key=f"{p.extra['collector_id']}@sandbox.mercadopago.invalid",
                           amount=str(to_major(p.amount, p.currency)),
                           txid=f"MP{p.id}", merchant_name="Payments Sandbox",
                           merchant_city="Sao Paulo")
        return {"qr_code": code, "qr_code_base64": pix.qr_png_base64(code)}
    reference = f"{int(p.id) % 10**13:013d}"
    reference += str(boleto.mod10(reference))
    if p.method == "oxxo":
        return {"reference": reference, "barcode": reference}
    due = datetime.fromtimestamp(p.extra["expires_at"], _BRT).date()
    code = boleto.barcode(cents=p.amount, due=due,
                          free_field=boleto.bradesco_free_field(int(p.id)))
    return {"reference": reference, "barcode": code,
            "digitable_line": boleto.digitable_line(code)}


def _not_found(what: str) -> ResourceMissing:
    return ResourceMissing(f"{what} not found", code="2000")


_MP_ACTIONS = {"void": "cancelled", "capture": "captured", "refund": "refunded",
               "complete": "paid", "expire": "expired"}


def _state_error(exc: InvalidTransition) -> InvalidRequest:
    st, detail = wire.status(exc.payment)
    verb = _MP_ACTIONS.get(exc.action, exc.action)
    hint = {"void": "only pending, in_process and authorized payments can be cancelled",
            "capture": "only authorized payments (created with capture: false) can be "
                       "captured",
            "refund": "only approved payments can be refunded"}.get(exc.action, "")
    return InvalidRequest(
        f"The action requested is not valid for the current payment state: payment "
        f"{exc.payment.id} is {st} ({detail}) and cannot be {verb}"
        + (f"; {hint}." if hint else "."), code="2018")


def _amount_error(exc: AmountExceeded) -> InvalidRequest:
    p = exc.payment
    field = "transaction_amount" if exc.action == "capture" else "amount"
    return InvalidRequest(
        f"Invalid {field}: {wire.amount(exc.requested, p.currency)} is more than the "
        f"{wire.amount(exc.available, p.currency)} {p.currency} that can be "
        f"{'captured' if exc.action == 'capture' else 'refunded'}.", param=field,
        code="4037" if exc.action == "capture" else "2085")


provider = MercadoPagoProvider()
