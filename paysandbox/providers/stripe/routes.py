"""Stripe's v1 paths -> canonical commands, and back to Stripe's objects.

LIMITATIONS (what of the real API this does not imitate):
- Objects: PaymentIntents, Charges (read), Refunds, PaymentMethods (cards), Events,
  WebhookEndpoints. No Customers, SetupIntents, Checkout Sessions, Connect
  (`Stripe-Account` is ignored), Billing, disputes or payouts.
- Payment methods are cards only; `automatic_payment_methods` is accepted and ignored.
- Parameters Stripe accepts but that change nothing here (payment_method_options,
  transfer_data, …) are accepted and ignored.
- `expand[]` supports `latest_charge` and `payment_method`; search endpoints and
  list pagination by `created` are not imitated (`limit`, `starting_after` are).
- Per-currency minimum amounts (Stripe's `amount_too_small`) are not enforced.
- A declined attempt keeps only its latest charge; earlier failed charges are not listed.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import re
import secrets
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import orjson
from aiohttp import web

from paysandbox.core import payments
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
    Create,
    Listing,
    RefundPayment,
    Result,
    Update,
    Void,
)
from paysandbox.core.money import UnknownCurrency, currency, to_major
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    CardDetails,
    InvalidTransition,
    Payment,
    Status,
)
from paysandbox.core.tenancy import tenant
from paysandbox.errors import (
    ApiError,
    Conflict,
    IdempotencyError,
    InvalidRequest,
    ResourceMissing,
    Unauthorized,
)
from paysandbox.hosted import register_challenge
from paysandbox.providers.base import (
    NAMESPACE,
    RAW_BODY,
    REQUEST_ID,
    idempotent,
    payment_facts,
    provider_path,
    route,
    scenario_facts,
)
from paysandbox.providers.stripe import magic, wire
from paysandbox.store.base import NotFound, Store
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

PM_KIND = "stripe.payment_method"
ENDPOINT_KIND = "stripe.webhook_endpoint"
_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]{1,247}$")

Handler = Callable[[web.Request], Coroutine[Any, Any, web.Response]]


class StripeProvider:
    name = "stripe"
    title = "Stripe"
    hostnames: Mapping[str, str] = {"api.stripe.com": ""}
    webhooks: WebhookScheme = wire.StripeWebhooks()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def public_status(self, p: Payment) -> str:
        return wire.pi_status(p)

    def return_url(self, p: Payment) -> str | None:
        """Where the shopper goes after a challenge, with the query Stripe appends.

        `redirect_status` says what became of the payment, not which button was
        pressed: a card can pass 3DS and still be declined."""
        url = p.extra.get("return_url")
        if not url:
            return None
        status = wire.pi_status(p)
        redirect = {"succeeded": "succeeded", "requires_capture": "succeeded",
                    "processing": "processing"}.get(status, "failed")
        query = urlencode({"payment_intent": p.id,
                           "payment_intent_client_secret": p.extra.get("client_secret", ""),
                           "redirect_status": redirect})
        return f"{url}{'&' if '?' in url else '?'}{query}"

    # -- plumbing --------------------------------------------------------------------

    def routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        api = _Api(self, engine)
        return [
            route("POST", "/v1/payment_intents", api.create_payment_intent),
            route("GET", "/v1/payment_intents", api.list_payment_intents),
            route("GET", "/v1/payment_intents/{id}", api.retrieve_payment_intent),
            route("POST", "/v1/payment_intents/{id}", api.update_payment_intent),
            route("POST", "/v1/payment_intents/{id}/confirm", api.confirm_payment_intent),
            route("POST", "/v1/payment_intents/{id}/capture", api.capture_payment_intent),
            route("POST", "/v1/payment_intents/{id}/cancel", api.cancel_payment_intent),
            route("GET", "/v1/charges/{id}", api.retrieve_charge),
            route("POST", "/v1/refunds", api.create_refund),
            route("GET", "/v1/refunds", api.list_refunds),
            route("GET", "/v1/refunds/{id}", api.retrieve_refund),
            route("POST", "/v1/payment_methods", api.create_payment_method),
            route("GET", "/v1/payment_methods/{id}", api.retrieve_payment_method),
            route("POST", "/v1/webhook_endpoints", api.create_webhook_endpoint),
            route("GET", "/v1/webhook_endpoints", api.list_webhook_endpoints),
            route("GET", "/v1/webhook_endpoints/{id}", api.retrieve_webhook_endpoint),
            route("DELETE", "/v1/webhook_endpoints/{id}", api.delete_webhook_endpoint),
            route("GET", "/v1/events", api.list_events),
            route("GET", "/v1/events/{id}", api.retrieve_event),
        ]

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return _json(wire.error_body(error), request, status=error.status)

    async def webhook_endpoints(self, store: Store, namespace: str) -> Sequence[Endpoint]:
        return [Endpoint(url=r["url"], secret=r["secret"], provider=self.name,
                         namespace=namespace, events=frozenset(r["enabled_events"]),
                         id=r["id"])
                for r in await store.list_objects(namespace, ENDPOINT_KIND)]

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        types: list[tuple[str, str]] = []  # (event type, object kind)
        if before is None:
            types.append(("payment_intent.created", "pi"))
        if isinstance(command, Capture):
            types += [("charge.captured", "ch"), ("payment_intent.succeeded", "pi")]
        elif isinstance(command, Void):
            types.append(("payment_intent.canceled", "pi"))
        elif isinstance(command, RefundPayment):
            types += [("refund.created", "re"), ("charge.refunded", "ch")]
        elif before is None or before.status is not p.status:
            types += _ATTEMPT_EVENTS.get(p.status, [])
        refund = result.refund
        now = p.history[-1].at if p.history else p.created

        def render(kind: str) -> Callable[[], dict[str, Any]]:
            if kind == "pi":
                return lambda: wire.payment_intent(p)
            if kind == "ch":
                return lambda: wire.charge(p)
            assert refund is not None
            return lambda: wire.refund(p, refund)

        events = []
        for type_, kind in types:
            eid = wire.new_id("evt")
            obj = render(kind)
            events.append(Event(
                id=eid, provider=self.name, namespace=namespace, type=type_, created=now,
                render=lambda eid=eid, type_=type_, obj=obj: wire.dumps(  # type: ignore[misc]
                    wire.event(eid, type_, now, obj(), None, None))))
        return events


_ATTEMPT_EVENTS: dict[Status, list[tuple[str, str]]] = {
    Status.REQUIRES_ACTION: [("payment_intent.requires_action", "pi")],
    Status.AUTHORIZED: [("charge.succeeded", "ch"),
                        ("payment_intent.amount_capturable_updated", "pi")],
    Status.CAPTURED: [("charge.succeeded", "ch"), ("payment_intent.succeeded", "pi")],
    Status.FAILED: [("charge.failed", "ch"), ("payment_intent.payment_failed", "pi")],
    Status.PENDING: [("payment_intent.processing", "pi")],
}

#: Every event type `events_for` can emit (each has a payload contract).
EVENT_TYPES = frozenset({
    "payment_intent.created", "charge.captured", "payment_intent.succeeded",
    "payment_intent.canceled", "refund.created", "charge.refunded",
    *(t for pairs in _ATTEMPT_EVENTS.values() for t, _ in pairs)})


def _json(obj: Any, request: web.Request, *, status: int = 200) -> web.Response:
    headers = {
        "Content-Type": "application/json",
        "Request-Id": "req_" + request.get(REQUEST_ID, ""),
        "Stripe-Version": request.headers.get("Stripe-Version", wire.API_VERSION),
    }
    key = request.headers.get("Idempotency-Key")
    if key is not None:  # Stripe echoes it; stripe-node reads it from the response
        headers["Idempotency-Key"] = key
    return web.Response(body=wire.dumps(obj), status=status, headers=headers)


def authenticate(request: web.Request) -> str:
    """The API key is the namespace: two keys never see each other's objects."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except ValueError:  # not base64, not UTF-8, or not ASCII at all
            key = ""
    if not header:
        raise Unauthorized(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "sk_test_123'). This simulator accepts any test-mode key (sk_test_… or "
            "rk_test_…).")
    if not _KEY.match(key):
        shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
        live = key.startswith(("sk_live_", "rk_live_"))
        raise Unauthorized(
            f"Invalid API Key provided: {shown or '(empty)'}. "
            + ("This simulator never accepts live-mode keys; use a sk_test_… key."
               if live else "Use a test-mode secret key, for example sk_test_123."))
    request[NAMESPACE] = key = tenant(key)
    return key


