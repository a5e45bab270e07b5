"""The dispute lifecycle as pure transitions on a payment: opening, evidence, the
issuer's decision, the deadline, a second cycle, and the money invariant with refunds
(refunded + charged back <= captured); stored and read back by the versioned codec."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from paysandbox.core import disputes, payments
from paysandbox.core.disputes import (
    DisputeError,
    DisputeKind,
    DisputeReason,
    DisputeStage,
    DisputeStatus,
)
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import AmountExceeded, Payment, Status
from paysandbox.store.codec import BadRecord, decode_payment, encode_payment

R = DisputeReason
NOW = 1_800_000_000.0
DAY = 86400.0


def captured(amount: int = 5000) -> Payment:
    p = Payment(id="pi_1", namespace="ns", provider="stripe", amount=amount, currency="USD",
                created=NOW)
    return payments.attempt(p, Outcome.approve(), NOW)


def opened(p: Payment | None = None, **options: object) -> Payment:
    return disputes.open_dispute(p or captured(), "dp_1", NOW + DAY,
                                 reason=R.FRAUDULENT, **options)  # type: ignore[arg-type]


def test_a_chargeback_withdraws_its_amount_and_opens_the_evidence_window() -> None:
    p = opened(amount=3000, evidence_window=7 * DAY)
    [d] = p.disputes
    assert (d.status, d.kind, d.stage, d.amount) == (
        DisputeStatus.NEEDS_RESPONSE, DisputeKind.CHARGEBACK, DisputeStage.FIRST, 3000)
    assert d.evidence_due_by == NOW + 8 * DAY and d.funds_withdrawn
    assert p.status is Status.CAPTURED and p.amount_disputed == 3000
    assert p.amount_refundable == 2000
    assert p.history[-1].action == "dispute_opened" and p.version == captured().version + 1


def test_an_inquiry_holds_nothing() -> None:
    p = opened(kind=DisputeKind.INQUIRY)
    assert p.amount_disputed == 0 and p.amount_refundable == 5000
    assert not p.disputes[0].funds_withdrawn


def test_only_what_is_neither_refunded_nor_disputed_can_be_refunded_or_disputed() -> None:
    p = payments.refund(captured(), "re_1", 1000, NOW)
    p = opened(p, amount=3000)
    with pytest.raises(AmountExceeded) as refused:
        payments.refund(p, "re_2", 1500, NOW + 2 * DAY)
    assert refused.value.available == 1000
    p = payments.refund(p, "re_2", None, NOW + 2 * DAY)
    assert (p.status, p.amount_refunded) == (Status.PARTIALLY_REFUNDED, 2000)
    with pytest.raises(AmountExceeded):
        disputes.open_dispute(p, "dp_2", NOW + 3 * DAY, reason=R.DUPLICATE)


def test_a_dispute_needs_a_capture() -> None:
    held = payments.attempt(dataclasses.replace(captured(), status=Status.CREATED,
                                                capture_manual=True, amount_authorized=0,
                                                amount_captured=0),
                            Outcome.approve(), NOW)
    with pytest.raises(DisputeError, match="only a captured payment"):
        opened(held)


def test_submitted_evidence_is_decided_as_asked_and_a_win_reinstates_the_funds() -> None:
    p = opened()
    p = disputes.update_evidence(p, "dp_1", NOW + 2 * DAY,
                                 evidence={"uncategorized_text": "receipt"})
    assert p.disputes[0].status is DisputeStatus.NEEDS_RESPONSE
    p = disputes.update_evidence(p, "dp_1", NOW + 2 * DAY, submit=True,
                                 ends=DisputeStatus.WON)
    d = p.disputes[0]
    assert (d.status, d.submissions, dict(d.evidence)) == (
        DisputeStatus.UNDER_REVIEW, 1, {"uncategorized_text": "receipt"})
    with pytest.raises(DisputeError, match="already submitted"):
        disputes.update_evidence(p, "dp_1", NOW + 2 * DAY, evidence={"more": "x"})
    p = disputes.resolve(p, "dp_1", NOW + 3 * DAY)
    d = p.disputes[0]
    assert d.status is DisputeStatus.WON and d.funds_reinstated
    assert p.amount_disputed == 0 and p.amount_refundable == 5000
    with pytest.raises(DisputeError):
        disputes.resolve(p, "dp_1", NOW + 3 * DAY)


def test_an_unanswered_dispute_is_lost_at_its_deadline_not_before() -> None:
    p = opened(evidence_window=7 * DAY)
    due = p.disputes[0].evidence_due_by
    with pytest.raises(DisputeError):
        disputes.expire(p, "dp_1", due - 1)
    lost = disputes.expire(p, "dp_1", due, due_by=due)
    assert lost.disputes[0].status is DisputeStatus.LOST and lost.disputes[0].expired
    assert lost.amount_disputed == 5000
    with pytest.raises(DisputeError, match="can no longer be answered"):
        disputes.update_evidence(p, "dp_1", due, submit=True)
    answered = disputes.update_evidence(p, "dp_1", due - 1, submit=True)
    with pytest.raises(DisputeError):  # answered in time: the deadline changes nothing
        disputes.expire(answered, "dp_1", due, due_by=due)


def test_accepting_closes_it_lost_for_good() -> None:
    p = disputes.accept(opened(), "dp_1", NOW + 2 * DAY)
    assert p.disputes[0].status is DisputeStatus.ACCEPTED and p.amount_disputed == 5000
    with pytest.raises(DisputeError, match="already closed"):
        disputes.accept(p, "dp_1", NOW + 2 * DAY)


def test_a_won_dispute_can_go_to_a_second_cycle() -> None:
    p = disputes.update_evidence(opened(), "dp_1", NOW + 2 * DAY, submit=True)
    with pytest.raises(DisputeError, match="only a won dispute"):
        disputes.reopen(p, "dp_1", NOW, stage=DisputeStage.PRE_ARBITRATION)
    p = disputes.resolve(p, "dp_1", NOW + 3 * DAY)
    p = disputes.reopen(p, "dp_1", NOW + 10 * DAY, stage=DisputeStage.SECOND_CHARGEBACK,
                        evidence_window=5 * DAY)
    d = p.disputes[0]
    assert (d.status, d.stage, d.evidence_due_by) == (
        DisputeStatus.NEEDS_RESPONSE, DisputeStage.SECOND_CHARGEBACK, NOW + 15 * DAY)
    assert d.funds_withdrawn and not d.funds_reinstated and p.amount_disputed == 5000


def test_the_schemes_reason_codes() -> None:
    d = opened().disputes[0]
    assert disputes.scheme_reason_code(d, "visa") == "10.4"
    assert disputes.scheme_reason_code(d, "mastercard") == "4837"
    assert disputes.scheme_reason_code(d, "unionpay") is None
    given = dataclasses.replace(d, network_reason_code="10.5")
    assert disputes.scheme_reason_code(given, "visa") == "10.5"


def test_disputes_survive_the_codec_and_older_records_still_read() -> None:
    p = disputes.update_evidence(opened(amount=1200), "dp_1", NOW + 2 * DAY,
                                 evidence={"receipt": "file_1"}, metadata={"k": "v"},
                                 submit=True, ends=DisputeStatus.LOST)
    p = disputes.open_dispute(p, "dp_2", NOW + 3 * DAY, reason=R.UNRECOGNIZED,
                              kind=DisputeKind.INQUIRY, network_reason_code="10")
    raw = encode_payment(p)
    assert orjson.loads(raw)["v"] == 2
    assert decode_payment(raw, "k") == p
    # A record written before disputes existed (version 1) reads as a payment with none.
    old = orjson.loads(encode_payment(captured()))
    del old["disputes"]
    old["v"] = 1
    assert decode_payment(orjson.dumps(old), "k") == captured()
    broken = orjson.loads(raw)
    broken["disputes"][0]["status"] = "escalated"
    with pytest.raises(BadRecord, match="malformed"):
        decode_payment(orjson.dumps(broken), "k")
