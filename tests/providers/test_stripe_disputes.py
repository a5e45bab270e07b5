"""Stripe disputes on the official SDK: the dispute test cards, `/v1/disputes` (list,
retrieve, update with evidence and submit, close), the charge.dispute.* webhooks
verified by the SDK's own `Webhook.construct_event`, the evidence deadline and the
issuer's decision on the virtual clock, early fraud warnings, refunds of disputed
funds refused, and the two other triggers (a scenario rule, the admin API)."""

from __future__ import annotations

import urllib.error
from typing import Any

import pytest
import stripe

from paysandbox.testing.client import eventually
from paysandbox.testing.receiver import WebhookReceiver
from paysandbox.testing.server import SimulatorServer


def pay(client: stripe.StripeClient, payment_method: str = "pm_card_visa",
        **params: object) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": payment_method,
        **params})


def disputes_of(client: stripe.StripeClient, pi: stripe.PaymentIntent) -> list[stripe.Dispute]:
    return list(client.v1.disputes.list(params={"payment_intent": pi.id}).data)


def disputed(client: stripe.StripeClient, sim: SimulatorServer,
             pi: stripe.PaymentIntent) -> stripe.Dispute:
    """The dispute a dispute test card opens a moment after the capture."""
    sim.advance_clock("1s")
    assert eventually(lambda: disputes_of(client, pi))
    return disputes_of(client, pi)[0]


def events(receiver: WebhookReceiver, type_: str) -> list[stripe.Event]:
    """The deliveries of `type_`, each verified by the SDK with the endpoint's secret."""
    return [stripe.Webhook.construct_event(d.body.decode(), d.headers["stripe-signature"],
                                           receiver.secret("stripe"))
            for d in receiver.received("stripe", type_)]


def admin_error(sim: SimulatorServer, path: str, body: Any) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as info:
        sim.admin("POST", path, body)
    return info.value.code, info.value.read().decode()


def test_a_dispute_card_is_disputed_defended_with_winning_evidence_and_won(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver) -> None:
    pi = pay(client, "pm_card_createDispute")
    assert pi.status == "succeeded"

    dispute = disputed(client, payment_simulator, pi)
    assert dispute.id.startswith("dp_")
    assert (dispute.status, dispute.reason, dispute.amount) == ("needs_response", "fraudulent",
                                                                2000)
    assert dispute.charge == pi.latest_charge and dispute.payment_intent == pi.id
    assert dispute.is_charge_refundable is False
    assert dispute.evidence_details.due_by == dispute.created + 7 * 86400
    assert dispute.evidence_details.submission_count == 0
    assert dispute.payment_method_details.card.network_reason_code == "10.4"
    [withdrawal] = dispute.balance_transactions
    assert (withdrawal.amount, withdrawal.fee, withdrawal.reporting_category) == (
        -2000, 1500, "dispute")
    assert client.v1.charges.retrieve(str(pi.latest_charge)).disputed is True

    webhook_receiver.wait_for("stripe", "charge.dispute.funds_withdrawn")
    [created] = events(webhook_receiver, "charge.dispute.created")
    assert created.data.object.id == dispute.id
    assert created.data.object.status == "needs_response"

    staged = client.v1.disputes.update(dispute.id, params={
        "evidence": {"uncategorized_text": "winning_evidence",
                     "customer_email_address": "jenny@example.com"},
        "submit": False, "metadata": {"case": "42"}})
    assert staged.status == "needs_response" and staged.evidence_details.has_evidence
    assert staged.evidence.customer_email_address == "jenny@example.com"
    assert staged.metadata.to_dict() == {"case": "42"}
    submitted = client.v1.disputes.update(dispute.id, params={"submit": True})
    assert submitted.status == "under_review"
    assert submitted.evidence_details.submission_count == 1
    assert submitted.evidence.uncategorized_text == "winning_evidence"
    with pytest.raises(stripe.InvalidRequestError, match="under review"):
        client.v1.disputes.update(dispute.id, params={
            "evidence": {"uncategorized_text": "more"}})

    payment_simulator.advance_clock("1h")
    assert eventually(lambda: client.v1.disputes.retrieve(dispute.id).status == "won")
    won = client.v1.disputes.retrieve(dispute.id)
    assert [t.reporting_category for t in won.balance_transactions] == [
        "dispute", "dispute_reversal"]
    assert won.balance_transactions[1].amount == 2000
    webhook_receiver.wait_for("stripe", "charge.dispute.closed")
    [reinstated] = events(webhook_receiver, "charge.dispute.funds_reinstated")
    assert reinstated.data.object.status == "won"
    assert sorted(e.data.object.status for e in events(webhook_receiver,
                                                       "charge.dispute.updated")
                  ) == ["needs_response", "under_review"]
    # Won: the funds are the merchant's again, so they can be refunded.
    assert client.v1.refunds.create(params={"payment_intent": pi.id}).amount == 2000