class _Api:
    """The request handlers; one instance per app."""

    def __init__(self, provider: StripeProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine
        self.store = engine.store

    # -- shared steps ----------------------------------------------------------------

    async def _params(self, request: web.Request, contract: str) -> tuple[str, dict[str, Any]]:
        ns = authenticate(request)
        params = await self._read(request, contract)
        operation = _READS.get(contract)
        if operation is not None:  # commands meet scenarios in the engine; reads here
            await self.engine.intercept(self.provider, ns, Listing(""), scenario_facts(
                request, self.provider.name, operation=operation))
        expandable = _EXPANDABLE.get(contract, ())
        for path in params.get("expand", ()):
            if path not in expandable:
                raise InvalidRequest(f"This property cannot be expanded ({path}).",
                                     param="expand")
        return ns, params

    async def _read(self, request: web.Request, contract: str) -> dict[str, Any]:
        if request.method == "GET" or request.method == "DELETE":
            return wire.parse_params(request.query_string, contract)
        raw = await request.read()
        request[RAW_BODY] = raw
        ctype = request.content_type
        if raw and ctype not in ("application/x-www-form-urlencoded", "application/octet-stream"):
            raise InvalidRequest(
                f"Invalid request: Stripe's API takes form-encoded bodies "
                f"(Content-Type: application/x-www-form-urlencoded), not {ctype}. For "
                "example: amount=2000&currency=usd&metadata[order_id]=6735")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRequest("Invalid request: the body is not valid UTF-8. Encode "
                                 "parameters as UTF-8 and percent-encode them.") from None
        params = wire.parse_params(text, contract)
        if request.query_string:  # Stripe reads parameters from the query string too
            params = {**wire.parse_params(request.query_string, contract), **params}
        return params

    async def _once(self, request: web.Request, ns: str, run: Callable[[], Coroutine[
            Any, Any, web.Response]]) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        fingerprint = "" if key is None else _fingerprint(request)
        return await idempotent(
            self.store, ns, key, fingerprint, self.engine.clock.now(), run,
            replay_header="Idempotent-Replayed",
            mismatch=lambda: IdempotencyError(
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you "
                "meant to execute a different request."),
            in_flight=lambda: Conflict(
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still "
                "going through): " + str(key) + ". Please try again later.",
                code="idempotency_key_in_use"),
            render=lambda exc: self.provider.render_error(exc, request))

    async def _payment(self, ns: str, pi_id: str, param: str = "intent") -> Payment:
        p = await self.store.get(ns, pi_id)
        if p is None or p.provider != "stripe":
            raise ResourceMissing(f"No such payment_intent: '{pi_id}'", param=param,
                                  code="resource_missing")
        return p

    async def _run(self, ns: str, command: Command, request: web.Request, p: Payment,
                   *, card: CardDetails | None = None, amount: int | None = None) -> Result:
        """Execute a command, telling scenarios what they can match on."""
        facts = payment_facts(request, self.provider.name, p, amount=amount, card=card)
        try:
            return await self.engine.execute(self.provider, ns, command, facts)
        except NotFound:
            raise ResourceMissing(f"No such payment_intent: '{command.payment_id}'",
                                  param="intent", code="resource_missing") from None
        except InvalidTransition as exc:
            raise _state_error(exc) from None
        except AmountExceeded as exc:
            raise _amount_error(exc) from None

    async def _respond(self, request: web.Request, ns: str, p: Payment,
                       params: Mapping[str, Any]) -> web.Response:
        """A PaymentIntent with what `expand[]` asked for embedded."""
        expand = params.get("expand", ())
        pm = None
        if "payment_method" in expand and p.extra.get("payment_method"):
            record = await self.store.get_object(ns, PM_KIND, p.extra["payment_method"])
            pm = wire.payment_method(record) if record else None
        return _json(wire.payment_intent(p, pm=pm, expand=expand), request)

    # -- payment methods ---------------------------------------------------------------

    def _test_expiry_year(self) -> int:
        """Test tokens carry a card that expires in a couple of years, as Stripe's do."""
        return _year_of(int(self.engine.clock.now()) // 86400) + 2

    async def _resolve_pm(self, ns: str, params: Mapping[str, Any],
                          current: str | None) -> tuple[Mapping[str, Any], Outcome] | None:
        """The payment method a confirmation uses and the outcome it is wired to."""
        pm_id = params.get("payment_method")
        data = params.get("payment_method_data")
        if data is not None:
            return await self._pm_from_data(ns, data, "payment_method_data")
        if pm_id is None:
            pm_id = current
        if pm_id is None:
            return None
        return await self._pm_by_id(ns, pm_id, "payment_method")

    async def _pm_by_id(self, ns: str, pm_id: str, param: str) \
            -> tuple[Mapping[str, Any], Outcome]:
        test = magic.card_for_alias(pm_id)
        if test is not None:  # like Stripe, each use of a test token makes a new method
            record = await self._save_pm(ns, test.number, 12, self._test_expiry_year(), test, None)
            return record, test.outcome
        stored = await self.store.get_object(ns, PM_KIND, pm_id)
        if stored is None:
            raise ResourceMissing(f"No such PaymentMethod: '{pm_id}'", param=param,
                                  code="resource_missing")
        known = magic.BY_NUMBER.get(stored.get("magic", ""))
        return stored, (known.outcome if known else Outcome.approve())

    async def _pm_from_data(self, ns: str, data: Mapping[str, Any], param: str) \
            -> tuple[Mapping[str, Any], Outcome]:
        kind = data.get("type")
        if kind != "card":
            raise InvalidRequest(
                f"Invalid {param}[type]: this simulator imitates card payment methods only "
                "(type=card).", param=f"{param}[type]", code="parameter_invalid_string")
        card = data.get("card")
        if not isinstance(card, Mapping):
            raise InvalidRequest(f"Missing required param: {param}[card].",
                                 param=f"{param}[card]", code="parameter_missing")
        token = card.get("token")
        if token:
            return await self._pm_by_id(ns, str(token), f"{param}[card][token]")
        for field in ("number", "exp_month", "exp_year"):
            if card.get(field) in (None, ""):
                raise InvalidRequest(f"Missing required param: {param}[card][{field}].",
                                     param=f"{param}[card][{field}]", code="parameter_missing")
        number = digits_only(str(card["number"]))
        if not luhn_valid(number):
            raise wire.CardError("Your card number is incorrect.", param="number",
                                 code="incorrect_number")
        month, year = int(card["exp_month"]), int(card["exp_year"])
        if not 1 <= month <= 12:
            raise wire.CardError("Your card's expiration month is invalid.",
                                 param="exp_month", code="invalid_expiry_month")
        year = year + 2000 if 0 <= year < 100 else year
        if not 0 <= year <= 9999 or is_expired(month, year, self.engine.clock.now_datetime()):
            raise wire.CardError("Your card's expiration year is invalid.",
                                 param="exp_year", code="invalid_expiry_year")
        test = magic.card_for_number(number)
        assert test is not None
        record = await self._save_pm(ns, number, month, year, test, data)
        return record, test.outcome

    async def _save_pm(self, ns: str, number: str, month: int, year: int,
                       test: magic.TestCard, data: Mapping[str, Any] | None) -> Mapping[str, Any]:
        pm_id = wire.new_id("pm")
        record = {
            "id": pm_id,
            "created": self.engine.clock.now_int(),
            "magic": number if number in magic.BY_NUMBER else "",
            "billing_details": wire.billing_details((data or {}).get("billing_details")),
            "metadata": dict((data or {}).get("metadata") or {}),
            "card": _card_facts(number, month, year, test.funding, test.country,
                                self.engine.fingerprint_key),
        }
        await self.store.put_object(ns, PM_KIND, pm_id, record)
        return record

    async def create_payment_method(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "create_payment_method.request")
        params = {**params, "type": params.get("type", "card")}

        async def run() -> web.Response:
            record, _ = await self._pm_from_data(ns, params, "card")
            return _json(wire.payment_method(record), request)
        return await self._once(request, ns, run)

    async def retrieve_payment_method(self, request: web.Request) -> web.Response:
        ns, _ = await self._params(request, "retrieve.request")
        pm_id = request.match_info["id"]
        test = magic.card_for_alias(pm_id)
        if test is not None:
            token = {"id": pm_id, "created": self.engine.clock.now_int(), "card": {
                "brand": test.brand.value, "last4": test.number[-4:], "exp_month": 12,
                "exp_year": self._test_expiry_year(), "funding": test.funding,
                "country": test.country,
                "fingerprint": card_fingerprint(test.number, self.engine.fingerprint_key)}}
            return _json(wire.payment_method(token), request)
        stored = await self.store.get_object(ns, PM_KIND, pm_id)
        if stored is None:
            raise ResourceMissing(f"No such PaymentMethod: '{pm_id}'", param="payment_method",
                                  code="resource_missing")
        return _json(wire.payment_method(stored), request)

    # -- payment intents -----------------------------------------------------------------

    async def create_payment_intent(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "create_payment_intent.request")
        code = _currency(params["currency"])

        async def run() -> web.Response:
            now = self.engine.clock.now()
            pi_id = wire.new_id("pi")
            capture = params.get("capture_method", "automatic_async")
            payment = Payment(
                id=pi_id, namespace=ns, provider="stripe", amount=params["amount"],
                currency=code, created=now, capture_manual=capture == "manual",
                metadata=_metadata({}, params.get("metadata")),
                description=params.get("description") or None,
                extra={"client_secret": f"{pi_id}_secret_{secrets.token_hex(12)}",
                       **_extra(params),
                       "payment_method_types": params.get("payment_method_types", ["card"])})
            if not params.get("confirm"):
                pm = params.get("payment_method")
                if pm is not None:
                    record, _ = await self._pm_by_id(ns, pm, "payment_method")
                    payment = _with_extra(payment, payment_method=record["id"])
                result = await self._run(ns, Create(pi_id, payment), request, payment)
                return await self._respond(request, ns, result.payment, params)
            return await self._confirm(request, ns, payment, params, create=True)
        return await self._once(request, ns, run)

    async def confirm_payment_intent(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "confirm_payment_intent.request")

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["id"])
            secret = params.get("client_secret")
            if secret is not None and secret != p.extra.get("client_secret"):
                raise InvalidRequest(
                    "The client_secret provided does not match the client_secret associated "
                    f"with the PaymentIntent. Use {p.id}'s own client_secret.",
                    param="client_secret", code="payment_intent_invalid_parameter")
            if p.status not in payments.ATTEMPTABLE:
                raise _state_error(InvalidTransition(p, "confirm", payments.ATTEMPTABLE))
            return await self._confirm(request, ns, p, params, create=False)
        return await self._once(request, ns, run)

    async def _confirm(self, request: web.Request, ns: str, p: Payment,
                       params: Mapping[str, Any], *, create: bool) -> web.Response:
        resolved = await self._resolve_pm(ns, params, p.extra.get("payment_method"))
        if resolved is None:
            if create:
                await self._run(ns, Create(p.id, p), request, p)
            raise InvalidRequest(
                "You cannot confirm this PaymentIntent because it's missing a payment "
                "method. Pass payment_method (for example pm_card_visa) or "
                "payment_method_data, or update the PaymentIntent with one first.",
                param="payment_method", code="payment_intent_unexpected_state")
        record, outcome = resolved
        await self.store.link(ns, record["id"], p.id)
        charge_id = "ch_" + p.id[3:]
        token = secrets.token_urlsafe(16)
        capture = params.get("capture_method")
        changes: dict[str, Any] = {
            "card": wire.card_of(record),
            "extra": {"payment_method": record["id"], "charge": charge_id,
                      "billing_details": record.get("billing_details"),
                      "charge_created": self.engine.clock.now(),
                      "action_url": f"{request.scheme}://{request.host}/__hosted/3ds/{token}",
                      **_extra(params)},
        }
        if capture is not None:
            changes["capture_manual"] = capture == "manual"
        result = await self._run(ns, Authorize(p.id, outcome, changes,
                                               create=p if create else None), request, p,
                                 card=changes["card"])
        await self.store.link(ns, charge_id, p.id)
        after = result.payment
        if after.status is Status.REQUIRES_ACTION:
            await register_challenge(self.store, token, provider="stripe", namespace=ns,
                                     payment_id=p.id)
        if after.status is Status.FAILED:
            pm = wire.payment_method(record)
            f = wire.decline_fields(after)
            err = wire.last_payment_error(after, pm) or {}
            if f["code"] == "payment_intent_authentication_failure":
                raise InvalidRequest(f["message"], code=f["code"], extra={
                    "payment_intent": wire.payment_intent(after), "payment_method": pm})
            raise wire.CardError(f["message"], code=f["code"], param=f.get("param"), extra={
                **({"decline_code": err["decline_code"]} if "decline_code" in err else {}),
                "charge": charge_id, "payment_intent": wire.payment_intent(after),
                "payment_method": pm})
        return await self._respond(request, ns, after, params)

    async def retrieve_payment_intent(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "retrieve.request")
        p = await self._payment(ns, request.match_info["id"])
        return await self._respond(request, ns, p, params)

    async def update_payment_intent(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "update_payment_intent.request")

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["id"])
            changes: dict[str, Any] = {"extra": _extra(params)}
            if "amount" in params:
                changes["amount"] = params["amount"]
            if "currency" in params:
                changes["currency"] = _currency(params["currency"])
            if "metadata" in params:
                changes["metadata"] = _metadata(p.metadata, params["metadata"])
            if "description" in params:
                changes["description"] = params["description"] or None  # "" unsets
            if "capture_method" in params:
                changes["capture_manual"] = params["capture_method"] == "manual"
            if "payment_method" in params:
                record, _ = await self._pm_by_id(ns, params["payment_method"], "payment_method")
                changes["extra"]["payment_method"] = record["id"]
            details_only = set(params) <= _UPDATABLE_IN_ANY_STATUS
            result = await self._run(ns, Update(p.id, changes, details_only=details_only),
                                     request, p, amount=changes.get("amount"))
            return await self._respond(request, ns, result.payment, params)
        return await self._once(request, ns, run)

    async def capture_payment_intent(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "capture_payment_intent.request")

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["id"])
            result = await self._run(ns, Capture(p.id, params.get("amount_to_capture")),
                                     request, p, amount=params.get("amount_to_capture"))
            return await self._respond(request, ns, result.payment, params)
        return await self._once(request, ns, run)

    async def cancel_payment_intent(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "cancel_payment_intent.request")

        async def run() -> web.Response:
            p = await self._payment(ns, request.match_info["id"])
            result = await self._run(ns, Void(p.id, params.get("cancellation_reason")),
                                     request, p)
            return await self._respond(request, ns, result.payment, params)
        return await self._once(request, ns, run)

    async def list_payment_intents(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "list_payment_intents.request")
        found = await self.store.list_payments(ns, provider="stripe", limit=10_000)
        page, more = _page(found, params, key=lambda p: p.id)
        return _json(wire.listing("/v1/payment_intents",
                                  [wire.payment_intent(p) for p in page], more), request)

    async def retrieve_charge(self, request: web.Request) -> web.Response:
        ns, _ = await self._params(request, "retrieve.request")
        ch_id = request.match_info["id"]
        pid = await self.store.resolve(ns, ch_id)
        p = await self.store.get(ns, pid) if pid else None
        if p is None or p.extra.get("charge") != ch_id:
            raise ResourceMissing(f"No such charge: '{ch_id}'", param="id",
                                  code="resource_missing")
        return _json(wire.charge(p), request)

    # -- refunds -------------------------------------------------------------------------

    async def create_refund(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "create_refund.request")
        target = params.get("payment_intent") or params.get("charge")
        if not target:
            raise InvalidRequest("One of the following params should be provided for this "
                                 "request: payment_intent or charge.",
                                 param="payment_intent", code="parameter_missing")

        async def run() -> web.Response:
            pid = target
            if "charge" in params and "payment_intent" not in params:
                pid = await self.store.resolve(ns, target) or ""
                if not pid:
                    raise ResourceMissing(f"No such charge: '{target}'", param="charge",
                                          code="resource_missing")
            p = await self._payment(ns, pid, "payment_intent")
            if p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED) and \
                    params.get("amount", 0) > p.amount_refundable:
                raise InvalidRequest(
                    f"Refund amount ({_money(params['amount'], p.currency)}) is greater than "
                    f"unrefunded amount on charge ({_money(p.amount_refundable, p.currency)})",
                    param="amount", code="amount_too_large")
            if p.status is Status.REFUNDED:
                raise InvalidRequest(f"Charge {p.extra.get('charge')} has already been "
                                     "refunded.", code="charge_already_refunded")
            if p.status not in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
                raise InvalidRequest(
                    f"This PaymentIntent ({p.id}) does not have a successful charge to "
                    f"refund: its status is {wire.pi_status(p)}.", param="payment_intent",
                    code="charge_not_refundable" if p.status is not Status.AUTHORIZED
                    else "charge_not_captured")
            refund_id = wire.new_id("re")
            cmd = RefundPayment(p.id, refund_id=refund_id, amount=params.get("amount"),
                                reason=params.get("reason"),
                                metadata=_metadata({}, params.get("metadata")))
            result = await self._run(ns, cmd, request, p, amount=params.get("amount"))
            assert result.refund is not None
            return _json(wire.refund(result.payment, result.refund), request)
        return await self._once(request, ns, run)

    async def retrieve_refund(self, request: web.Request) -> web.Response:
        ns, _ = await self._params(request, "retrieve.request")
        re_id = request.match_info["id"]
        pid = await self.store.resolve(ns, re_id)
        p = await self.store.get(ns, pid) if pid else None
        r = p.refund(re_id) if p else None
        if p is None or r is None:
            raise ResourceMissing(f"No such refund: '{re_id}'", param="id",
                                  code="resource_missing")
        return _json(wire.refund(p, r), request)

    async def list_refunds(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "list_refunds.request")
        if "payment_intent" in params:
            pays = [await self._payment(ns, params["payment_intent"], "payment_intent")]
        elif "charge" in params:
            pid = await self.store.resolve(ns, params["charge"])
            pays = [await self._payment(ns, pid or params["charge"], "charge")]
        else:
            pays = await self.store.list_payments(ns, provider="stripe", limit=10_000)
        found = sorted(((p, r) for p in pays for r in p.refunds),
                       key=lambda pr: pr[1].created, reverse=True)
        page, more = _page(found, params, key=lambda pr: pr[1].id)
        return _json(wire.listing("/v1/refunds", [wire.refund(p, r) for p, r in page], more),
                     request)

    # -- webhook endpoints and events ----------------------------------------------------

    async def create_webhook_endpoint(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "create_webhook_endpoint.request")
        url = params["url"]
        if not url.startswith(("http://", "https://")):
            raise InvalidRequest(f"Invalid URL: {url}. Use an absolute http(s) URL, for "
                                 "example http://127.0.0.1:8000/webhooks/stripe.", param="url",
                                 code="url_invalid")
        refusal = self.engine.dispatcher.destinations.url_refusal(url)
        if refusal is not None:
            raise InvalidRequest(f"Invalid URL: destination not allowed: {refusal}.",
                                 param="url", code="url_invalid")

        async def run() -> web.Response:
            record = {
                "id": wire.new_id("we"), "object": "webhook_endpoint",
                "api_version": params.get("api_version"), "application": None,
                "created": self.engine.clock.now_int(),
                "description": params.get("description"),
                "enabled_events": list(params["enabled_events"]), "livemode": False,
                "metadata": dict(params.get("metadata") or {}),
                "secret": "whsec_" + secrets.token_hex(16), "status": "enabled", "url": url,
            }
            await self.store.put_object(ns, ENDPOINT_KIND, record["id"], record)
            return _json(record, request)
        return await self._once(request, ns, run)

    async def list_webhook_endpoints(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "list_payment_intents.request")
        found = [_public_endpoint(r) for r in await self.store.list_objects(ns, ENDPOINT_KIND)]
        page, more = _page(found[::-1], params, key=lambda r: r["id"])
        return _json(wire.listing("/v1/webhook_endpoints", page, more), request)

    async def _endpoint(self, ns: str, we_id: str) -> Mapping[str, Any]:
        record = await self.store.get_object(ns, ENDPOINT_KIND, we_id)
        if record is None:
            raise ResourceMissing(f"No such webhook endpoint: '{we_id}'", param="id",
                                  code="resource_missing")
        return record

    async def retrieve_webhook_endpoint(self, request: web.Request) -> web.Response:
        ns, _ = await self._params(request, "retrieve.request")
        return _json(_public_endpoint(await self._endpoint(ns, request.match_info["id"])),
                     request)

    async def delete_webhook_endpoint(self, request: web.Request) -> web.Response:
        ns, _ = await self._params(request, "retrieve.request")
        we_id = request.match_info["id"]
        await self._endpoint(ns, we_id)
        await self.store.delete_object(ns, ENDPOINT_KIND, we_id)
        return _json({"id": we_id, "object": "webhook_endpoint", "deleted": True}, request)

    async def list_events(self, request: web.Request) -> web.Response:
        ns, params = await self._params(request, "list_events.request")
        wanted = set(params.get("types") or ([params["type"]] if "type" in params else []))
        found = [e for e in await self.store.events(ns, provider="stripe", limit=10_000)
                 if not wanted or e.type in wanted]
        page, more = _page(found, params, key=lambda e: e.id)
        return _json(wire.listing("/v1/events", [_event_json(e) for e in page], more), request)

    async def retrieve_event(self, request: web.Request) -> web.Response:
        ns, _ = await self._params(request, "retrieve.request")
        evt_id = request.match_info["id"]
        for e in await self.store.events(ns, provider="stripe", limit=10_000):
            if e.id == evt_id:
                return _json(_event_json(e), request)
        raise ResourceMissing(f"No such event: '{evt_id}'", param="id", code="resource_missing")


