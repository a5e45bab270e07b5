"""Stripe's Disputes and Radar early fraud warnings -> canonical dispute commands, and
back to Stripe's objects (https://docs.stripe.com/api/disputes,
https://docs.stripe.com/api/radar/early_fraud_warnings).

A dispute lives on its payment (paysandbox/core/disputes.py) and its id is linked to
the payment, so `/v1/disputes/{id}` finds it. An early fraud warning is not a state
change of the payment: it is rendered from the payment that drew it (a test card's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paysandbox.core import disputes as core
from paysandbox.core.commands import AcceptDispute, OpenDispute, UpdateDispute
from paysandbox.core.disputes import Dispute, DisputeError, DisputeKind, DisputeStatus
from paysandbox.core.payments import AmountExceeded, NoSuchPayment, Payment, Status
from paysandbox.errors import InvalidRequest
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import magic, wire
from paysandbox.providers.stripe.errors import cursor_missing, metadata, missing

#: Every evidence field of Stripe's dispute object, null until given.
EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation",
    "shipping_address", "shipping_carrier", "shipping_date", "shipping_documentation",
    "shipping_tracking_number", "uncategorized_file", "uncategorized_text")

#: Stripe's dispute fee in test mode (a flat 15.00 in the charge's currency).
DISPUTE_FEE = 1500

_CHARGEBACK_STATUS = {
    DisputeStatus.NEEDS_RESPONSE: "needs_response", DisputeStatus.UNDER_REVIEW: "under_review",
    DisputeStatus.WON: "won", DisputeStatus.LOST: "lost", DisputeStatus.ACCEPTED: "lost"}
_INQUIRY_STATUS = {
    DisputeStatus.NEEDS_RESPONSE: "warning_needs_response",
    DisputeStatus.UNDER_REVIEW: "warning_under_review"}


def status(d: Dispute) -> str:
    if d.kind is DisputeKind.INQUIRY:
        return _INQUIRY_STATUS.get(d.status, "warning_closed")
    return _CHARGEBACK_STATUS[d.status]


def _transaction(p: Payment, d: Dispute, *, reinstated: bool) -> dict[str, Any]:
    at = next((h.at for h in reversed(d.history) if h.action == "won"), d.created) \
        if reinstated else d.created
    fee = 0 if reinstated else DISPUTE_FEE
    amount = d.amount if reinstated else -d.amount
    currency = p.currency.lower()
    return {
        "id": f"txn_{d.id[3:]}{'R' if reinstated else ''}",
        "object": "balance_transaction",
        "amount": amount,
        "available_on": int(at),
        "created": int(at),
        "currency": currency,
        "description": f"Chargeback {'reversal' if reinstated else 'withdrawal'} for "
                       f"{p.extra.get('charge')}",
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [{"amount": fee, "application": None, "currency": currency,
                         "description": "Dispute fee", "type": "stripe_fee"}] if fee else [],
        "net": amount - fee,
        "reporting_category": "dispute_reversal" if reinstated else "dispute",
        "source": d.id,
        "status": "available",
        "type": "adjustment",
    }


def dispute(p: Payment, d: Dispute) -> dict[str, Any]:
    """Stripe's dispute object (https://docs.stripe.com/api/disputes/object)."""
    txns = []
    if d.funds_withdrawn:
        txns.append(_transaction(p, d, reinstated=False))
    if d.funds_reinstated:
        txns.append(_transaction(p, d, reinstated=True))
    brand = p.card.brand if p.card else "visa"
    return {
        "id": d.id,
        "object": "dispute",
        "amount": d.amount,
        "balance_transactions": txns,
        "charge": p.extra.get("charge"),
        "created": int(d.created),
        "currency": p.currency.lower(),
        "evidence": {k: d.evidence.get(k) for k in EVIDENCE_FIELDS},
        "evidence_details": {
            "due_by": int(d.evidence_due_by) if d.is_open else None,
            "has_evidence": bool(d.evidence),
            "past_due": False,
            "submission_count": d.submissions,
        },
        "is_charge_refundable": d.kind is DisputeKind.INQUIRY and p.amount_refundable > 0,
        "livemode": False,
        "metadata": dict(d.metadata),
        "payment_intent": p.id,
        "payment_method_details": {"type": "card", "card": {
            "brand": brand, "case_type": d.kind.value,
            "network_reason_code": core.scheme_reason_code(d, brand)}},
        "reason": d.reason.value,
        "status": status(d),
    }


def early_fraud_warning(p: Payment) -> dict[str, Any]:
    """Stripe's early fraud warning object, for a payment that drew one."""
    return {
        "id": p.extra["early_fraud_warning"],
        "object": "radar.early_fraud_warning",
        "actionable": not p.disputes and p.status is not Status.REFUNDED,
        "charge": p.extra.get("charge"),
        "created": int(p.extra.get("charge_created", p.created)),
        "fraud_type": "made_with_stolen_card",
        "livemode": False,
        "payment_intent": p.id,
    }


def has_warning(p: Payment) -> bool:
    """Whether `p` drew an early fraud warning: its card is the test card for one and
    the charge succeeded."""
    return bool(p.extra.get("early_fraud_warning")) and p.status in (
        Status.AUTHORIZED, Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED)


# -- the test cards ---------------------------------------------------------------------

def test_card_extra(card: magic.TestCard | None) -> dict[str, Any]:
    """What a payment remembers of a dispute test card at confirmation, for its capture
    (which may come later) to act on."""
    if card is None:
        return {}
    if card.dispute is not None:
        return {"test_dispute": card.number}
    if card.early_fraud_warning:
        return {"early_fraud_warning": wire.new_id("issfr")}
    return {}


