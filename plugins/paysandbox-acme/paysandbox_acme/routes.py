"""Acme Acquiring's API: /v1/payments, its captures and refunds.

An example of a provider that ships outside payments-sandbox: it declares a dialect and
routes, acts only through the seam's context, and brings its contracts and codes in its
own package. Nothing in payments-sandbox names it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web

from paysandbox.contracts import Violation
from paysandbox.core.cards import detect_brand, digits_only, luhn_valid
from paysandbox.core.commands import (
    Authorize,
    Capture,
    Command,
    RefundPayment,
    Result,
    Writes,
)
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    CardDetails,
    InvalidTransition,
    NoSuchPayment,
    Payment,
    PaymentChanges,
    Status,
)
from paysandbox.core.tenancy import tenant
from paysandbox.errors import ApiError, Conflict, InvalidRequest, ResourceMissing, Unauthorized
from paysandbox.objects import Objects
from paysandbox.providers.seam import Context, Route, json_fingerprint, op, provider_path
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme
from paysandbox_acme import wire

_KEY = re.compile(r"^acme_test_[A-Za-z0-9_]{1,64}$")

#: Acme's documented test cards and what they do (any other valid card is approved).
TEST_CARDS: Mapping[str, Outcome] = {
    "4000000000000002": Outcome.decline(DeclineReason.INSUFFICIENT_FUNDS),
    "4000000000000119": Outcome.decline(DeclineReason.DO_NOT_HONOR),
}


class AcmeDialect:
    idempotency_header = "Idempotency-Key"
    replay_header = "Idempotent-Replayed"

    def authenticate(self, request: web.Request) -> str:
        key = request.headers.get("X-Api-Key", "")
        if not _KEY.match(key):
            raise Unauthorized("Send your test API key in the X-Api-Key header, for "
                               "example X-Api-Key: acme_test_123.")
        return tenant(key)

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        if request.method != "POST":
            return {}
        try:
            body = await request.json()
        except ValueError:
            raise InvalidRequest("The body is not JSON: send a JSON object with "
                                 "Content-Type: application/json.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.")
        return body

    def invalid(self, violation: Violation) -> ApiError:
        return InvalidRequest(violation.message, param=violation.dotted or None,
                              code=f"invalid_{violation.kind}")

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        return web.Response(body=wire.dumps(body), status=status,
                            content_type="application/json")

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return self.respond(wire.error(error), request, error.status)

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        return (Conflict(f"Idempotency key {key!r} was used with another request.",
                         code="idempotency_key_reused", status=422),
                Conflict(f"A request with idempotency key {key!r} is still in progress; "
                         "retry it shortly.", code="idempotency_key_in_use"))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        return json_fingerprint(request.method, provider_path(request), params)


async def _payment(ctx: Context) -> Payment:
    p = await ctx.payment(ctx.path["id"])
    if p is None:
        raise ResourceMissing(f"No payment {ctx.path['id']!r}.", code="payment_not_found")
    return p


async def _run(ctx: Context, command: Command, p: Payment, **facts: Any) -> Result:
    try:
        return await ctx.execute(command, p, **facts)
    except NoSuchPayment:
        raise ResourceMissing(f"No payment {p.id!r}.", code="payment_not_found") from None
    except InvalidTransition as exc:
        raise Conflict(f"The payment is {wire.status(exc.payment)}: it cannot be "
                       f"{exc.action}d.", code="invalid_state") from None
    except AmountExceeded as exc:
        raise InvalidRequest(f"The amount {exc.requested} exceeds the {exc.available} "
                             f"available to {exc.action}.", param="amount",
                             code="amount_too_large") from None


async def create_payment(ctx: Context, params: dict[str, Any]) -> Any:
    card = params["card"]
    number = digits_only(card["number"])
    if not luhn_valid(number):
        raise InvalidRequest("The card number is not valid.", param="card.number",
                             code="invalid_card_number")
    details = CardDetails(brand=detect_brand(number).value, last4=number[-4:],
                          bin=number[:6], exp_month=card["expiry_month"],
                          exp_year=card["expiry_year"],
                          fingerprint=ctx.card_fingerprint(number))
    pay_id = wire.new_id("pay")
    p = Payment(id=pay_id, namespace=ctx.namespace, provider="acme",
                amount=params["amount"], currency=params["currency"].upper(),
                created=ctx.clock.now(), capture_manual=not params.get("capture", True),
                extra={"reference": params["reference"]})
    command = Authorize(pay_id, TEST_CARDS.get(number), PaymentChanges(card=details),
                        create=p, writes=Writes(aliases=(params["reference"],)))
    result = await _run(ctx, command, p, card=details)
    return wire.payment(result.payment)


async def get_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return wire.payment(await _payment(ctx))


async def capture_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await _payment(ctx)
    result = await _run(ctx, Capture(p.id, params.get("amount")), p,
                        amount=params.get("amount"))
    return wire.payment(result.payment)


async def refund_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await _payment(ctx)
    command = RefundPayment(p.id, refund_id=wire.new_id("ref"), amount=params.get("amount"))
    result = await _run(ctx, command, p, amount=params.get("amount"))
    return wire.payment(result.payment)


_EVENTS = {Status.AUTHORIZED: "payment.authorized", Status.CAPTURED: "payment.captured",
           Status.FAILED: "payment.declined", Status.PARTIALLY_REFUNDED: "payment.refunded",
           Status.REFUNDED: "payment.refunded"}


class AcmeProvider:
    name = "acme"
    title = "Acme Acquiring"
    hostnames: Mapping[str, str] = {}
    webhooks: WebhookScheme = wire.AcmeWebhooks()
    dialect = AcmeDialect()

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(_EVENTS.values())

    def base_url_hint(self) -> str:
        return ""

    def routes(self) -> Iterable[Route]:
        return [
            op("POST", "/v1/payments", create_payment),
            op("GET", "/v1/payments/{id}", get_payment, read="retrieve"),
            op("POST", "/v1/payments/{id}/capture", capture_payment),
            op("POST", "/v1/payments/{id}/refunds", refund_payment),
        ]

    async def webhook_endpoints(self, stored: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # configured by the platform's ops: PUT /__admin/webhooks/acme

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        if before is not None and before.status is p.status and \
                not isinstance(command, RefundPayment):
            return ()
        type_ = _EVENTS.get(p.status)
        if type_ is None:
            return ()
        eid = wire.new_id("evt")
        at = p.history[-1].at if p.history else p.created
        return [Event(id=eid, provider=self.name, namespace=namespace, type=type_,
                      created=at, render=lambda: wire.event(eid, type_, at, wire.payment(p)))]


provider = AcmeProvider()