@functools.lru_cache(maxsize=4096)
def _card_facts(number: str, month: int, year: int, funding: str,
                country: str, key: bytes) -> Mapping[str, Any]:
    """What a payment method shows of its card: computed once per card, shared by every
    payment method made from it, so never mutated."""
    return {
        "brand": detect_brand(number).value, "last4": number[-4:], "bin": number[:6],
        "exp_month": month, "exp_year": year, "funding": funding, "country": country,
        "fingerprint": card_fingerprint(number, key),
        "checks": {"address_line1_check": None, "address_postal_code_check": None,
                   "cvc_check": "pass"}}


@functools.lru_cache(maxsize=64)
def _year_of(day: int) -> int:
    return datetime.fromtimestamp(day * 86400, UTC).year


def _fingerprint(request: web.Request) -> str:
    """The same parameters in any order are the same request (Stripe compares
    parameters, not bytes)."""
    pairs = sorted(parse_qsl(request.get(RAW_BODY, b"").decode("utf-8", "replace"),
                             keep_blank_values=True))
    return hashlib.sha256(
        f"{request.method} {provider_path(request)} {pairs!r}".encode()).hexdigest()


def _event_json(e: Event) -> Any:
    return orjson.Fragment(e.body)


def _public_endpoint(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "secret"}


