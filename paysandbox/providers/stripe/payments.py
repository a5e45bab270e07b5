"""Stripe's PaymentIntents and Charges -> canonical commands, and back."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from typing import Any

from paysandbox.core import payments
from paysandbox.core.commands import (
    Authorize,
    Capture,
    Command,
    Create,
    Record,
    Result,
    Update,
    Void,
    Writes,
)
from paysandbox.core.payments import (
    AmountExceeded,
    CardDetails,
    InvalidTransition,
    NoSuchPayment,
    Payment,
    PaymentChanges,
    Status,
)
from paysandbox.errors import InvalidRequest
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import customers, disputes, magic, objects, saved, wire
from paysandbox.providers.stripe.errors import (
    amount_error,
    checked_currency,
    cursor_missing,
    metadata,
    missing,
    state_error,
)

_EXTRA = frozenset({"customer", "receipt_email", "return_url", "setup_future_usage",
          "statement_descriptor", "capture_method", "confirmation_method",
          "automatic_payment_methods", "shipping"})

#: What Stripe lets an update change whatever the PaymentIntent's status (its API
#: reference: these never need a new confirmation), so an order id can be attached after
#: the payment succeeded. Anything else (amount, currency, payment_method, …) only
#: before the payment is confirmed.
_UPDATABLE_IN_ANY_STATUS = frozenset({"metadata", "description", "receipt_email", "shipping",
                                      "expand"})


def _extra(params: Mapping[str, Any]) -> dict[str, Any]:
    """Details kept beside the payment; an empty value (`receipt_email=`) unsets one, and
    Stripe shows an unset field as null, never as ""."""
    return {k: (None if params[k] in ("", {}) else params[k]) for k in _EXTRA & params.keys()}


async def payment_intent(ctx: Context, pi_id: str, param: str = "intent") -> Payment:
    p = await ctx.payment(pi_id)
    if p is None or p.id.startswith("seti_"):
        raise missing("payment_intent", pi_id, param)
    return p


async def run(ctx: Context, command: Command, p: Payment, *, card: CardDetails | None = None,
              amount: int | None = None) -> Result:
    """Execute a command on PaymentIntent `p`, in Stripe's words when it is refused."""
    try:
        return await ctx.execute(command, p, amount=amount, card=card)
    except NoSuchPayment:
        raise missing("payment_intent", command.payment_id, "intent") from None
    except InvalidTransition as exc:
        raise state_error(exc) from None
    except AmountExceeded as exc:
        raise amount_error(exc) from None


async def _respond(ctx: Context, p: Payment, params: Mapping[str, Any]) -> Any:
    """A PaymentIntent with what `expand[]` asked for embedded."""
    expand = params.get("expand", ())
    pm = None
    if "payment_method" in expand and p.extra.get("payment_method"):
        record = await ctx.objects(objects.PAYMENT_METHODS).get(p.extra["payment_method"])
        pm = wire.payment_method(record) if record else None
    return wire.payment_intent(p, pm=pm, expand=expand)


def _saved(found: objects.Resolved, ctx: Context) -> tuple[Record, ...]:
    if not found.fresh:
        return ()
    return (ctx.objects(objects.PAYMENT_METHODS).record(found.record["id"], found.record),)


async def create_payment_intent(ctx: Context, params: dict[str, Any]) -> Any:
    code = checked_currency(params["currency"])
    if params.get("customer"):
        await customers.by_id(ctx, params["customer"])
    pi_id = wire.new_id("pi")
    capture = params.get("capture_method", "automatic_async")
    payment = Payment(
        id=pi_id, namespace=ctx.namespace, provider="stripe", amount=params["amount"],
        currency=code, created=ctx.clock.now(), capture_manual=capture == "manual",
        metadata=metadata({}, params.get("metadata")),
        description=params.get("description") or None,
        extra={"client_secret": f"{pi_id}_secret_{secrets.token_hex(12)}",
               **_extra(params),
               "payment_method_types": params.get("payment_method_types", ["card"])})
    if params.get("confirm"):
        return await _confirm(ctx, payment, params, create=True)
    writes: tuple[Record, ...] = ()
    if params.get("payment_method") is not None:
        found = await objects.by_id(ctx, params["payment_method"], "payment_method")
        payment = dataclasses.replace(
            payment, extra={**payment.extra, "payment_method": found.record["id"]})
        writes = _saved(found, ctx)
    result = await run(ctx, Create(pi_id, payment, writes=Writes(records=writes)), payment)
    return await _respond(ctx, result.payment, params)


