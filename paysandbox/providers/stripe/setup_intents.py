"""Stripe's SetupIntents: save a card to a customer, authenticating it first where the
card asks (3DS), so that later off-session payments need no customer.

A SetupIntent is kept as a payment of no amount (`seti_…`): its 3DS step is the same
hosted challenge a PaymentIntent's is, completed through the engine, with its events
and scenarios; the PaymentIntent routes never show one.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from typing import Any

from paysandbox.core import payments
from paysandbox.core.commands import Authorize, Create, Record, Void, Writes
from paysandbox.core.payments import InvalidTransition, Payment, PaymentChanges, Status
from paysandbox.errors import InvalidRequest
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import customers, objects, saved, wire
from paysandbox.providers.stripe.errors import cursor_missing, metadata, missing
from paysandbox.providers.stripe.payments import run

_STATUS = {Status.REQUIRES_ACTION: "requires_action", Status.PENDING: "processing",
           Status.FAILED: "requires_payment_method", Status.VOIDED: "canceled",
           Status.EXPIRED: "canceled"}


def status(p: Payment) -> str:
    if p.status is Status.CREATED:
        return "requires_confirmation" if p.extra.get("payment_method") else \
            "requires_payment_method"
    return "succeeded" if p.status in saved.SUCCEEDED else _STATUS[p.status]


def _last_error(p: Payment) -> dict[str, Any] | None:
    err = wire.last_payment_error(p, None)
    if err is None:
        return None
    err.pop("charge", None)
    if err["code"] == "payment_intent_authentication_failure":
        err["code"] = "setup_intent_authentication_failure"
        err["doc_url"] = f"{wire.DOCS}/error-codes/setup-intent-authentication-failure"
    return err


def setup_intent(p: Payment) -> dict[str, Any]:
    x = p.extra
    voided = next((h for h in reversed(p.history) if h.action == "void"), None)
    next_action = None
    if p.status is Status.REQUIRES_ACTION:
        next_action = {"type": "redirect_to_url",
                       "redirect_to_url": {"url": x.get("action_url"),
                                           "return_url": x.get("return_url")}}
    return {
        "id": p.id, "object": "setup_intent", "application": None,
        "automatic_payment_methods": x.get("automatic_payment_methods"),
        "cancellation_reason": voided.detail if voided else None,
        "client_secret": x.get("client_secret"), "created": int(p.created),
        "customer": x.get("customer"), "description": p.description,
        "flow_directions": None, "last_setup_error": _last_error(p),
        "latest_attempt": None, "livemode": False, "mandate": None,
        "metadata": dict(p.metadata), "next_action": next_action, "on_behalf_of": None,
        "payment_method": x.get("payment_method"),
        "payment_method_options": {"card": {"mandate_options": None, "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": list(x.get("payment_method_types", ("card",))),
        "single_use_mandate": None, "status": status(p),
        "usage": x.get("usage", "off_session"),
    }


async def _intent(ctx: Context) -> Payment:
    seti_id = ctx.path["id"]
    p = await ctx.payment(seti_id)
    if p is None or not p.id.startswith("seti_"):
        raise missing("setup_intent", seti_id, "intent")
    return p


async def create_setup_intent(ctx: Context, params: dict[str, Any]) -> Any:
    if params.get("customer"):
        await customers.by_id(ctx, params["customer"])
    seti_id = wire.new_id("seti")
    p = Payment(
        id=seti_id, namespace=ctx.namespace, provider="stripe", amount=0, currency="USD",
        created=ctx.clock.now(), metadata=metadata({}, params.get("metadata")),
        description=params.get("description") or None,
        extra={"client_secret": f"{seti_id}_secret_{secrets.token_hex(12)}",
               "customer": params.get("customer") or None,
               "usage": params.get("usage", "off_session"),
               "return_url": params.get("return_url"),
               "payment_method_types": params.get("payment_method_types", ["card"])})
    if params.get("confirm"):
        return await _confirm(ctx, p, params, create=True)
    records: tuple[Record, ...] = ()
    if params.get("payment_method"):
        found = await objects.by_id(ctx, params["payment_method"], "payment_method")
        saved.usable(found.record)
        p = dataclasses.replace(p, extra={**p.extra, "payment_method": found.record["id"]})
        if found.fresh:
            records = (ctx.objects(objects.PAYMENT_METHODS).record(found.record["id"],
                                                                   found.record),)
    result = await run(ctx, Create(seti_id, p, writes=Writes(records=records)), p)
    return setup_intent(result.payment)


async def confirm_setup_intent(ctx: Context, params: dict[str, Any]) -> Any:
    p = await _intent(ctx)
    if p.status not in payments.ATTEMPTABLE:
        raise InvalidRequest(
            f"You cannot confirm this SetupIntent because it has a status of {status(p)}.",
            code="setup_intent_unexpected_state", extra={"setup_intent": setup_intent(p)})
    return await _confirm(ctx, p, params, create=False)


async def _confirm(ctx: Context, p: Payment, params: Mapping[str, Any], *,
                   create: bool) -> Any:
    found = await objects.for_confirmation(ctx, params, p.extra.get("payment_method"))
    if found is None:
        if create:
            await run(ctx, Create(p.id, p), p)
        raise InvalidRequest(
            "You cannot confirm this SetupIntent because it's missing a payment method. "
            "Pass payment_method (for example pm_card_visa), or update it with one first.",
            param="payment_method", code="setup_intent_unexpected_state")
    card = wire.card_of(found.record)
    used = await saved.use(ctx, found, params, p, card, setup=True)
    action_url, challenge = ctx.hosted_link(p.id)
    extra = {"payment_method": found.record["id"], "action_url": action_url}
    if params.get("return_url"):
        extra["return_url"] = params["return_url"]
    changes = PaymentChanges(card=card, credential=used.credential, extra=extra)
    writes = Writes(aliases=(found.record["id"],), records=saved.record_of(ctx, used),
                    on_action=(challenge,))
    result = await run(ctx, Authorize(p.id, used.outcome, changes,
                                      create=p if create else None, writes=writes), p,
                       card=card)
    after = result.payment
    if after.status is Status.FAILED:
        err = _last_error(after) or {}
        raise wire.CardError(err.get("message", "Your card was declined."),
                             code=err.get("code"), param=err.get("param"), extra={
            **({"decline_code": err["decline_code"]} if "decline_code" in err else {}),
            "setup_intent": setup_intent(after),
            "payment_method": wire.payment_method(found.record)})
    return setup_intent(after)


async def retrieve_setup_intent(ctx: Context, params: dict[str, Any]) -> Any:
    return setup_intent(await _intent(ctx))


async def cancel_setup_intent(ctx: Context, params: dict[str, Any]) -> Any:
    p = await _intent(ctx)
    try:
        result = await ctx.execute(Void(p.id, params.get("cancellation_reason")), p)
    except InvalidTransition:
        raise InvalidRequest(
            f"You cannot cancel this SetupIntent because it has a status of {status(p)}.",
            code="setup_intent_unexpected_state",
            extra={"setup_intent": setup_intent(p)}) from None
    return setup_intent(result.payment)


async def list_setup_intents(ctx: Context, params: dict[str, Any]) -> Any:
    customer = params.get("customer")
    intents = [setup_intent(p) for p in await ctx.payments() if p.id.startswith("seti_")
               and (customer is None or p.extra.get("customer") == customer)]
    found, more = page(intents, limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda s: s["id"],
                       missing=cursor_missing)
    return wire.listing("/v1/setup_intents", found, more)