def after_capture(ctx: Context, before: Payment | None, after: Payment) -> None:
    """A payment on one of Stripe's dispute test cards that has just been captured is
    disputed a moment later, on the virtual clock."""
    number = after.extra.get("test_dispute")
    if not number or after.status is not Status.CAPTURED or after.disputes or (
            before is not None and before.status is Status.CAPTURED):
        return
    card = magic.BY_NUMBER.get(number)
    if card is None or card.dispute is None:
        return
    command = OpenDispute.planned(after.id, wire.new_id("dp"), card.dispute)
    ctx.schedule(command, ctx.clock.now() + card.dispute.after)


# -- handlers -----------------------------------------------------------------------------

async def _find(ctx: Context, dispute_id: str) -> tuple[Payment, Dispute]:
    p = await ctx.resolve(dispute_id)
    d = next((x for x in p.disputes if x.id == dispute_id), None) if p else None
    if p is None or d is None:
        raise missing("dispute", dispute_id, "dispute")
    return p, d


async def _run(ctx: Context, command: UpdateDispute | AcceptDispute, p: Payment
               ) -> dict[str, Any]:
    try:
        result = await ctx.execute(command, p)
    except NoSuchPayment:
        raise missing("dispute", command.dispute_id, "dispute") from None
    except (DisputeError, AmountExceeded) as exc:
        raise InvalidRequest(_closed_message(p, command.dispute_id, exc)) from None
    assert result.dispute is not None
    return dispute(result.payment, result.dispute)


def _closed_message(p: Payment, dispute_id: str, exc: Exception) -> str:
    d = next((x for x in p.disputes if x.id == dispute_id), None)
    if d is not None and not d.is_open:
        return (f"This dispute is already closed ({status(d)}): its evidence can no longer "
                "be changed, nor can it be closed again.")
    if d is not None and d.status is DisputeStatus.UNDER_REVIEW:
        return ("This dispute's evidence has already been submitted and is under review; "
                "it can no longer be changed.")
    return str(exc)


async def list_disputes(ctx: Context, params: dict[str, Any]) -> Any:
    pays: list[Payment]
    if "payment_intent" in params:
        found = await ctx.payment(params["payment_intent"])
        pays = [found] if found is not None else []
    elif "charge" in params:
        found = await ctx.resolve(params["charge"])
        pays = [found] if found is not None and found.extra.get("charge") == params[
            "charge"] else []
    else:
        pays = await ctx.payments()
    items = sorted(((p, d) for p in pays for d in p.disputes),
                   key=lambda pd: (pd[1].created, pd[1].id), reverse=True)
    found_page, more = page(items, limit=params.get("limit", 10),
                            after=params.get("starting_after"), key=lambda pd: pd[1].id,
                            missing=cursor_missing)
    return wire.listing("/v1/disputes", [dispute(p, d) for p, d in found_page], more)


async def retrieve_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    p, d = await _find(ctx, ctx.path["id"])
    return dispute(p, d)


async def update_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    """Stage evidence and metadata; `submit` (true unless told) sends the evidence. The
    evidence test values decide how the dispute then ends."""
    p, d = await _find(ctx, ctx.path["id"])
    evidence: Mapping[str, Any] | None = params.get("evidence")
    if evidence is not None:
        evidence = {k: v for k, v in evidence.items() if v != ""}
    # `submit` defaults to true with evidence; an update of metadata alone submits
    # nothing (and is allowed on a closed dispute).
    submit = bool(params.get("submit", True)) if evidence is not None or "submit" in params \
        else False
    text = {**d.evidence, **(evidence or {})}.get("uncategorized_text")
    ends = magic.EVIDENCE_OUTCOMES.get(str(text).strip()) if text else None
    command = UpdateDispute(
        p.id, dispute_id=d.id, evidence=evidence,
        metadata=metadata(d.metadata, params["metadata"]) if "metadata" in params else None,
        submit=submit, ends=ends)
    return await _run(ctx, command, p)


async def close_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    """Closing a dispute is accepting it: Stripe shows it as lost."""
    p, d = await _find(ctx, ctx.path["id"])
    return await _run(ctx, AcceptDispute(p.id, dispute_id=d.id), p)


async def list_early_fraud_warnings(ctx: Context, params: dict[str, Any]) -> Any:
    if "payment_intent" in params:
        found = await ctx.payment(params["payment_intent"])
        pays = [found] if found is not None else []
    elif "charge" in params:
        found = await ctx.resolve(params["charge"])
        pays = [found] if found is not None else []
    else:
        pays = await ctx.payments()
    warned = [p for p in pays if has_warning(p)]
    found_page, more = page(warned, limit=params.get("limit", 10),
                            after=params.get("starting_after"),
                            key=lambda p: p.extra["early_fraud_warning"],
                            missing=cursor_missing)
    return wire.listing("/v1/radar/early_fraud_warnings",
                        [early_fraud_warning(p) for p in found_page], more)


async def retrieve_early_fraud_warning(ctx: Context, params: dict[str, Any]) -> Any:
    warning_id = ctx.path["id"]
    p = await ctx.resolve(warning_id)
    if p is None or not has_warning(p) or p.extra.get("early_fraud_warning") != warning_id:
        raise missing("early fraud warning", warning_id, "early_fraud_warning")
    return early_fraud_warning(p)