def _page(items: Sequence[Any], params: Mapping[str, Any],
          key: Callable[[Any], str]) -> tuple[list[Any], bool]:
    limit = params.get("limit", 10)
    start = 0
    after = params.get("starting_after")
    if after:
        ids = [key(i) for i in items]
        if after not in ids:
            raise InvalidRequest(f"No such object: '{after}'", param="starting_after",
                                 code="resource_missing")
        start = ids.index(after) + 1
    page = list(items[start:start + limit])
    return page, start + limit < len(items)


def _currency(code: str) -> str:
    try:
        return currency(code).code
    except UnknownCurrency as exc:
        raise InvalidRequest(f"Invalid currency: {code.lower()}. {exc}".rstrip(),
                             param="currency", code="parameter_invalid_string") from None


def _metadata(current: Mapping[str, str], given: Mapping[str, str] | None) -> dict[str, str]:
    """Stripe merges metadata on update; an empty value removes a key, and `metadata=`
    (an empty hash) removes them all."""
    if given is not None and not given:
        return {}
    out = dict(current)
    for k, v in (given or {}).items():
        if v == "":
            out.pop(k, None)
        else:
            out[k] = v
    return out


#: Requests that change no payment, as scenarios name their operation.
_READS: dict[str, str] = {
    "retrieve.request": "retrieve",
    "list_payment_intents.request": "list",
    "list_refunds.request": "list",
    "list_events.request": "list",
    "create_payment_method.request": "create",
    "create_webhook_endpoint.request": "create",
}