def test_losing_evidence_loses_and_the_funds_stay_withdrawn(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver) -> None:
    pi = pay(client, "pm_card_createDisputeProductNotReceived")
    dispute = disputed(client, payment_simulator, pi)
    assert dispute.reason == "product_not_received"
    assert dispute.payment_method_details.card.network_reason_code == "13.1"
    client.v1.disputes.update(dispute.id, params={
        "evidence": {"uncategorized_text": "losing_evidence"}})  # submit defaults to true
    payment_simulator.advance_clock("1h")
    assert eventually(lambda: client.v1.disputes.retrieve(dispute.id).status == "lost")
    closed = webhook_receiver.wait_for("stripe", "charge.dispute.closed").json()
    assert closed["data"]["object"]["status"] == "lost"
    assert len(closed["data"]["object"]["balance_transactions"]) == 1
    assert not webhook_receiver.received("stripe", "charge.dispute.funds_reinstated")


def test_an_unanswered_dispute_is_lost_when_the_clock_passes_its_due_date(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver) -> None:
    pi = pay(client, "pm_card_createDispute")
    dispute = disputed(client, payment_simulator, pi)
    payment_simulator.advance_clock("6d")
    assert client.v1.disputes.retrieve(dispute.id).status == "needs_response"
    payment_simulator.advance_clock("1d")
    assert eventually(lambda: client.v1.disputes.retrieve(dispute.id).status == "lost")
    webhook_receiver.wait_for("stripe", "charge.dispute.closed")
    [closed] = events(webhook_receiver, "charge.dispute.closed")
    assert closed.data.object.id == dispute.id
    state = payment_simulator.admin("GET", f"/payments/{pi.id}")["disputes"][0]
    assert state["expired"] is True and state["submissions"] == 0
    with pytest.raises(stripe.InvalidRequestError, match="already closed"):
        client.v1.disputes.update(dispute.id, params={
            "evidence": {"uncategorized_text": "too late"}})
    # Metadata stays editable on a closed dispute, as on Stripe.
    tagged = client.v1.disputes.update(dispute.id, params={"metadata": {"note": "missed"}})
    assert tagged.metadata.to_dict() == {"note": "missed"} and tagged.status == "lost"


def test_closing_a_dispute_accepts_it(client: stripe.StripeClient,
                                      payment_simulator: SimulatorServer) -> None:
    pi = pay(client, "pm_card_createDispute")
    dispute = disputed(client, payment_simulator, pi)
    closed = client.v1.disputes.close(dispute.id)
    assert closed.status == "lost"
    with pytest.raises(stripe.InvalidRequestError, match="already closed"):
        client.v1.disputes.close(dispute.id)


def test_an_inquiry_moves_no_money(client: stripe.StripeClient,
                                   payment_simulator: SimulatorServer,
                                   webhook_receiver: WebhookReceiver) -> None:
    pi = pay(client, "pm_card_createDisputeInquiry")
    inquiry = disputed(client, payment_simulator, pi)
    assert inquiry.status == "warning_needs_response"
    assert inquiry.balance_transactions == [] and inquiry.is_charge_refundable is True
    assert inquiry.payment_method_details.card.case_type == "inquiry"
    webhook_receiver.wait_for("stripe", "charge.dispute.created")
    assert not webhook_receiver.received("stripe", "charge.dispute.funds_withdrawn")
    answered = client.v1.disputes.update(inquiry.id, params={
        "evidence": {"product_description": "A sweater, delivered"}})
    assert answered.status == "warning_under_review"
    payment_simulator.advance_clock("1h")
    assert eventually(lambda: client.v1.disputes.retrieve(inquiry.id).status
                      == "warning_closed")
    # An inquiry holds nothing back: the payment can be refunded in full.
    assert client.v1.refunds.create(params={"payment_intent": pi.id}).amount == 2000


def test_manual_capture_is_disputed_once_captured(client: stripe.StripeClient,
                                                  payment_simulator: SimulatorServer) -> None:
    pi = pay(client, "pm_card_createDispute", capture_method="manual")
    payment_simulator.advance_clock("1m")
    assert disputes_of(client, pi) == []  # nothing captured, nothing to dispute
    client.v1.payment_intents.capture(pi.id, params={"amount_to_capture": 1500})
    assert disputed(client, payment_simulator, pi).amount == 1500


