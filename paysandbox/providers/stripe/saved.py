"""Cards saved to Stripe Customers: attach, detach, list; and what a saved card changes
in a PaymentIntent (setup_future_usage, off_session, mit_exemption) or a SetupIntent.

A card is saved by an explicit attach, or by the success of the SetupIntent or
PaymentIntent (with `setup_future_usage`) that set it up. The latter may pass through a
3DS challenge the hosted page completes, which writes nothing but the payment, so the
payment method keeps `pending_customer` and `setup_by` and counts as attached once that
payment has succeeded (`settle`), with that payment's network transaction id as the one
its merchant-initiated payments quote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paysandbox.core.commands import Record
from paysandbox.core.credentials import Credential, Initiator, MitType
from paysandbox.core.outcomes import DeclineReason, Outcome, OutcomeKind
from paysandbox.core.payments import CardDetails, Payment, Status
from paysandbox.errors import InvalidRequest
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import customers, magic, objects, wire
from paysandbox.providers.stripe.errors import cursor_missing, missing
from paysandbox.providers.stripe.objects import PAYMENT_METHODS, PaymentMethodRecord

SUCCEEDED = frozenset({Status.AUTHORIZED, Status.CAPTURED, Status.PARTIALLY_REFUNDED,
                       Status.REFUNDED})


@dataclass(frozen=True, slots=True)
class Saved:
    """A payment method with its attachment settled: `set_up` when a setup (a
    SetupIntent, a PaymentIntent with setup_future_usage) succeeded with it, whose
    network transaction id is `network_transaction_id`."""

    record: PaymentMethodRecord
    set_up: bool = False
    network_transaction_id: str | None = None


async def settle(ctx: Context, record: PaymentMethodRecord) -> Saved:
    setup = record.get("setup_by")
    if not setup:
        return Saved(record)
    p = await ctx.payment(setup)
    if p is None or p.status not in SUCCEEDED:
        return Saved(record)
    pending = record.get("pending_customer")
    settled = PaymentMethodRecord(**record)
    if pending and not record.get("customer"):
        settled["customer"] = pending
    nti = p.credential.network_transaction_id if p.credential is not None else None
    return Saved(settled, True, nti)


def usable(record: Mapping[str, Any], param: str = "payment_method") -> None:
    if record.get("detached"):
        raise InvalidRequest(
            "The provided PaymentMethod was previously used with a PaymentIntent without "
            "Customer attachment, shared with a connected account without Customer "
            "attachment, or was detached from a Customer. It may not be used again. To use "
            "a PaymentMethod multiple times, you must attach it to a Customer first.",
            param=param)


async def _published(ctx: Context, type_: str, shown: Mapping[str, Any]) -> None:
    await ctx.publish(wire.events(ctx.namespace, ctx.clock.now(), [(type_, lambda: shown)]))


# -- the payment method routes ----------------------------------------------------------

async def attach_payment_method(ctx: Context, params: dict[str, Any]) -> Any:
    cus = await customers.by_id(ctx, params["customer"])
    found = await objects.by_id(ctx, ctx.path["id"], "payment_method")
    usable(found.record)
    test = magic.BY_NUMBER.get(found.record.get("magic", ""))
    if found.outcome.kind is OutcomeKind.DECLINE and not (test and test.attaches):
        f = dict(wire.codes()[(found.outcome.reason or DeclineReason.GENERIC_DECLINE).value])
        raise wire.CardError(f["message"], code=f["code"], param=f.get("param"), extra={
            k: v for k, v in f.items() if k == "decline_code" and v})
    saved = (await settle(ctx, found.record)).record
    owner = saved.get("customer")
    if owner and owner != cus["id"]:
        raise InvalidRequest("The payment method you provided has already been attached to "
                             f"a customer ({owner}). Detach it first.", param="customer")
    record = PaymentMethodRecord(**{**saved, "customer": cus["id"]})
    await ctx.objects(PAYMENT_METHODS).put(record["id"], record)
    shown = wire.payment_method(record)
    await _published(ctx, "payment_method.attached", shown)
    return shown


async def detach_payment_method(ctx: Context, params: dict[str, Any]) -> Any:
    pm_id = ctx.path["id"]
    stored = await ctx.objects(PAYMENT_METHODS).get(pm_id)
    if stored is None:
        raise missing("PaymentMethod", pm_id, "payment_method")
    if not (await settle(ctx, stored)).record.get("customer"):
        raise InvalidRequest("The payment method you provided is not attached to a customer "
                             "so detachment is impossible.", param="payment_method")
    record = PaymentMethodRecord(**{
        **stored, "customer": None, "pending_customer": None, "setup_by": None,
        "detached": True})
    await ctx.objects(PAYMENT_METHODS).put(pm_id, record)
    shown = wire.payment_method(record)
    await _published(ctx, "payment_method.detached", shown)
    return shown


async def retrieve_payment_method(ctx: Context, params: dict[str, Any]) -> Any:
    stored = await ctx.objects(PAYMENT_METHODS).get(ctx.path["id"])
    if stored is None:  # a test token, or the 404
        return await objects.retrieve_payment_method(ctx, params)
    return wire.payment_method((await settle(ctx, stored)).record)


async def _listed(ctx: Context, cus_id: str, params: Mapping[str, Any], url: str) -> Any:
    """The customer's cards, newest first: every kept payment method is read (bounded
    by the store's retention of objects per namespace)."""
    found = []
    for r in reversed(await ctx.objects(PAYMENT_METHODS).all()):
        if cus_id in (r.get("customer"), r.get("pending_customer")):
            settled = (await settle(ctx, r)).record
            if settled.get("customer") == cus_id:
                found.append(wire.payment_method(settled))
    items, more = page(found, limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda r: r["id"],
                       missing=cursor_missing)
    return wire.listing(url, items, more)


