"""Checkout.com's Disputes API -> canonical dispute commands, and back to its objects
(https://api-reference.checkout.com/#tag/Disputes; the `nas_spec` in
../shared/provider-specs/checkoutcom/): list with its filters and skip/limit paging,
details, evidence provided (`PUT /disputes/{id}/evidence`), read back and submitted
(`POST`), accept; and the dispute webhooks.

A dispute lives on its payment (paysandbox/core/disputes.py) and its `dsp_` id is linked
to the payment, so `/disputes/{id}` finds it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from paysandbox.core.commands import AcceptDispute, OpenDispute, UpdateDispute
from paysandbox.core.disputes import (
    Dispute,
    DisputeError,
    DisputeReason,
    DisputeStatus,
    scheme_reason_code,
)
from paysandbox.core.money import currency
from paysandbox.core.payments import AmountExceeded, NoSuchPayment, Payment, Status
from paysandbox.errors import ResourceMissing
from paysandbox.providers.base import REQUEST_ID
from paysandbox.providers.checkoutcom import magic, wire
from paysandbox.providers.checkoutcom.wire import Invalid
from paysandbox.providers.seam import Context

#: The dispute's `category`, for each canonical reason.
CATEGORIES: Mapping[DisputeReason, str] = {
    DisputeReason.FRAUDULENT: "fraudulent",
    DisputeReason.UNRECOGNIZED: "unrecognized",
    DisputeReason.SUBSCRIPTION_CANCELED: "canceled_recurring",
    DisputeReason.PRODUCT_NOT_RECEIVED: "product_service_not_received",
    DisputeReason.PRODUCT_UNACCEPTABLE: "not_as_described",
    DisputeReason.CREDIT_NOT_PROCESSED: "credit_not_issued",
    DisputeReason.DUPLICATE: "duplicate",
    DisputeReason.GENERAL: "general",
}

#: The evidence types worth sending for each category ("Dispute reasons and recommended
#: evidence", https://www.checkout.com/docs/payments/process-disputes/
#: dispute-reasons-and-recommended-evidence), as `relevant_evidence` lists them.
RELEVANT_EVIDENCE: Mapping[str, tuple[str, ...]] = {
    "fraudulent": ("proof_of_delivery_or_service", "customer_communication",
                   "additional_evidence"),
    "unrecognized": ("proof_of_delivery_or_service", "invoice_or_receipt",
                     "customer_communication"),
    "canceled_recurring": ("recurring_transaction_agreement",
                           "refund_or_cancellation_policy", "customer_communication"),
    "product_service_not_received": ("proof_of_delivery_or_service", "invoice_or_receipt",
                                     "customer_communication"),
    "not_as_described": ("invoice_or_receipt", "customer_communication",
                         "refund_or_cancellation_policy"),
    "credit_not_issued": ("refund_or_cancellation_policy", "customer_communication",
                          "invoice_or_receipt"),
    "duplicate": ("invoice_showing_distinct_transactions", "invoice_or_receipt"),
    "general": ("additional_evidence", "customer_communication"),
}

#: Every evidence field `PUT /disputes/{id}/evidence` takes (ProvideEvidenceRequest).
EVIDENCE_FIELDS = tuple(f"{kind}_{part}" for kind in (
    "proof_of_delivery_or_service", "invoice_or_receipt",
    "invoice_showing_distinct_transactions", "customer_communication",
    "refund_or_cancellation_policy", "recurring_transaction_agreement",
    "additional_evidence", "proof_of_delivery_or_service_date") for part in ("file", "text"))

#: The merchant category code disputes show for the simulator's payments (5999:
#: miscellaneous retail).
MCC = "5999"


def new_dispute_id() -> str:
    """`dsp_` and 22 characters, as the spec's Dispute.id pattern has them."""
    return wire.new_id("dsp")[:26]