def test_the_early_fraud_warning_card(client: stripe.StripeClient,
                                      payment_simulator: SimulatorServer,
                                      webhook_receiver: WebhookReceiver) -> None:
    pi = pay(client, "pm_card_createIssuerFraudRecord")
    webhook_receiver.wait_for("stripe", "radar.early_fraud_warning.created")
    [event] = events(webhook_receiver, "radar.early_fraud_warning.created")
    warning = event.data.object
    assert warning.id.startswith("issfr_") and warning.charge == pi.latest_charge
    assert warning.fraud_type == "made_with_stolen_card" and warning.actionable is True
    listed = client.v1.radar.early_fraud_warnings.list(params={"payment_intent": pi.id})
    assert [w.id for w in listed.data] == [warning.id]
    assert client.v1.radar.early_fraud_warnings.retrieve(warning.id).payment_intent == pi.id
    assert client.v1.radar.early_fraud_warnings.list(params={
        "payment_intent": pay(client).id}).data == []
    payment_simulator.advance_clock("1h")
    assert disputes_of(client, pi) == []  # a warning, not a dispute
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.radar.early_fraud_warnings.retrieve("issfr_unknown")
    assert err.value.http_status == 404


def test_a_refund_beyond_what_is_neither_refunded_nor_disputed_is_refused(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    pi = pay(client, amount=5000)
    client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1000})
    state = payment_simulator.admin("POST", f"/payments/{pi.id}/dispute",
                                    {"reason": "product_unacceptable", "amount": 3000})
    assert state["amount_disputed"] == 3000
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1500})
    assert err.value.code == "charge_disputed"
    assert "1000" in str(err.value.user_message) or "10.00" in str(err.value.user_message)
    with pytest.raises(stripe.InvalidRequestError) as err:  # no amount: the whole charge
        client.v1.refunds.create(params={"payment_intent": pi.id})
    assert err.value.code == "charge_disputed"
    assert client.v1.refunds.create(params={"payment_intent": pi.id,
                                            "amount": 1000}).amount == 1000
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 1})
    assert err.value.code == "charge_disputed"
    # A second dispute can only take what is left: nothing.
    status, message = admin_error(payment_simulator, f"/payments/{pi.id}/dispute",
                                  {"reason": "duplicate"})
    assert status == 409 and "only 0 is available" in message


def test_the_admin_api_opens_a_dispute_that_ends_as_asked(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver) -> None:
    pi = pay(client, payment_method="pm_card_mastercard")
    state = payment_simulator.admin("POST", f"/payments/{pi.id}/dispute", {
        "reason": "subscription_canceled", "amount": 500, "evidence_window": "3d",
        "decide_after": "2d", "ends": "lost"})
    [d] = state["disputes"]
    assert (d["reason"], d["amount"], d["status"], d["funds_withdrawn"]) == (
        "subscription_canceled", 500, "needs_response", True)
    dispute = client.v1.disputes.retrieve(d["id"])
    assert dispute.evidence_details.due_by == dispute.created + 3 * 86400
    assert dispute.payment_method_details.card.network_reason_code == "4841"
    webhook_receiver.wait_for("stripe", "charge.dispute.created")
    client.v1.disputes.update(d["id"], params={
        "evidence": {"cancellation_rebuttal": "Cancelled after renewal"}})
    payment_simulator.advance_clock("1d")
    assert client.v1.disputes.retrieve(d["id"]).status == "under_review"
    payment_simulator.advance_clock("1d")
    assert eventually(lambda: client.v1.disputes.retrieve(d["id"]).status == "lost")


@pytest.mark.parametrize("body, status, words", [
    ({"reason": "chargeback_fun"}, 400, "Unknown dispute reason"),
    ({"reason": "fraudulent", "amount": -5}, 400, "positive integer"),
    ({"reason": "fraudulent", "ends": "maybe"}, 400, "won or lost"),
    ({"reason": "fraudulent", "evidence_window": "soon"}, 400, "Invalid duration"),
    ({"reason": "fraudulent", "colour": "red"}, 400, "Unknown field"),
    ({"reason": "fraudulent", "amount": 999_999}, 409, "only 2000 is available"),
])
def test_the_admin_api_refuses_a_bad_dispute_clearly(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        body: dict[str, Any], status: int, words: str) -> None:
    pi = pay(client)
    got, message = admin_error(payment_simulator, f"/payments/{pi.id}/dispute", body)
    assert got == status and words in message


