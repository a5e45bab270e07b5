"""Checkout.com disputes on the official SDK's disputes client: the documented dispute
test scenario, `/disputes` (filters, skip/limit paging), details, evidence provided,
read back and submitted, accept; the dispute webhooks, signed with Cko-Signature and
verified here with the documented algorithm (the SDK has no verifier); the evidence
deadline and the issuer's decision on the virtual clock; refunds of disputed funds
refused in Checkout.com's own words; the scenario and admin triggers."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

import pytest
from checkout_sdk.common.enums import Currency
from checkout_sdk.disputes.disputes import DisputeEvidenceRequest, DisputesQueryFilter
from checkout_sdk.exception import CheckoutApiException
from checkout_sdk.payments.payments import CaptureRequest, RefundRequest

from paysandbox.testing.client import eventually
from paysandbox.testing.receiver import Delivery, WebhookReceiver
from paysandbox.testing.server import SimulatorServer
from tests.providers.checkoutcom_support import card_payment, sdk


def scenario_payment(amount: int = 1040, currency: Any = Currency.GBP, **extra: Any) -> Any:
    """"Disputes testing"'s request example: a 10.40 payment on a card expiring 01/2099."""
    request = card_payment(amount=amount, currency=currency,
                           reference="Testing disputes for Visa", **extra)
    request.source.expiry_month = 1
    request.source.expiry_year = 2099
    return request


def query(**filters: Any) -> DisputesQueryFilter:
    q = DisputesQueryFilter()
    for key, value in filters.items():
        setattr(q, key, value)
    return q


def evidence(**fields: str) -> DisputeEvidenceRequest:
    request = DisputeEvidenceRequest()
    for key, value in fields.items():
        setattr(request, key, value)
    return request


def disputes_of(api: Any, payment_id: str) -> list[Any]:
    return list(api.disputes.query(query(payment_id=payment_id)).data)


def opened(api: Any, sim: SimulatorServer, payment_id: str) -> Any:
    """The dispute a test scenario opens about a minute after the capture."""
    sim.advance_clock("1m")
    assert eventually(lambda: disputes_of(api, payment_id))
    return api.disputes.get_dispute_details(disputes_of(api, payment_id)[0].id)


def verified(delivery: Delivery, secret: str) -> dict[str, Any]:
    """As the docs say: Cko-Signature is the hex HMAC-SHA256 of the raw body."""
    expected = hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, delivery.headers["cko-signature"])
    return delivery.json()  # type: ignore[no-any-return]


def hooks(receiver: WebhookReceiver, type_: str) -> list[dict[str, Any]]:
    return [verified(d, receiver.secret("checkoutcom"))
            for d in receiver.received("checkoutcom", type_)]


def error_of(call: Any) -> CheckoutApiException:
    with pytest.raises(CheckoutApiException) as caught:
        call()
    return caught.value


