"""Adyen's modifications (captures, refunds, cancels, reversals, amount updates and the
standalone cancel by reference) -> canonical commands.

They are asynchronous, as in Adyen: the call answers `status: received` with the
modification's own pspReference, and its outcome arrives as a standard notification:
success from the state change's events, failure (a refusal here, or the engine's)
published through the context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paysandbox.core.commands import Command
from paysandbox.core.payments import (
    AmountExceeded,
    InvalidTransition,
    NoSuchPayment,
    Payment,
    PaymentError,
    Status,
)
from paysandbox.providers.adyen import disputes, wire
from paysandbox.providers.adyen.notifications import (
    MODIFICATION_EVENTS,
    AdyenAdjust,
    AdyenCancel,
    AdyenCapture,
    AdyenRefund,
    event,
    modification_item,
)
from paysandbox.providers.adyen.payments import checked_currency, ref_key
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.seam import Context, Reply

#: The command a modification asks for, given the payment, the modification's own
#: pspReference and the request; None when there is nothing to try.
Modification = Callable[[Payment, str, Mapping[str, Any]], Command | None]


async def capture_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return await _modify(ctx, params, "captures", lambda p, psp, d: AdyenCapture(
        p.id, d["amount"]["value"], psp=psp, reference=d.get("reference", "")))


async def refund_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return await _modify(ctx, params, "refunds", lambda p, psp, d: AdyenRefund(
        p.id, refund_id=psp, amount=d["amount"]["value"],
        reason=d.get("merchantRefundReason"), reference=d.get("reference", "")))


async def cancel_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return await _modify(ctx, params, "cancels", lambda p, psp, d: AdyenCancel(
        p.id, psp=psp, reference=d.get("reference", "")))


async def reverse_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return await _modify(ctx, params, "reversals", _reversal(MODIFICATION_EVENTS["reversals"]))


async def update_payment_amount(ctx: Context, params: dict[str, Any]) -> Any:
    return await _modify(ctx, params, "amount_updates", lambda p, psp, d: AdyenAdjust(
        p.id, d["amount"]["value"], psp=psp, reference=d.get("reference", "")))


async def cancel_payment_by_reference(ctx: Context, params: dict[str, Any]) -> Any:
    event_code = MODIFICATION_EVENTS["standalone_cancels"]
    account, ref = params["merchantAccount"], params["paymentReference"]
    psp = wire.psp_reference()
    p = await ctx.resolve(ref_key(account, ref))
    if p is None:
        item = wire.notification_item(
            psp=psp, original=None, merchant_account=account, merchant_reference=ref,
            value=0, currency="EUR", event_code=event_code, success=False,
            at=ctx.clock.now(), reason=f"No payment with reference {ref!r} for merchant "
                                       f"account {account!r}")
        await _notify(ctx, item)
    else:
        await _apply(ctx, p, psp, params, _reversal(event_code)(p, psp, params), event_code)
    out = {"merchantAccount": account, "paymentReference": ref, "pspReference": psp,
           "status": "received"}
    if "reference" in params:
        out["reference"] = params["reference"]
    return Reply(out, 201)


def _reversal(event_code: str) -> Modification:
    """Cancel an authorisation, or refund all that remains of a captured payment."""
    def reverse(p: Payment, psp: str, d: Mapping[str, Any]) -> Command:
        if p.status in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
            return AdyenRefund(p.id, refund_id=psp, amount=p.amount_refundable,
                               reference=d.get("reference", ""), event_code=event_code)
        return AdyenCancel(p.id, psp=psp, reference=d.get("reference", ""),
                           event_code=event_code)
    return reverse


async def _modify(ctx: Context, params: dict[str, Any], kind: str,
                  command: Modification) -> Reply:
    p = await _payment(ctx, ctx.path["psp"], params["merchantAccount"])
    if "amount" in params:
        checked_currency(params["amount"]["currency"])
    psp = wire.psp_reference()
    await _apply(ctx, p, psp, params, command(p, psp, params), MODIFICATION_EVENTS[kind])
    return Reply(wire.modification_response(kind, p, psp, params), 201)


async def _payment(ctx: Context, psp: str, merchant_account: str) -> Payment:
    p = await ctx.payment(psp)
    if p is None:
        raise AdyenError(f"Original pspReference required for this operation: no "
                         f"payment {psp!r} is known to this API key.", code="167",
                         param="paymentPspReference")
    if p.extra.get("merchantAccount") != merchant_account:
        raise AdyenError(f"Invalid Merchant Account: payment {psp} belongs to merchant "
                         f"account {p.extra.get('merchantAccount')!r}, not "
                         f"{merchant_account!r}.", code="901", status=403,
                         error_type="security", param="merchantAccount")
    return p


async def _apply(ctx: Context, p: Payment, psp: str, data: Mapping[str, Any],
                 command: Command | None, event_code: str) -> None:
    """Run a modification; its outcome goes to the merchant as a notification."""
    value = (data.get("amount") or {}).get("value", p.amount)
    reason = _refusal_of_modification(p, data)
    if command is not None and reason is None:
        try:
            result = await ctx.execute(command, p, amount=value)
            disputes.after_capture(ctx, result)
            return
        except AmountExceeded as exc:
            reason = _insufficient(exc)
        except (InvalidTransition, PaymentError) as exc:
            reason = _state_reason(exc, event_code)
        except NoSuchPayment:
            reason = "Original pspReference is invalid for this account"
    item = modification_item(p, psp, str(data.get("reference", "")), event_code, value,
                             False, reason or "Modification failed")
    await _notify(ctx, item)


async def _notify(ctx: Context, item: Mapping[str, Any]) -> None:
    """A refused modification's notification: no state change carries it, so it goes
    through the engine's outbox (webhook chaos, the payload's contract, the journal)."""
    await ctx.publish([event(ctx.namespace, item, ctx.clock.now())])


def _insufficient(exc: AmountExceeded) -> str:
    """Adyen's refusal of a modification beyond the balance; when chargebacks hold part
    of the payment, the reason says so (a refund may not return disputed funds)."""
    held = exc.payment.amount_disputed
    if held:
        return (f"Insufficient balance on payment: {held} (minor units) of it is charged "
                f"back; {exc.available} can still be refunded")
    return "Insufficient balance on payment"


def _refusal_of_modification(p: Payment, data: Mapping[str, Any]) -> str | None:
    """Why Adyen would refuse a modification before trying it."""
    amount = data.get("amount")
    if amount is not None and amount["currency"].upper() != p.currency:
        return "Modification in different currency than authorisation"
    if amount is not None and amount["value"] == 0:
        return "Invalid amount specified"
    return None


def _state_reason(exc: PaymentError, event_code: str) -> str:
    p = getattr(exc, "payment", None)
    status = p.status if isinstance(p, Payment) else None
    if status in (Status.VOIDED, Status.EXPIRED):
        return "Transaction is already cancelled"
    if status is Status.FAILED:
        return "Original transaction was refused"
    if status is Status.REFUNDED:
        return "Transaction is already fully refunded"
    if event_code == "REFUND" and status is Status.AUTHORIZED:
        return "Transaction hasn't been captured"
    if event_code == "CAPTURE" and status is not Status.AUTHORIZED:
        return "Transaction is already captured" if status in (
            Status.CAPTURED, Status.PARTIALLY_REFUNDED) else "Transaction is not authorised"
    if event_code == "CANCELLATION" and status in (Status.CAPTURED,
                                                   Status.PARTIALLY_REFUNDED):
        return "Transaction is already captured"
    return f"Modification not allowed: the payment is {status.value if status else 'unknown'}"