def test_an_uncaptured_payment_cannot_be_disputed(client: stripe.StripeClient,
                                                  payment_simulator: SimulatorServer) -> None:
    pi = pay(client, capture_method="manual")
    status, message = admin_error(payment_simulator, f"/payments/{pi.id}/dispute",
                                  {"reason": "fraudulent"})
    assert status == 409 and "only a captured payment" in message


def test_listing_disputes_pages_and_filters(client: stripe.StripeClient,
                                           payment_simulator: SimulatorServer) -> None:
    paid = [pay(client) for _ in range(3)]
    for pi in paid:
        payment_simulator.admin("POST", f"/payments/{pi.id}/dispute", {"reason": "general"})
    first = client.v1.disputes.list(params={"limit": 2})
    assert len(first.data) == 2 and first.has_more
    rest = client.v1.disputes.list(params={"limit": 2, "starting_after": first.data[-1].id})
    assert len(rest.data) == 1 and not rest.has_more
    assert {d.payment_intent for d in [*first.data, *rest.data]} == {pi.id for pi in paid}
    by_charge = client.v1.disputes.list(params={"charge": str(paid[0].latest_charge)})
    assert [d.payment_intent for d in by_charge.data] == [paid[0].id]
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.disputes.retrieve("dp_nope")
    assert err.value.http_status == 404 and err.value.param == "dispute"
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.disputes.update(first.data[0].id, params={"evidence": {"colour": "red"}})
    assert err.value.code == "parameter_unknown" and err.value.param == "evidence[colour]"


SCENARIO = """
name: dispute-rate
seed: 11
rules:
  - name: some-payments-are-disputed
    match: {provider: stripe, operation: [authorize, capture]}
    dispute: {reason: product_not_received, after: 3d, evidence_window: 7d, ends: lost,
              probability: 0.25}
"""


def test_a_scenario_rule_disputes_a_share_of_captured_payments(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    payment_simulator.client.use_scenario(SCENARIO)
    paid = [pay(client) for _ in range(40)]
    payment_simulator.advance_clock("2d")
    assert client.v1.disputes.list(params={"limit": 100}).data == []
    payment_simulator.advance_clock("1d")

    def opened() -> list[stripe.Dispute]:
        return list(client.v1.disputes.list(params={"limit": 100}).data)

    status = payment_simulator.client.scenarios()[0]["rules"][0]
    assert status["matched"] == 40
    assert 4 <= status["applied"] <= 16  # the seeded rate of 0.25 over 40 captures
    assert eventually(lambda: len(opened()) == status["applied"])
    assert {d.reason for d in opened()} == {"product_not_received"}
    assert {d.payment_intent for d in opened()} <= {pi.id for pi in paid}
    one = opened()[0]
    client.v1.disputes.update(one.id, params={"evidence": {"product_description": "Shoes"}})
    payment_simulator.advance_clock("1h")
    assert eventually(lambda: client.v1.disputes.retrieve(one.id).status == "lost")
    payment_simulator.advance_clock("7d")  # the others were never answered
    assert eventually(lambda: {d.status for d in opened()} == {"lost"})


def test_a_scenario_rule_on_a_request_that_captures_nothing_is_refused() -> None:
    from paysandbox.scenarios.loader import ScenarioError, load_text
    with pytest.raises(ScenarioError) as err:
        load_text("name: x\nrules:\n  - match: {operation: refund}\n"
                  "    dispute: {reason: fraudulent}\n")
    assert "$.rules[0].dispute" in str(err.value) and "capture nothing" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        load_text("name: x\nrules:\n  - dispute: {reason: bogus}\n")
    assert "bogus" in str(err.value)


def test_a_dispute_rule_for_a_provider_that_renders_no_disputes_is_refused() -> None:
    from paysandbox.scenarios.loader import ScenarioError, load_text
    with pytest.raises(ScenarioError) as err:
        load_text("name: x\nrules:\n  - match: {provider: daraja, operation: authorize}\n"
                  "    dispute: {reason: fraudulent}\n")
    assert "daraja does not render disputes yet" in str(err.value)
    assert "stripe" in str(err.value)


def test_chaos_rules_cannot_lose_a_dispute_or_its_deadline(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    """Opening a dispute and its deadline are the clock's doing, not requests: a fault
    rule that matches them (here, every one of them) changes nothing."""
    payment_simulator.client.use_scenario(
        "name: chaos\nrules:\n  - match: {provider: stripe, operation: [open_dispute, "
        "expire_dispute]}\n    fault: {http: 503}\n    latency: 5s\n")
    pi = pay(client, "pm_card_createDispute")
    dispute = disputed(client, payment_simulator, pi)
    payment_simulator.advance_clock("7d")
    assert eventually(lambda: client.v1.disputes.retrieve(dispute.id).status == "lost")
