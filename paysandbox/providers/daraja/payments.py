"""M-Pesa Express: an STK push -> a pending payment the customer's handset answers on
the virtual clock, and its query."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from paysandbox.core.commands import Authorize, Complete, Expire
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import Payment, Status
from paysandbox.errors import ApiError
from paysandbox.providers.daraja import magic, wire
from paysandbox.providers.seam import Context


def _check_password(body: Mapping[str, Any]) -> str:
    """The push's or query's shortcode, once its Password is base64(BusinessShortCode
    + Passkey + Timestamp) with that shortcode's passkey."""
    shortcode = str(body["BusinessShortCode"])
    timestamp = body["Timestamp"]
    try:
        datetime.strptime(timestamp, "%Y%m%d%H%M%S")
    except ValueError:
        raise wire.invalid("Timestamp", "use YYYYMMDDHHmmss") from None
    expected = base64.b64encode(
        f"{shortcode}{magic.passkey(shortcode)}{timestamp}".encode()).decode()
    if body["Password"] != expected:
        raise wire.invalid("Password", "it must be base64(BusinessShortCode + Passkey "
                           "+ Timestamp) with this shortcode's passkey")
    return shortcode


async def stk_push(ctx: Context, params: dict[str, Any]) -> Any:
    shortcode = _check_password(params)
    wire.servable_push(params)
    refusal = ctx.destination_refusal(str(params["CallBackURL"]))
    if refusal is not None:
        raise wire.invalid("CallBackURL", f"destination not allowed: {refusal}")
    phone = str(params["PhoneNumber"])
    now = ctx.clock.now()
    p = Payment(
        id=wire.checkout_request_id(now), namespace=ctx.namespace, provider="daraja",
        amount=int(params["Amount"]) * 100, currency="KES", created=now, method="mpesa",
        description=params["TransactionDesc"],
        metadata={"AccountReference": params["AccountReference"]},
        extra={"merchant_request_id": wire.merchant_request_id(), "phone": phone,
               "shortcode": shortcode, "party_b": str(params["PartyB"]),
               "transaction_type": params["TransactionType"],
               # the STK callback goes here (routes.events_for), not to an endpoint
               "callback_url": params["CallBackURL"], "receipt": wire.receipt_number()})
    pending = Outcome.pending()
    result = await ctx.execute(Authorize(p.id, outcome=pending, create=p), p, country="KE")
    if result.payment.status is Status.PENDING:  # it expires even when a scenario answers
        answer = magic.outcome_for(phone) if result.outcome is pending else None
        _handset_answers(ctx, p.id, answer, now)
    message = "Success. Request accepted for processing"
    return {"MerchantRequestID": p.extra["merchant_request_id"], "CheckoutRequestID": p.id,
            "ResponseCode": "0", "ResponseDescription": message, "CustomerMessage": message}


def _handset_answers(ctx: Context, pid: str, outcome: Outcome | None, now: float) -> None:
    """What the test customer's handset does with the prompt, on the virtual clock:
    answer it after a moment, or leave it until M-Pesa gives up."""
    if outcome is not None:
        answer = Complete(pid, True) if outcome.is_approved else Complete(
            pid, False, reason=outcome.reason, native_code=outcome.native_code)
        ctx.schedule(answer, now + magic.ANSWER_DELAY)
    ctx.schedule(Expire(pid), now + magic.PROMPT_TIMEOUT)


async def stk_query(ctx: Context, params: dict[str, Any]) -> Any:
    _check_password(params)
    await ctx.intercept("retrieve")
    p = await ctx.payment(params["CheckoutRequestID"])
    if p is None:
        raise wire.invalid("CheckoutRequestID", "no STK push with this id was made "
                           "with this consumer key")
    answer = wire.query_result(p)
    if answer is None:
        raise ApiError("The transaction is being processed", code="500.001.1001",
                       status=500)
    return answer