async def list_customer_payment_methods(ctx: Context, params: dict[str, Any]) -> Any:
    cus = await customers.by_id(ctx, ctx.path["id"], "customer")
    return await _listed(ctx, cus["id"], params, f"/v1/customers/{cus['id']}/payment_methods")


async def list_payment_methods(ctx: Context, params: dict[str, Any]) -> Any:
    cus = await customers.by_id(ctx, params["customer"])
    return await _listed(ctx, cus["id"], params, "/v1/payment_methods")


# -- what a saved card changes in an intent -----------------------------------------------

def _exemption(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """payment_method_options[card][mit_exemption] (a hash; anything else: none)."""
    options = params.get("payment_method_options")
    card = options.get("card") if isinstance(options, Mapping) else None
    found = card.get("mit_exemption") if isinstance(card, Mapping) else None
    return found if isinstance(found, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Use:
    """How an intent uses its card: the outcome to attempt, the credential, and the
    payment method record to write with the attempt (None: nothing to write)."""

    outcome: Outcome
    credential: Credential
    record: PaymentMethodRecord | None


async def use(ctx: Context, found: objects.Resolved, params: Mapping[str, Any], p: Payment,
              card: CardDetails, *, setup: bool = False) -> Use:
    """A confirmation of `p` (a PaymentIntent, or a SetupIntent when `setup`) with the
    card `found`: customer present and saving it, or the merchant charging it off-session
    (quoting the setup's network transaction id, or the one `mit_exemption` names)."""
    record = found.record
    usable(record)
    saved = Saved(record) if found.fresh else await settle(ctx, record)
    customer = p.extra.get("customer")
    owner = saved.record.get("customer")
    if owner and customer and owner != customer:
        raise InvalidRequest(f"The provided PaymentMethod is attached to another Customer "
                             f"({owner}); pass customer={owner} or another payment method.",
                             param="payment_method")
    test = magic.BY_NUMBER.get(record.get("magic", ""))
    nti = ctx.network_transaction_id(card)
    off = params.get("off_session", False)
    if off and not setup:
        quoted = _exemption(params).get("network_transaction_id")
        outcome = found.outcome
        if quoted is not None and not ctx.network_transaction_id_matches(str(quoted), card):
            outcome = Outcome.decline(DeclineReason.TRANSACTION_NOT_ALLOWED)
        elif test is not None and test.set_up_exempts and (saved.set_up or quoted):
            outcome = Outcome.approve()
        credential = Credential(
            Initiator.MERCHANT,
            MitType.RECURRING if off == "recurring" else MitType.UNSCHEDULED,
            network_transaction_id=nti,
            original_network_transaction_id=str(quoted) if quoted else
            saved.network_transaction_id, stored_method=record["id"])
        return Use(outcome, credential, record if found.fresh else None)
    outcome = found.outcome
    if setup and test is not None and test.attaches:
        outcome = Outcome.approve()
    saves = bool(customer) and bool(setup or p.extra.get("setup_future_usage")
                                    or params.get("setup_future_usage"))
    credential = Credential(network_transaction_id=nti,
                            stored_method=record["id"] if saves else None, saves=saves)
    if not saves:
        return Use(outcome, credential, record if found.fresh else None)
    if saved.set_up:  # already saved by an earlier setup: that one stays its proof
        kept = PaymentMethodRecord(**{**saved.record, "customer": customer})
        return Use(outcome, credential, kept)
    pending = PaymentMethodRecord(**{
        **saved.record, "pending_customer": customer, "setup_by": p.id})
    return Use(outcome, credential, pending)


def record_of(ctx: Context, used: Use) -> tuple[Record, ...]:
    if used.record is None:
        return ()
    return (ctx.objects(PAYMENT_METHODS).record(used.record["id"], used.record),)


def attached_event(p: Payment) -> dict[str, Any] | None:
    """The payment method a successful setup attached, for payment_method.attached."""
    shown = wire.payment_method_of(p)
    if shown is None or p.credential is None or not p.credential.saves:
        return None
    return {**shown, "customer": p.extra.get("customer")}