_PI_EXPANSIONS = ("latest_charge", "payment_method")
_EXPANDABLE: dict[str, tuple[str, ...]] = {
    name: _PI_EXPANSIONS for name in (
        "create_payment_intent.request", "update_payment_intent.request",
        "confirm_payment_intent.request", "capture_payment_intent.request",
        "cancel_payment_intent.request", "retrieve.request")}

_EXTRA = ("customer", "receipt_email", "return_url", "setup_future_usage",
          "statement_descriptor", "capture_method", "confirmation_method",
          "automatic_payment_methods", "shipping")

#: What Stripe lets an update change whatever the PaymentIntent's status (its API
#: reference: these never need a new confirmation), so an order id can be attached after
#: the payment succeeded. Anything else (amount, currency, payment_method, …) only
#: before the payment is confirmed.
_UPDATABLE_IN_ANY_STATUS = frozenset({"metadata", "description", "receipt_email", "shipping",
                                      "expand"})


def _extra(params: Mapping[str, Any]) -> dict[str, Any]:
    """Details kept beside the payment; an empty value (`receipt_email=`) unsets one, and
    Stripe shows an unset field as null, never as ""."""
    return {k: (None if params[k] in ("", {}) else params[k]) for k in _EXTRA if k in params}


def _with_extra(p: Payment, **extra: Any) -> Payment:
    return dataclasses.replace(p, extra={**p.extra, **extra})