async def confirm_payment_intent(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_intent(ctx, ctx.path["id"])
    secret = params.get("client_secret")
    if secret is not None and secret != p.extra.get("client_secret"):
        raise InvalidRequest(
            "The client_secret provided does not match the client_secret associated "
            f"with the PaymentIntent. Use {p.id}'s own client_secret.",
            param="client_secret", code="payment_intent_invalid_parameter")
    if p.status not in payments.ATTEMPTABLE:
        raise state_error(InvalidTransition(p, "confirm", payments.ATTEMPTABLE))
    return await _confirm(ctx, p, params, create=False)


async def _confirm(ctx: Context, p: Payment, params: Mapping[str, Any], *,
                   create: bool) -> Any:
    """Attempt PaymentIntent `p` with its payment method: the payment, its charge alias,
    a new payment method and a 3DS page's token are written as one unit."""
    found = await objects.for_confirmation(ctx, params, p.extra.get("payment_method"))
    if found is None:
        if create:
            await run(ctx, Create(p.id, p), p)
        raise InvalidRequest(
            "You cannot confirm this PaymentIntent because it's missing a payment "
            "method. Pass payment_method (for example pm_card_visa) or "
            "payment_method_data, or update the PaymentIntent with one first.",
            param="payment_method", code="payment_intent_unexpected_state")
    record = found.record
    charge_id = "ch_" + p.id[3:]
    action_url, challenge = ctx.hosted_link(p.id)
    card = wire.card_of(record)
    used = await saved.use(ctx, found, params, p, card)
    tested = disputes.test_card_extra(magic.BY_NUMBER.get(record.get("magic", "")))
    changes = PaymentChanges(card=card, credential=used.credential, extra={
        "payment_method": record["id"], "charge": charge_id,
        "billing_details": record.get("billing_details"),
        "charge_created": ctx.clock.now(), "action_url": action_url, **_extra(params),
        **tested})
    capture = params.get("capture_method")
    if capture is not None:
        changes["capture_manual"] = capture == "manual"
    warning = tested.get("early_fraud_warning")
    writes = Writes(aliases=(record["id"], charge_id, *([warning] if warning else [])),
                    records=saved.record_of(ctx, used), on_action=(challenge,))
    result = await run(ctx, Authorize(p.id, used.outcome, changes,
                                      create=p if create else None, writes=writes),
                       p, card=card)
    after = result.payment
    disputes.after_capture(ctx, result.previous, after)
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
    return await _respond(ctx, after, params)


async def retrieve_payment_intent(ctx: Context, params: dict[str, Any]) -> Any:
    return await _respond(ctx, await payment_intent(ctx, ctx.path["id"]), params)


async def update_payment_intent(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_intent(ctx, ctx.path["id"])
    changes = PaymentChanges(extra=_extra(params))
    if "amount" in params:
        changes["amount"] = params["amount"]
    if "currency" in params:
        changes["currency"] = checked_currency(params["currency"])
    if "metadata" in params:
        changes["metadata"] = metadata(p.metadata, params["metadata"])
    if "description" in params:
        changes["description"] = params["description"] or None  # "" unsets
    if "capture_method" in params:
        changes["capture_manual"] = params["capture_method"] == "manual"
    writes: tuple[Record, ...] = ()
    if "payment_method" in params:
        found = await objects.by_id(ctx, params["payment_method"], "payment_method")
        changes["extra"] = {**changes["extra"], "payment_method": found.record["id"]}
        writes = _saved(found, ctx)
    details_only = set(params) <= _UPDATABLE_IN_ANY_STATUS
    result = await run(ctx, Update(p.id, changes, details_only=details_only,
                                   writes=Writes(records=writes)),
                       p, amount=changes.get("amount"))
    return await _respond(ctx, result.payment, params)


async def capture_payment_intent(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_intent(ctx, ctx.path["id"])
    amount = params.get("amount_to_capture")
    result = await run(ctx, Capture(p.id, amount), p, amount=amount)
    disputes.after_capture(ctx, result.previous, result.payment)
    return await _respond(ctx, result.payment, params)


async def cancel_payment_intent(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_intent(ctx, ctx.path["id"])
    result = await run(ctx, Void(p.id, params.get("cancellation_reason")), p)
    return await _respond(ctx, result.payment, params)


async def list_payment_intents(ctx: Context, params: dict[str, Any]) -> Any:
    customer = params.get("customer")
    intents = [p for p in await ctx.payments() if not p.id.startswith("seti_")
               and (customer is None or p.extra.get("customer") == customer)]
    found, more = page(intents, limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda p: p.id,
                       missing=cursor_missing)
    return wire.listing("/v1/payment_intents", [wire.payment_intent(p) for p in found], more)


async def retrieve_charge(ctx: Context, params: dict[str, Any]) -> Any:
    ch_id = ctx.path["id"]
    p = await ctx.resolve(ch_id)
    if p is None or p.extra.get("charge") != ch_id:
        raise missing("charge", ch_id)
    return wire.charge(p)
