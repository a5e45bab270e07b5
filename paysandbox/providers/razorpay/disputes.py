"""Razorpay's Disputes API -> canonical dispute commands, and back to Razorpay's dispute
entity (https://razorpay.com/docs/api/disputes/).

A dispute lives on its payment (paysandbox/core/disputes.py) and its `disp_…` id is
linked to the payment, so `/v1/disputes/{id}` finds it. Razorpay's statuses: `open`
until the merchant contests (`under_review`) or accepts (`lost`), then `won` or `lost`;
a retrieval request (an inquiry) that was answered is `closed`. `amount_deducted` is 0
unless the dispute is lost, as Razorpay documents it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paysandbox.core.commands import AcceptDispute, UpdateDispute
from paysandbox.core.disputes import (
    Dispute,
    DisputeError,
    DisputeKind,
    DisputeReason,
    DisputeStage,
    DisputeStatus,
)
from paysandbox.core.payments import AmountExceeded, NoSuchPayment, Payment
from paysandbox.errors import InvalidRequest
from paysandbox.providers.razorpay import wire
from paysandbox.providers.seam import Context

#: The evidence fields of Razorpay's dispute entity that list document ids (`doc_…`,
#: from the Documents API), besides `amount`, `summary` and `others`.
DOCUMENT_FIELDS = (
    "shipping_proof", "billing_proof", "cancellation_proof", "customer_communication",
    "proof_of_service", "explanation_letter", "refund_confirmation",
    "access_activity_log", "refund_cancellation_policy", "term_and_conditions")

#: Razorpay's reason code and description for each canonical reason.
REASONS: Mapping[DisputeReason, tuple[str, str]] = {
    DisputeReason.FRAUDULENT: ("fraud", "The customer says they did not make this payment."),
    DisputeReason.PRODUCT_NOT_RECEIVED: (
        "goods_not_received", "The customer says the goods or services were not provided."),
    DisputeReason.PRODUCT_UNACCEPTABLE: (
        "goods_not_as_described", "The customer says the goods or services were "
        "defective or not as described."),
    DisputeReason.DUPLICATE: ("duplicate_transaction",
                              "The customer says they were charged more than once."),
    DisputeReason.SUBSCRIPTION_CANCELED: (
        "recurring_transaction_cancelled", "The customer says they were charged after "
        "cancelling a recurring payment."),
    DisputeReason.CREDIT_NOT_PROCESSED: (
        "credit_not_processed", "The customer says a refund they were promised was "
        "not processed."),
    DisputeReason.UNRECOGNIZED: ("unrecognised_transaction",
                                 "The customer does not recognise this payment."),
    DisputeReason.GENERAL: ("general", "The customer's bank raised a dispute on this "
                                       "payment."),
}

_STATUS = {DisputeStatus.NEEDS_RESPONSE: "open", DisputeStatus.UNDER_REVIEW: "under_review",
           DisputeStatus.WON: "won", DisputeStatus.LOST: "lost",
           DisputeStatus.ACCEPTED: "lost"}
_PHASE = {DisputeStage.FIRST: "chargeback", DisputeStage.SECOND_CHARGEBACK: "pre_arbitration",
          DisputeStage.PRE_ARBITRATION: "pre_arbitration"}


def status(d: Dispute) -> str:
    """A retrieval request that was answered is closed; one left unanswered is lost
    (without deducting anything: an inquiry holds no money)."""
    if d.kind is DisputeKind.INQUIRY and d.status is DisputeStatus.WON:
        return "closed"
    return _STATUS[d.status]


def phase(d: Dispute) -> str:
    if d.kind is DisputeKind.INQUIRY:
        return "retrieval"
    return _PHASE[d.stage]


def _evidence(d: Dispute) -> dict[str, Any]:
    given = d.evidence
    submitted = next((h.at for h in reversed(d.history) if h.action == "submitted"), None)
    return {
        "amount": given.get("amount", d.amount),
        "summary": given.get("summary"),
        **{k: given.get(k) for k in DOCUMENT_FIELDS},
        "others": given.get("others"),
        "submitted_at": None if submitted is None else int(submitted),
    }


def dispute(p: Payment, d: Dispute) -> dict[str, Any]:
    """Razorpay's dispute entity (https://razorpay.com/docs/api/disputes/entity/)."""
    code, description = REASONS[d.reason]
    lost = status(d) == "lost"
    return {
        "id": d.id,
        "entity": "dispute",
        "payment_id": p.id,
        "amount": d.amount,
        "currency": p.currency,
        "amount_deducted": d.holds if lost else 0,
        "reason_code": d.network_reason_code or code,
        "reason_description": description,
        "respond_by": int(d.evidence_due_by),
        "status": status(d),
        "phase": phase(d),
        "created_at": int(d.created),
        "evidence": _evidence(d),
    }