def _money(amount: int, code: str) -> str:
    return f"{to_major(amount, code)} {code.lower()}"


_STRIPE_STATUSES = {
    "capture": ("captured", ["requires_capture"]),
    "void": ("canceled", ["requires_payment_method", "requires_capture",
                          "requires_confirmation", "requires_action", "processing"]),
    "confirm": ("confirmed", ["requires_payment_method", "requires_confirmation"]),
    "update": ("updated", ["requires_payment_method", "requires_confirmation",
                           "requires_action"]),
    "complete": ("authenticated", ["requires_action"]),
    "refund": ("refunded", ["succeeded"]),
}


def _state_error(exc: InvalidTransition) -> InvalidRequest:
    verb, allowed = _STRIPE_STATUSES.get(exc.action, (exc.action, []))
    status = wire.pi_status(exc.payment)
    if exc.action == "void":
        msg = (f"You cannot cancel this PaymentIntent because it has a status of {status}. "
               "Only a PaymentIntent with one of the following statuses may be canceled: "
               f"{', '.join(allowed)}.")
    else:
        msg = (f"This PaymentIntent could not be {verb} because it has a status of {status}. "
               "Only a PaymentIntent with one of the following statuses may be "
               f"{verb}: {', '.join(allowed)}.")
    return InvalidRequest(msg, code="payment_intent_unexpected_state",
                          extra={"payment_intent": wire.payment_intent(exc.payment)})


def _amount_error(exc: AmountExceeded) -> InvalidRequest:
    if exc.action == "capture":
        return InvalidRequest(
            f"The amount_to_capture ({exc.requested}) must be less than or equal to the "
            f"PaymentIntent's amount_capturable ({exc.available}).",
            param="amount_to_capture", code="amount_too_large",
            extra={"payment_intent": wire.payment_intent(exc.payment)})
    return InvalidRequest(
        f"Refund amount ({exc.requested}) is greater than unrefunded amount on charge "
        f"({exc.available})", param="amount", code="amount_too_large")


provider = StripeProvider()