def status(d: Dispute) -> str:
    """The dispute's `status` in Checkout.com's words; an unanswered dispute whose
    deadline passed is `expired`, an accepted one `accepted`."""
    if d.status is DisputeStatus.LOST and d.expired:
        return "expired"
    return {DisputeStatus.NEEDS_RESPONSE: "evidence_required",
            DisputeStatus.UNDER_REVIEW: "evidence_under_review",
            DisputeStatus.WON: "won", DisputeStatus.LOST: "lost",
            DisputeStatus.ACCEPTED: "accepted"}[d.status]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_update(d: Dispute) -> float:
    return d.history[-1].at if d.history else d.created


def entity_id(namespace: str) -> str:
    """The client entity a key's disputes belong to: one per key, stable."""
    return wire.derived_id("ent", namespace)


def _arn(p: Payment) -> str:
    """The acquirer reference number: 23 digits, stable per payment."""
    return f"{int.from_bytes(hashlib.sha256(p.id.encode()).digest()[:12]):029d}"[-23:]


def _capture_action(p: Payment) -> str:
    """The action the dispute is against: the payment's (last) capture."""
    captures = [a["id"] for a in wire.actions(p, {}) if a["type"] == "Capture"]
    return captures[-1] if captures else wire.action_id(p, 0, "authorization")


def _method(p: Payment) -> str:
    return wire.scheme(p.card.brand) if p.card else "Visa"


def _common(p: Payment, d: Dispute) -> dict[str, Any]:
    out: dict[str, Any] = {"id": d.id, "entity_id": entity_id(p.namespace),
                           "category": CATEGORIES[d.reason], "amount": d.amount,
                           "currency": p.currency}
    code = scheme_reason_code(d, p.card.brand if p.card else None)
    if code is not None:
        out["reason_code"] = code
    out["status"] = status(d)
    return out


def _base(p: Payment) -> str:
    return str(p.extra.get("base", ""))


def dispute(p: Payment, d: Dispute) -> dict[str, Any]:
    """`GET /disputes/{id}`: the spec's Dispute."""
    base = _base(p)
    out = _common(p, d)
    out["relevant_evidence"] = list(RELEVANT_EVIDENCE[out["category"]])
    out["evidence_required_by"] = iso(d.evidence_due_by)
    out["received_on"] = iso(d.created)
    out["last_update"] = iso(last_update(d))
    payment: dict[str, Any] = {
        # PaymentData.amount is "the amount that is being disputed", per the spec.
        "id": p.id, "action_id": _capture_action(p), "amount": d.amount,
        "currency": p.currency, "method": _method(p), "arn": _arn(p), "mcc": MCC,
        "has_refund": p.amount_refunded > 0,
        "processed_on": iso(p.history[0].at if p.history else p.created)}
    if p.extra.get("three_ds"):
        payment["3ds"] = {"enrolled": "Y", "version": "2.2.0"}
    out["payment"] = payment
    out["_links"] = {"self": {"href": f"{base}/disputes/{d.id}"},
                     "evidence": {"href": f"{base}/disputes/{d.id}/evidence"}}
    return out


def summary(p: Payment, d: Dispute) -> dict[str, Any]:
    """One dispute in `GET /disputes`: the spec's DisputeSummary."""
    out = _common(p, d)
    out["payment_id"] = p.id
    out["payment_action_id"] = _capture_action(p)
    if p.extra.get("reference") is not None:
        out["payment_reference"] = p.extra["reference"]
    out["payment_arn"] = _arn(p)
    out["payment_mcc"] = MCC
    out["payment_method"] = _method(p).upper()
    out["evidence_required_by"] = iso(d.evidence_due_by)
    out["received_on"] = iso(d.created)
    out["last_update"] = iso(last_update(d))
    out["_links"] = {"self": {"href": f"{_base(p)}/disputes/{d.id}"}}
    return out


def evidence(p: Payment, d: Dispute) -> dict[str, Any]:
    """`GET /disputes/{id}/evidence`: what was provided, and the links."""
    base = _base(p)
    out: dict[str, Any] = {k: d.evidence[k] for k in EVIDENCE_FIELDS if k in d.evidence}
    out["_links"] = {"self": {"href": f"{base}/disputes/{d.id}/evidence"},
                     "parent": {"href": f"{base}/disputes/{d.id}"}}
    return out