def test_the_test_scenario_is_disputed_defended_and_won(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(scenario_payment())
    assert paid.approved
    assert disputes_of(api, paid.id) == []  # "Disputes appear after one minute"

    dispute = opened(api, payment_simulator, paid.id)
    assert dispute.id.startswith("dsp_") and len(dispute.id) == 26
    assert (dispute.status, dispute.category, dispute.amount, dispute.currency) == (
        "evidence_required", "fraudulent", 1040, "GBP")
    assert dispute.reason_code == "10.4"
    assert dispute.payment.id == paid.id and dispute.payment.method == "Visa"
    assert "proof_of_delivery_or_service" in dispute.relevant_evidence
    received = datetime.fromisoformat(dispute.received_on)
    assert datetime.fromisoformat(dispute.evidence_required_by) - received == \
        timedelta(days=7)
    assert dispute._links.evidence.href.endswith(f"/disputes/{dispute.id}/evidence")
    # The chargeback holds the funds: nothing is left to refund.
    assert api.payments.get_payment_details(paid.id).balances.available_to_refund == 0

    webhook_receiver.wait_for("checkoutcom", "dispute_evidence_required")
    [required] = hooks(webhook_receiver, "dispute_evidence_required")
    assert required["data"]["id"] == dispute.id
    assert required["data"]["payment_id"] == paid.id
    assert required["data"]["reason_code"] == "10.4"
    assert required["data"]["evidence_required_by"]
    assert [h["data"]["id"] for h in hooks(webhook_receiver, "dispute_received")] == [
        dispute.id]

    api.disputes.put_evidence(dispute.id, evidence(
        proof_of_delivery_or_service_text="Signed delivery slip"))
    api.disputes.put_evidence(dispute.id, evidence(
        customer_communication_text="The cardholder thanked us for the parcel"))
    provided = api.disputes.get_evidence(dispute.id)
    assert provided.proof_of_delivery_or_service_text == "Signed delivery slip"
    assert provided.customer_communication_text.startswith("The cardholder")
    assert api.disputes.get_dispute_details(dispute.id).status == "evidence_required"
    assert not webhook_receiver.received("checkoutcom", "dispute_evidence_submitted")

    api.disputes.submit_evidence(dispute.id)
    assert api.disputes.get_dispute_details(dispute.id).status == "evidence_under_review"
    late = error_of(lambda: api.disputes.put_evidence(dispute.id, evidence(
        additional_evidence_text="one more thing")))
    assert late.http_metadata.status_code == 422
    assert late.error_details == ["dispute_evidence_already_submitted"]
    webhook_receiver.wait_for("checkoutcom", "dispute_evidence_submitted")

    payment_simulator.advance_clock("1h")  # the issuer decides
    assert eventually(lambda: api.disputes.get_dispute_details(dispute.id).status == "won")
    webhook_receiver.wait_for("checkoutcom", "dispute_won")
    [won] = hooks(webhook_receiver, "dispute_won")
    assert won["data"]["id"] == dispute.id and "evidence_required_by" not in won["data"]
    # Won: the funds are the merchant's again.
    assert api.payments.get_payment_details(paid.id).balances.available_to_refund == 1040


def test_an_unanswered_dispute_expires_at_its_deadline(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(scenario_payment())
    dispute = opened(api, payment_simulator, paid.id)
    payment_simulator.advance_clock("6d")
    assert api.disputes.get_dispute_details(dispute.id).status == "evidence_required"
    payment_simulator.advance_clock("1d")
    assert eventually(lambda: api.disputes.get_dispute_details(dispute.id).status ==
                      "expired")
    expired = verified(webhook_receiver.wait_for("checkoutcom", "dispute_expired"),
                       webhook_receiver.secret("checkoutcom"))
    assert expired["data"]["id"] == dispute.id
    too_late = error_of(lambda: api.disputes.put_evidence(dispute.id, evidence(
        invoice_or_receipt_text="Invoice 42")))
    assert too_late.error_details == ["dispute_already_closed"]
    assert error_of(lambda: api.disputes.accept(dispute.id)).error_details == [
        "dispute_already_closed"]
    state = payment_simulator.admin("GET", f"/payments/{paid.id}")
    assert state["disputes"][0]["expired"] is True and state["amount_disputed"] == 1040


def test_accepting_a_dispute_closes_it_and_keeps_the_funds_with_the_cardholder(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(scenario_payment())
    dispute = opened(api, payment_simulator, paid.id)
    api.disputes.accept(dispute.id)
    assert api.disputes.get_dispute_details(dispute.id).status == "accepted"
    webhook_receiver.wait_for("checkoutcom", "dispute_accepted")
    assert error_of(lambda: api.disputes.submit_evidence(dispute.id)).error_details == [
        "dispute_already_closed"]
    assert api.payments.get_payment_details(paid.id).balances.available_to_refund == 0


def test_submitting_without_evidence_and_empty_evidence_are_refused(
        payment_simulator: SimulatorServer) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(scenario_payment())
    dispute = opened(api, payment_simulator, paid.id)
    nothing = error_of(lambda: api.disputes.submit_evidence(dispute.id))
    assert (nothing.http_metadata.status_code, nothing.error_details) == (
        422, ["dispute_evidence_required"])
    assert error_of(lambda: api.disputes.put_evidence(dispute.id, evidence())
                    ).error_details == ["dispute_evidence_required"]
    too_long = error_of(lambda: api.disputes.put_evidence(dispute.id, evidence(
        invoice_or_receipt_text="x" * 501)))
    assert too_long.error_details == ["invoice_or_receipt_text_invalid"]
    missing = error_of(lambda: api.disputes.get_dispute_details("dsp_" + "a" * 22))
    assert missing.http_metadata.status_code == 404


def test_a_manual_capture_is_disputed_once_captured_and_other_payments_never(
        payment_simulator: SimulatorServer) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    held = api.payments.request_payment(scenario_payment(capture=False))
    plain = api.payments.request_payment(card_payment(amount=1040, currency=Currency.GBP))
    # "You cannot test disputes with currencies that use the full amount."
    yen = api.payments.request_payment(scenario_payment(currency=Currency.JPY))
    payment_simulator.advance_clock("5m")
    assert disputes_of(api, held.id) == [] and disputes_of(api, plain.id) == []
    api.payments.capture_payment(held.id, CaptureRequest())
    assert opened(api, payment_simulator, held.id).amount == 1040
    assert disputes_of(api, plain.id) == [] and disputes_of(api, yen.id) == []


def test_a_refund_beyond_what_is_neither_refunded_nor_disputed_is_refused(
        payment_simulator: SimulatorServer) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(card_payment(amount=5000))
    refund = RefundRequest()
    refund.amount = 1000
    api.payments.refund_payment(paid.id, refund)
    state = payment_simulator.admin("POST", f"/payments/{paid.id}/dispute",
                                    {"reason": "product_unacceptable", "amount": 3000})
    assert state["amount_disputed"] == 3000
    assert api.payments.get_payment_details(paid.id).balances.available_to_refund == 1000
    refund.amount = 1500
    refused = error_of(lambda: api.payments.refund_payment(paid.id, refund))
    assert (refused.http_metadata.status_code, refused.error_details) == (
        422, ["refund_amount_exceeds_balance"])
    refund.amount = 1000
    assert api.payments.refund_payment(paid.id, refund).action_id.startswith("act_")
    [d] = api.disputes.query(query(payment_id=paid.id)).data
    assert (d.category, d.amount, d.status) == ("not_as_described", 3000,
                                                "evidence_required")


def test_the_admin_api_opens_a_dispute_that_ends_as_asked(
        payment_simulator: SimulatorServer, webhook_receiver: WebhookReceiver) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(card_payment("5555555555554444", amount=2500))
    state = payment_simulator.admin("POST", f"/payments/{paid.id}/dispute", {
        "reason": "subscription_canceled", "amount": 500, "evidence_window": "3d",
        "decide_after": "2d", "ends": "lost"})
    dispute_id = state["disputes"][0]["id"]
    dispute = api.disputes.get_dispute_details(dispute_id)
    assert (dispute.category, dispute.reason_code, dispute.payment.method) == (
        "canceled_recurring", "4841", "Mastercard")
    api.disputes.put_evidence(dispute_id, evidence(
        recurring_transaction_agreement_text="Renewal terms accepted on 2026-01-01"))
    api.disputes.submit_evidence(dispute_id)
    payment_simulator.advance_clock("1d")
    assert api.disputes.get_dispute_details(dispute_id).status == "evidence_under_review"
    payment_simulator.advance_clock("1d")
    assert eventually(lambda: api.disputes.get_dispute_details(dispute_id).status == "lost")
    lost = verified(webhook_receiver.wait_for("checkoutcom", "dispute_lost"),
                    webhook_receiver.secret("checkoutcom"))
    assert lost["data"]["amount"] == 500 and lost["data"]["category"] == "canceled_recurring"


def test_listing_filters_and_pages_newest_update_first(
        payment_simulator: SimulatorServer) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = [api.payments.request_payment(card_payment(reference=f"ORD-{i}"))
            for i in range(3)]
    ids = []
    for p in paid:
        state = payment_simulator.admin("POST", f"/payments/{p.id}/dispute",
                                        {"reason": "duplicate"})
        ids.append(state["disputes"][0]["id"])
        payment_simulator.advance_clock("1m")
    api.disputes.put_evidence(ids[0], evidence(invoice_or_receipt_text="Two invoices"))
    api.disputes.submit_evidence(ids[0])  # now the most recently updated

    everything = api.disputes.query(query())
    assert everything.total_count == 3 and everything.limit == 50 and everything.skip == 0
    assert [d.id for d in everything.data] == [ids[0], ids[2], ids[1]]
    page = api.disputes.query(query(limit=2, skip=1))
    assert page.total_count == 3 and [d.id for d in page.data] == [ids[2], ids[1]]
    under_review = api.disputes.query(query(statuses="evidence_under_review,won"))
    assert [d.id for d in under_review.data] == [ids[0]]
    assert under_review.statuses == "evidence_under_review,won"
    by_reference = api.disputes.query(query(payment_reference="ORD-1"))
    assert [(d.id, d.payment_reference) for d in by_reference.data] == [(ids[1], "ORD-1")]
    assert [d.id for d in api.disputes.query(query(id=ids[2])).data] == [ids[2]]
    summary = by_reference.data[0]
    assert summary.payment_id == paid[1].id and summary.payment_method == "VISA"
    assert len(summary.payment_arn) == 23
    assert api.disputes.query(query(payment_arn=summary.payment_arn)).total_count == 1
    entity = api.disputes.get_dispute_details(ids[1]).entity_id
    assert api.disputes.query(query(entity_ids=entity)).total_count == 3
    assert api.disputes.query(query(entity_ids="ent_other")).total_count == 0

    # ids[1] and ids[2] were last updated a minute apart, ids[0] after both.
    second = datetime.fromisoformat(api.disputes.get_dispute_details(ids[2]).last_update)
    since = api.disputes.query(query(from_=second))
    assert [d.id for d in since.data] == [ids[0], ids[2]]
    until = api.disputes.query(query(to=second - timedelta(seconds=1)))
    assert [d.id for d in until.data] == [ids[1]]

    other_key = sdk(payment_simulator.url("checkoutcom"))
    assert other_key.disputes.query(query()).total_count == 0


@pytest.mark.parametrize("filters, code", [
    ({"limit": 0}, "paging_limit_invalid"),
    ({"limit": 251}, "paging_limit_invalid"),
    ({"skip": -1}, "paging_skip_invalid"),
    ({"from_": "yesterday"}, "paging_from_invalid"),
])
def test_bad_paging_is_refused_with_checkoutcoms_paging_codes(
        payment_simulator: SimulatorServer, filters: dict[str, Any], code: str) -> None:
    api = sdk(payment_simulator.url("checkoutcom"))
    refused = error_of(lambda: api.disputes.query(query(**filters)))
    assert (refused.http_metadata.status_code, refused.error_details) == (422, [code])


SCENARIO = """
name: cko-dispute-rate
seed: 5
rules:
  - name: some-payments-are-disputed
    match: {provider: checkoutcom, operation: authorize}
    dispute: {reason: product_not_received, after: 2d, evidence_window: 5d, ends: won,
              probability: 0.5}
"""


def test_a_scenario_rule_disputes_a_share_of_captured_payments(
        payment_simulator: SimulatorServer) -> None:
    payment_simulator.client.use_scenario(SCENARIO)
    api = sdk(payment_simulator.url("checkoutcom"))
    paid = {api.payments.request_payment(card_payment()).id for _ in range(20)}
    payment_simulator.advance_clock("1d")
    assert api.disputes.query(query()).total_count == 0
    payment_simulator.advance_clock("1d")
    rule = payment_simulator.client.scenarios()[0]["rules"][0]
    assert rule["matched"] == 20 and 3 <= rule["applied"] <= 17
    assert eventually(lambda: api.disputes.query(query()).total_count == rule["applied"])
    found = api.disputes.query(query(limit=250)).data
    assert {d.category for d in found} == {"product_service_not_received"}
    assert {d.payment_id for d in found} <= paid
