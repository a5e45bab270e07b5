"""Razorpay's wire pieces against its contracts (paysandbox/contracts_data/razorpay/): every payment
status, decline reason, order state, refund and webhook event renders as its schema
says, the schemas refuse drift, and every request violation becomes Razorpay's 400
naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from paysandbox import contracts
from paysandbox.core.disputes import (
    Dispute,
    DisputeKind,
    DisputeReason,
    DisputeStage,
    DisputeStatus,
)
from paysandbox.core.ledger import Payout
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Refund, Status
from paysandbox.errors import InvalidRequest
from paysandbox.providers.razorpay import disputes, magic, routes, settlements, wire


def payment(status: Status = Status.CAPTURED, **changes: Any) -> Payment:
    captured = status in wire.CAPTURED
    refunded = {Status.REFUNDED: 10000, Status.PARTIALLY_REFUNDED: 4000}.get(status, 0)
    fields: dict[str, Any] = {
        "id": wire.new_id("pay"), "namespace": "rzp_test_x", "provider": "razorpay",
        "amount": 10000, "currency": "INR", "created": 1_700_000_000.0, "status": status,
        "method": "upi", "amount_authorized": 10000 if status is Status.AUTHORIZED or captured
        else 0, "amount_captured": 10000 if captured else 0, "amount_refunded": refunded,
        "metadata": {"cart": "42"},
        "extra": {"order_id": wire.new_id("order"), "vpa": "success@razorpay",
                  "email": "gaurav.kumar@example.com", "contact": "9000090000",
                  "flow": "collect", "rrn": "123456789012", "upi_txn": "ABC123"},
        **changes}
    return Payment(**fields)


def problems(name: str, body: Any) -> list[contracts.Violation]:
    return contracts.every_violation("razorpay", name, body)


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
def test_every_status_renders_a_payment_as_the_contract_says(status: Status) -> None:
    assert problems("objects/payment", wire.payment(payment(status))) == []


@pytest.mark.parametrize("reason", list(DeclineReason), ids=lambda r: r.value)
def test_every_decline_reason_renders_a_failed_payment_as_the_contract_says(
        reason: DeclineReason) -> None:
    rendered = wire.payment(payment(Status.FAILED, decline=reason))
    assert problems("objects/payment", rendered) == []
    assert rendered["error_code"] in ("BAD_REQUEST_ERROR", "GATEWAY_ERROR")


@pytest.mark.parametrize("native", sorted(magic.NATIVE_FAILURES))
def test_native_failures_render_as_the_contract_says(native: str) -> None:
    rendered = wire.payment(payment(Status.FAILED, decline_code=native))
    assert problems("objects/payment", rendered) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"status": "settled"}, "status"),
    ({"entity": "charge"}, "entity"),
    ({"amount": "10000"}, "amount"),
    ({"id": "pi_123"}, "id"),
    ({"error_code": "BAD_REQUEST_ERROR"}, "error_code"),  # a captured payment has none
    ({"captured": False}, "captured"),
    ({"colour": "red"}, "colour"),
])
def test_the_payment_contract_catches_drift(change: dict[str, Any], field: str) -> None:
    found = problems("objects/payment", {**wire.payment(payment()), **change})
    assert field in {".".join(map(str, v.path)) for v in found}, found


def test_orders_in_every_state_render_as_the_contract_says() -> None:
    record = {"id": wire.new_id("order"), "amount": 10000, "currency": "INR",
              "receipt": "rcpt-1", "notes": {"cart": 42}, "created_at": 1_700_000_000,
              "offer_id": None}
    for pays in ([], [payment(Status.FAILED)], [payment(Status.CAPTURED)]):
        assert problems("objects/order", wire.order(record, pays)) == []
    assert wire.order(record, [])["status"] == "created"
    empty_notes = wire.order({**record, "notes": {}}, [])
    assert empty_notes["notes"] == [] and problems("objects/order", empty_notes) == []
    assert problems("objects/order", {**wire.order(record, []), "status": "paid"})


def test_refunds_and_collections_render_as_the_contract_says() -> None:
    p = payment(Status.PARTIALLY_REFUNDED)
    r = Refund(id=wire.new_id("rfnd"), amount=4000, created=1_700_000_100.0,
               reason="refund-1", metadata={"why": "damaged"})
    assert problems("objects/refund", wire.refund(p, r)) == []
    assert problems("objects/refund_list", wire.collection([wire.refund(p, r)])) == []
    assert problems("objects/payment_list", wire.collection([wire.payment(p)])) == []
    assert problems("objects/refund_list", wire.collection([wire.payment(p)]))


def test_the_error_envelope_is_as_the_contract_says() -> None:
    for error in (wire.bad_request("amount: is required.", field="amount"), wire.not_found()):
        assert problems("objects/error", wire.error_body(error)) == []
    assert problems("objects/error", {"error": {"code": "OOPS", "description": "x"}})


def disputed(status: DisputeStatus, kind: DisputeKind = DisputeKind.CHARGEBACK,
             stage: DisputeStage = DisputeStage.FIRST) -> dict[str, dict[str, Any]]:
    d = Dispute(id=wire.new_id("disp"), amount=6000, reason=DisputeReason.DUPLICATE,
                created=1_700_000_200.0, evidence_due_by=1_700_604_200.0, kind=kind,
                status=status, stage=stage,
                evidence={"summary": "Charged once", "shipping_proof": ["doc_1"],
                          "others": [{"type": "receipt", "document_ids": ["doc_2"]}]})
    p = payment(Status.CAPTURED, disputes=(d,))
    return {"payment": wire.payment(p), "dispute": disputes.dispute(p, d)}


def event_entities(type_: str) -> dict[str, dict[str, Any]]:
    record = {"id": wire.new_id("order"), "amount": 10000, "currency": "INR",
              "receipt": None, "notes": {}, "created_at": 1_700_000_000, "offer_id": None}
    captured = payment(Status.CAPTURED)
    refund = Refund(id=wire.new_id("rfnd"), amount=100, created=1_700_000_100.0)
    return {
        "payment.authorized": {"payment": wire.payment(payment(Status.AUTHORIZED))},
        "payment.captured": {"payment": wire.payment(captured)},
        "payment.failed": {"payment": wire.payment(payment(Status.EXPIRED))},
        "order.paid": {"payment": wire.payment(captured),
                       "order": wire.order(record, [captured])},
        "refund.created": {"refund": wire.refund(captured, refund),
                           "payment": wire.payment(captured)},
        "refund.processed": {"refund": wire.refund(captured, refund),
                             "payment": wire.payment(captured)},
        "payment.dispute.created": disputed(DisputeStatus.NEEDS_RESPONSE),
        "payment.dispute.action_required": disputed(
            DisputeStatus.NEEDS_RESPONSE, stage=DisputeStage.PRE_ARBITRATION),
        "payment.dispute.under_review": disputed(DisputeStatus.UNDER_REVIEW),
        "payment.dispute.won": disputed(DisputeStatus.WON),
        "payment.dispute.lost": disputed(DisputeStatus.ACCEPTED),
        "payment.dispute.closed": disputed(DisputeStatus.WON, kind=DisputeKind.INQUIRY),
        "settlement.processed": {"settlement": settlements.settlement(
            Payout("po_1", "rzp_test_x", "razorpay", "inr", 9800, 1_700_000_000.0,
                   1_700_086_400.0, ()), {})},
    }[type_]


@pytest.mark.parametrize("type_", sorted(routes.EVENT_TYPES))
def test_every_event_type_renders_as_its_contract_says(type_: str) -> None:
    manifest = contracts.manifest("razorpay")
    assert manifest is not None
    body = wire.event("rzp_test_x", type_, 1_700_000_000.0, event_entities(type_))
    assert problems(manifest.webhooks[type_], body) == []
    wrong = {**body, "payload": {k: {"entity": {**v["entity"], "status": "created"}}
                                 for k, v in body["payload"].items()}}
    assert problems(manifest.webhooks[type_], wrong), "a snapshot in the wrong state passed"


def test_event_types_are_what_events_for_emits() -> None:
    assert routes.provider.event_types == {
        "payment.authorized", "payment.captured", "payment.failed", "order.paid",
        "refund.created", "refund.processed", "payment.dispute.created",
        "payment.dispute.under_review", "payment.dispute.won", "payment.dispute.lost",
        "payment.dispute.closed", "payment.dispute.action_required",
        "settlement.processed"}


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"currency": "INR"}, "amount", "amount: is required."),
    ({"amount": "100", "currency": "INR"}, "amount", "The amount must be an integer."),
    ({"amount": -1, "currency": "INR"}, "amount", "atleast"),
    ({"amount": 100, "currency": "INR", "x": 1}, "x", "should not be sent"),
    ({"amount": 100, "currency": "INR", "payment": {"capture": "no"}}, "payment.capture",
     "must be one of automatic, manual"),
])
def test_a_violation_is_razorpays_400_naming_the_field(body: dict[str, Any], field: str,
                                                       words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        wire.check(body, "create_order.request")
    error = wire.error_body(caught.value)
    assert error["error"]["field"] == field and words in error["error"]["description"]
    assert problems("objects/error", error) == []