def event_data(p: Payment, d: Dispute, at: float) -> dict[str, Any]:
    """The `data` of a dispute webhook (https://www.checkout.com/docs/developer-resources/
    webhooks/webhook-event-types/dispute_evidence_required and its siblings)."""
    data: dict[str, Any] = {"id": d.id, "date": wire.iso(at), "category": CATEGORIES[d.reason],
                            "amount": d.amount, "currency": p.currency}
    code = scheme_reason_code(d, p.card.brand if p.card else None)
    if code is not None:
        data["reason_code"] = code
    data["payment_id"] = p.id
    data["payment_action_id"] = _capture_action(p)
    if p.extra.get("reference") is not None:
        data["payment_reference"] = p.extra["reference"]
    data["payment_method"] = _method(p).upper()
    data["client_id"] = wire.derived_id("cli", p.namespace)
    data["processing_channel_id"] = wire.derived_id("pc", p.namespace)
    data["entity_id"] = entity_id(p.namespace)
    if d.status is DisputeStatus.NEEDS_RESPONSE:
        data["evidence_required_by"] = wire.iso(d.evidence_due_by)
    return data


def dispute_event(event_id: str, type_: str, at: float, p: Payment, d: Dispute
                  ) -> dict[str, Any]:
    """A dispute webhook, in the shape the reference's examples show."""
    base = _base(p)
    return {"id": event_id, "source": "dispute", "type": type_, "timestamp": wire.iso(at),
            "version": DISPUTE_EVENT_VERSION, "data": event_data(p, d, at),
            "_links": {"self": {"href": f"{base}/workflows/events/{event_id}"}}}


#: The `version` the reference's dispute webhook examples carry.
DISPUTE_EVENT_VERSION = "1.0.6"


# -- the test scenarios ------------------------------------------------------------------

def after_capture(ctx: Context, before: Payment | None, after: Payment) -> None:
    """A payment made with a dispute test scenario's amount and expiry date that has
    just been captured is disputed a minute later, on the virtual clock."""
    if after.status is not Status.CAPTURED or after.disputes or (
            before is not None and before.status is Status.CAPTURED):
        return
    card = after.card
    if card is None:
        return
    plan = magic.dispute_scenario(after.amount, currency(after.currency).minor_units,
                                  card.exp_month, card.exp_year)
    if plan is None:
        return
    command = OpenDispute.planned(after.id, new_dispute_id(), plan)
    ctx.schedule(command, ctx.clock.now() + plan.after)


# -- handlers -----------------------------------------------------------------------------

def no_content(ctx: Context) -> web.Response:
    """The 204 of an evidence or accept request: no body."""
    return web.Response(status=204, headers={"Cko-Request-Id": ctx.request.get(REQUEST_ID, "")})


async def _find(ctx: Context, dispute_id: str) -> tuple[Payment, Dispute]:
    p = await ctx.resolve(dispute_id)
    d = next((x for x in p.disputes if x.id == dispute_id), None) if p else None
    if p is None or d is None:
        raise ResourceMissing(f"No dispute {dispute_id}.")
    return p, d


async def _run(ctx: Context, command: UpdateDispute | AcceptDispute, p: Payment) -> None:
    """A dispute step; refused in Checkout.com's envelope when the dispute no longer
    takes it."""
    try:
        await ctx.execute(command, p)
    except NoSuchPayment:
        raise ResourceMissing(f"No dispute {command.dispute_id}.") from None
    except (DisputeError, AmountExceeded):
        raise refusal(p, command.dispute_id, ctx.clock.now()) from None


def refusal(p: Payment, dispute_id: str, now: float) -> Invalid:
    d = next((x for x in p.disputes if x.id == dispute_id), None)
    if d is None or not d.is_open:
        return Invalid("dispute_already_closed")
    if d.status is DisputeStatus.UNDER_REVIEW:
        return Invalid("dispute_evidence_already_submitted")
    if now >= d.evidence_due_by:
        return Invalid("dispute_evidence_deadline_passed")
    return Invalid("dispute_action_not_allowed")