# -- handlers -----------------------------------------------------------------------------

async def _find(ctx: Context, dispute_id: str) -> tuple[Payment, Dispute]:
    p = await ctx.resolve(dispute_id)
    d = next((x for x in p.disputes if x.id == dispute_id), None) if p else None
    if p is None or d is None:
        raise wire.not_found()
    return p, d


def _refusal(d: Dispute, action: str, exc: Exception) -> InvalidRequest:
    """Razorpay's 400 for a step the dispute's state does not allow."""
    if status(d) != "open":
        message = (f"The dispute cannot be {action}ed: its status is {status(d)}; only "
                   "open disputes can be accepted or contested.")
    elif isinstance(exc, DisputeError) and "due by" in str(exc):
        message = (f"The dispute cannot be {action}ed: its respond_by date "
                   f"({int(d.evidence_due_by)}) has passed.")
    else:
        message = str(exc)
    return wire.bad_request(message, field="id", source="business", step="NA",
                            reason="dispute_not_open" if status(d) != "open"
                            else "input_validation_failed")


async def _run(ctx: Context, command: UpdateDispute | AcceptDispute, p: Payment, d: Dispute,
               action: str) -> dict[str, Any]:
    try:
        result = await ctx.execute(command, p, country="IN")
    except NoSuchPayment:
        raise wire.not_found() from None
    except (DisputeError, AmountExceeded) as exc:
        raise _refusal(d, action, exc) from None
    assert result.dispute is not None
    return dispute(result.payment, result.dispute)


async def list_disputes(ctx: Context, params: dict[str, Any]) -> Any:
    pays = await ctx.payments()
    found = sorted(((p, d) for p in pays for d in p.disputes),
                   key=lambda pd: (-pd[1].created, pd[1].id))
    return wire.collection([dispute(p, d) for p, d in
                            wire.window(found, params, created=lambda pd: pd[1].created)])


async def retrieve_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    p, d = await _find(ctx, ctx.path["id"])
    return dispute(p, d)


async def accept_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    """The merchant accepts: the dispute is lost and its amount deducted."""
    p, d = await _find(ctx, ctx.path["id"])
    return await _run(ctx, AcceptDispute(p.id, dispute_id=d.id), p, d, "accept")


async def contest_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    """Stage evidence (`action: draft`, the default) or send it (`action: submit`): the
    dispute goes under review. A contest needs at least one document, as Razorpay's
    does, and an amount no larger than the dispute's."""
    p, d = await _find(ctx, ctx.path["id"])
    action = params.get("action", "draft")
    evidence = {k: v for k, v in params.items() if k != "action"}
    amount = evidence.get("amount")
    if amount is not None and amount > d.amount:
        raise wire.bad_request(
            f"The contest amount ({amount}) cannot be greater than the disputed amount "
            f"({d.amount}).", field="amount")
    if action == "submit":
        staged = {**d.evidence, **evidence}
        if not any(staged.get(k) for k in DOCUMENT_FIELDS) and not staged.get("others"):
            raise wire.bad_request(
                "At least one evidence document is required to contest a dispute: give "
                "document ids (doc_…) in shipping_proof, billing_proof, "
                "explanation_letter, … or others.", field="action")
    command = UpdateDispute(p.id, dispute_id=d.id, evidence=evidence or None,
                            submit=action == "submit")
    return await _run(ctx, command, p, d, "contest")
