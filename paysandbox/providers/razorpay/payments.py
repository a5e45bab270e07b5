"""Razorpay's Payments (server-to-server UPI collect) -> canonical commands, and back."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from paysandbox.core.commands import Authorize, Capture, Command, Complete, Expire, Result, Writes
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    InvalidTransition,
    NoSuchPayment,
    Payment,
    Status,
)
from paysandbox.providers.razorpay import magic, wire
from paysandbox.providers.razorpay.errors import amount_error, checked_currency, state_error
from paysandbox.providers.razorpay.orders import (
    ORDERS,
    OrderRecord,
    order_of,
    payments_of,
    snapshot,
)
from paysandbox.providers.seam import Context


async def payment_of(ctx: Context, payment_id: str) -> Payment:
    p = await ctx.payment(payment_id)
    if p is None:
        raise wire.not_found()
    return p


async def run(ctx: Context, command: Command, p: Payment) -> Result:
    """Execute a command on payment `p`, in Razorpay's words when it is refused; every
    Razorpay payment is Indian, which scenarios may match on."""
    try:
        return await ctx.execute(command, p, country="IN")
    except NoSuchPayment:
        raise wire.not_found() from None
    except InvalidTransition as exc:
        raise state_error(exc) from None
    except AmountExceeded as exc:
        raise amount_error(exc) from None


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


async def create_upi_payment(ctx: Context, params: dict[str, Any]) -> Any:
    """Start a collect request on an order: the payment and the order's list of its
    payments are written as one unit; the test customer's answer and the request's
    expiry are scheduled on the virtual clock."""
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
    code = checked_currency(params["currency"])
    record = await order_of(ctx, params["order_id"], "order_id")
    await _check_payable(ctx, record, params["amount"], code)
    p = _new_payment(ctx, params, record, vpa, code)
    attempted = record.copy()
    attempted["payments"] = [*record["payments"], p.id]
    pending = Outcome.pending()
    writes = Writes(records=(ctx.objects(ORDERS).record(record["id"], attempted),))
    result = await run(ctx, Authorize(p.id, outcome=pending, create=p, writes=writes), p)
    if result.payment.status is Status.PENDING:  # it expires even when a scenario answers
        answer = magic.outcome_for(vpa, p.amount) if result.outcome is pending else None
        _customer_answers(ctx, p, answer, expiry)
    return {"razorpay_payment_id": p.id}


async def _check_payable(ctx: Context, record: OrderRecord, amount: int, code: str) -> None:
    if code != record["currency"]:
        raise wire.bad_request(f"The currency must be the order's currency, "
                               f"{record['currency']}.", field="currency")
    pays = await payments_of(ctx, record)
    paid = sum(p.amount_captured for p in pays if p.status in wire.CAPTURED)
    if paid >= record["amount"]:
        raise wire.bad_request("Order has already been paid. Create a new order for "
                               "another payment.", field="order_id")
    if any(p.status is Status.AUTHORIZED for p in pays):
        raise wire.bad_request("A payment on this order is already authorized: "
                               "capture it instead of starting another payment.",
                               field="order_id")
    due = record["amount"] - paid
    if record["partial_payment"] and 0 < amount <= due:
        return
    if amount != due:
        raise wire.bad_request(f"The amount must be equal to the order amount due, "
                               f"{due}.", field="amount")


def _new_payment(ctx: Context, params: Mapping[str, Any], record: OrderRecord,
                 vpa: str, code: str) -> Payment:
    notes = {str(k): "" if v is None else str(v)
             for k, v in (params.get("notes") or {}).items()}
    contact = params.get("contact")
    return Payment(
        id=wire.new_id("pay"), namespace=ctx.namespace, provider="razorpay",
        amount=params["amount"], currency=code, created=ctx.clock.now(),
        capture_manual=not record["auto_capture"], method="upi",
        metadata=notes, description=params.get("description"),
        extra={"order_id": record["id"], "order": snapshot(record), "vpa": vpa,
               "email": params.get("email"),
               "contact": None if contact is None else str(contact),
               "customer_id": params.get("customer_id"), "flow": "collect",
               "rrn": str(random.randrange(10**11, 10**12)),
               "upi_txn": wire.new_id("UPI")[4:].upper()})


def _customer_answers(ctx: Context, p: Payment, outcome: Outcome | None,
                      expiry_minutes: int) -> None:
    """What the test customer does with the collect request, on the virtual clock:
    answer it after a moment (test VPAs and amounts) or let it expire."""
    now = ctx.clock.now()
    if outcome is not None:
        answer = Complete(p.id, True) if outcome.is_approved else Complete(
            p.id, False, reason=outcome.reason, native_code=outcome.native_code)
        ctx.schedule(answer, now + magic.APPROVAL_DELAY)
    ctx.schedule(Expire(p.id), now + expiry_minutes * 60)


async def retrieve_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return wire.payment(await payment_of(ctx, ctx.path["id"]))


async def list_payments(ctx: Context, params: dict[str, Any]) -> Any:
    found = wire.window(await ctx.payments(), params, created=lambda p: p.created)
    return wire.collection([wire.payment(p) for p in found])


async def capture_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment_of(ctx, ctx.path["id"])
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
    if checked_currency(params["currency"]) != p.currency:
        raise wire.bad_request(f"Currency should be same as payment currency "
                               f"({p.currency}).", field="currency")
    result = await run(ctx, Capture(p.id, params["amount"]), p)
    return wire.payment(result.payment)