def _moment(value: str, name: str) -> float:
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"paging_{name}_invalid") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


#: The filters `GET /disputes` echoes back in its answer, as given.
_ECHOED = ("id", "entity_ids", "sub_entity_ids", "statuses", "payment_id",
           "payment_reference", "payment_arn", "payment_mcc", "this_channel_only")


async def list_disputes(ctx: Context, params: dict[str, Any]) -> Any:
    """Newest-updated first; every filter the spec names (entity and channel filters
    match the key's one entity), `skip` and `limit` paging, `total_count`."""
    limit, skip = params.get("limit", 50), params.get("skip", 0)
    since = _moment(params["from"], "from") if "from" in params else None
    until = _moment(params["to"], "to") if "to" in params else None
    if "payment_id" in params:
        found = await ctx.payment(params["payment_id"])
        pays = [found] if found is not None else []
    else:
        pays = await ctx.payments()
    statuses = {s.strip() for s in params["statuses"].split(",")} \
        if params.get("statuses") else None
    entities = {s.strip() for s in params["entity_ids"].split(",")} \
        if params.get("entity_ids") else None
    items = []
    for p in pays:
        if "payment_reference" in params and p.extra.get("reference") != \
                params["payment_reference"]:
            continue
        if "payment_arn" in params and _arn(p) != params["payment_arn"]:
            continue
        if "payment_mcc" in params and params["payment_mcc"] != MCC:
            continue
        if entities is not None and entity_id(p.namespace) not in entities:
            continue
        for d in p.disputes:
            updated = last_update(d)
            if ("id" in params and d.id != params["id"]) or \
                    (statuses is not None and status(d) not in statuses) or \
                    (since is not None and updated < since) or \
                    (until is not None and updated > until):
                continue
            items.append((p, d))
    items.sort(key=lambda pd: (last_update(pd[1]), pd[1].id), reverse=True)
    out: dict[str, Any] = {"limit": limit, "skip": skip}
    for key in ("from", "to"):
        if key in params:
            out[key] = params[key]
    out.update({k: params[k] for k in _ECHOED if k in params})
    out["total_count"] = len(items)
    out["data"] = [summary(p, d) for p, d in items[skip:skip + limit]]
    return out


async def get_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    p, d = await _find(ctx, ctx.path["id"])
    return dispute(p, d)


async def get_dispute_evidence(ctx: Context, params: dict[str, Any]) -> Any:
    p, d = await _find(ctx, ctx.path["id"])
    return evidence(p, d)


async def provide_dispute_evidence(ctx: Context, params: dict[str, Any]) -> Any:
    """Attach evidence (merged field by field); nothing is sent until it is submitted."""
    p, d = await _find(ctx, ctx.path["id"])
    given = {k: v for k, v in params.items() if k in EVIDENCE_FIELDS}
    if not given:  # "You must provide at least one evidence type"
        raise Invalid("dispute_evidence_required")
    await _run(ctx, UpdateDispute(p.id, dispute_id=d.id, evidence=given), p)
    return no_content(ctx)


async def submit_dispute_evidence(ctx: Context, params: dict[str, Any]) -> Any:
    """Send the evidence provided so far; it can no longer be amended."""
    p, d = await _find(ctx, ctx.path["id"])
    if d.status is DisputeStatus.NEEDS_RESPONSE and not d.evidence and \
            ctx.clock.now() < d.evidence_due_by:
        raise Invalid("dispute_evidence_required")
    await _run(ctx, UpdateDispute(p.id, dispute_id=d.id, submit=True), p)
    return no_content(ctx)


async def accept_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    p, d = await _find(ctx, ctx.path["id"])
    await _run(ctx, AcceptDispute(p.id, dispute_id=d.id), p)
    return no_content(ctx)
