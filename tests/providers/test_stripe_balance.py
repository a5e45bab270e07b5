"""Stripe's balance, balance transactions and payouts on the official SDK, read from the
sandbox's ledger: charges priced at the pricing file's 2.9% + 30, a refund, a lost
dispute with its fee, funds pending until the settlement delay passes on the virtual
clock, then paid out (in transit, then paid) with the transactions each payout paid."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import pytest
import stripe
import yaml

from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer

DAY = 86400
PRICING = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("pricing.yaml")
                         .read_text("utf-8"))["stripe"]


def stripe_fee(amount: int) -> int:
    """The fee pricing.yaml sets for a domestic card charge in dollars, rounded half up."""
    percent = Decimal(str(PRICING["percent"]))
    return int((amount * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)) \
        + PRICING["fixed"]["usd"]


def pay(client: stripe.StripeClient, amount: int,
        payment_method: str = "pm_card_visa") -> stripe.PaymentIntent:
    pi = client.v1.payment_intents.create(params={
        "amount": amount, "currency": "usd", "confirm": True,
        "payment_method": payment_method})
    assert pi.status == "succeeded"
    return pi


def transactions(client: stripe.StripeClient, **params: Any) -> list[stripe.BalanceTransaction]:
    return list(client.v1.balance_transactions.list(params={"limit": 100, **params}).data)


def amounts(balance: stripe.Balance) -> tuple[dict[str, int], dict[str, int]]:
    return ({a.currency: a.amount for a in balance.available},
            {a.currency: a.amount for a in balance.pending})


def lost_dispute(client: stripe.StripeClient, sim: SimulatorServer) -> tuple[
        stripe.PaymentIntent, stripe.Dispute]:
    """A payment on the dispute test card, disputed a moment later and accepted."""
    pi = pay(client, 2_000, "pm_card_createDispute")
    sim.advance_clock("1s")
    assert eventually(lambda: client.v1.disputes.list(params={"payment_intent": pi.id}).data)
    (dispute,) = client.v1.disputes.list(params={"payment_intent": pi.id}).data
    assert client.v1.disputes.close(dispute.id).status == "lost"
    return pi, dispute


def test_charges_a_refund_and_a_lost_dispute_are_priced_then_paid_out_on_the_clock(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    big, small = pay(client, 10_000), pay(client, 5_055)
    refund = client.v1.refunds.create(params={"payment_intent": small.id, "amount": 1_000})
    disputed, dispute = lost_dispute(client, payment_simulator)
    charges = {big.id: 10_000, small.id: 5_055, disputed.id: 2_000}
    nets = {pid: amount - stripe_fee(amount) for pid, amount in charges.items()}
    assert stripe_fee(5_055) == 147 + 30  # 146.595 rounds half up
    dispute_fee = PRICING["dispute_fee"]
    leaving = -1_000 - 2_000 - dispute_fee  # a refund and a chargeback leave at once

    # before the settlement delay: charges pending, the refund and the dispute available
    assert amounts(client.v1.balance.retrieve()) == ({"usd": leaving},
                                                     {"usd": sum(nets.values())})
    listed = transactions(client)
    assert [t.type for t in listed] == ["adjustment", "charge", "refund", "charge", "charge"]
    assert [t.created for t in listed] == sorted((t.created for t in listed), reverse=True)
    by_source = {t.source: t for t in listed}
    for pi in (big, small, disputed):
        t = by_source[str(pi.latest_charge)]
        amount = charges[pi.id]
        assert (t.type, t.reporting_category, t.status) == ("charge", "charge", "pending")
        assert (t.amount, t.fee, t.net, t.currency) == (amount, stripe_fee(amount),
                                                        nets[pi.id], "usd")
        assert [(f.type, f.amount, f.currency) for f in t.fee_details] == [
            ("stripe_fee", stripe_fee(amount), "usd")]
        assert t.available_on == (t.created // DAY + PRICING["settlement"]["delay_days"]) * DAY
        assert t.exchange_rate is None
    r = by_source[refund.id]
    assert (r.type, r.reporting_category, r.amount, r.fee, r.status) == (
        "refund", "refund", -1_000, 0, "available")
    d = by_source[dispute.id]
    assert (d.type, d.reporting_category, d.amount, d.fee, d.net) == (
        "adjustment", "dispute", -2_000, dispute_fee, -2_000 - dispute_fee)
    assert [(f.type, f.amount) for f in d.fee_details] == [("stripe_fee", dispute_fee)]
    assert client.v1.balance_transactions.retrieve(d.id).to_dict() == d.to_dict()
    assert [t.id for t in transactions(client, type="charge")] == [
        t.id for t in listed if t.type == "charge"]
    assert [t.id for t in transactions(client, type="adjustment")] == [d.id]
    assert [t.id for t in transactions(client, source=str(big.latest_charge))] == [
        by_source[str(big.latest_charge)].id]
    assert client.v1.payouts.list().data == []

    # two days on: the charges are available and paid out that day, in transit
    payment_simulator.advance_clock("2d")
    (payout,) = client.v1.payouts.list().data
    expected = sum(nets.values()) + leaving
    assert payout.id.startswith("po_") and payout.amount == expected
    assert (payout.status, payout.currency, payout.method, payout.type) == (
        "in_transit", "usd", "standard", "bank_account")
    assert payout.automatic is True and payout.failure_code is None
    assert payout.destination.startswith("ba_")
    assert payout.arrival_date == payout.created + DAY
    assert amounts(client.v1.balance.retrieve()) == ({"usd": 0}, {"usd": 0})

    paid = transactions(client, payout=payout.id)
    assert sorted(t.id for t in paid) == sorted(
        [t.id for t in listed] + [payout.balance_transaction])
    assert sum(t.net for t in paid) == 0
    out = client.v1.balance_transactions.retrieve(payout.balance_transaction)
    assert (out.type, out.reporting_category, out.amount, out.fee, out.source) == (
        "payout", "payout", -expected, 0, payout.id)
    assert {t.status for t in transactions(client)} == {"available"}

    # a day later the money is in the bank
    payment_simulator.advance_clock("1d")
    assert client.v1.payouts.retrieve(payout.id).status == "paid"
    assert [p.id for p in client.v1.payouts.list(params={"status": "paid"}).data] == [
        payout.id]
    assert client.v1.payouts.list(params={"status": "in_transit"}).data == []
    assert client.v1.payouts.list(
        params={"arrival_date": {"gt": payout.arrival_date}}).data == []
    assert [p.id for p in client.v1.payouts.list(
        params={"created": {"gte": payout.created, "lte": payout.created}}).data] == [
        payout.id]


def test_a_new_account_has_a_zero_balance_in_its_settlement_currency(
        client: stripe.StripeClient) -> None:
    balance = client.v1.balance.retrieve()
    assert balance.object == "balance" and balance.livemode is False
    assert amounts(balance) == ({"usd": 0}, {"usd": 0})
    assert client.v1.balance_transactions.list().data == []


def test_balance_transactions_page_newest_first_both_ways(
        client: stripe.StripeClient) -> None:
    for amount in (1_000, 2_000, 3_000, 4_000, 5_000):
        pay(client, amount)
    every = [t.id for t in transactions(client)]
    assert len(every) == 5
    first = client.v1.balance_transactions.list(params={"limit": 2})
    assert [t.id for t in first.data] == every[:2] and first.has_more
    walked = [t.id for t in client.v1.balance_transactions.list(
        params={"limit": 2}).auto_paging_iter()]
    assert walked == every
    before = client.v1.balance_transactions.list(
        params={"limit": 2, "ending_before": every[3]})
    assert [t.id for t in before.data] == every[1:3] and before.has_more


@pytest.mark.parametrize(("call", "status", "param"), [
    (lambda c: c.v1.balance_transactions.retrieve("txn_nope"), 404, "id"),
    (lambda c: c.v1.payouts.retrieve("po_nope"), 404, "id"),
    (lambda c: c.v1.balance_transactions.list(params={"payout": "po_nope"}), 404, "payout"),
    (lambda c: c.v1.balance_transactions.list(params={"type": "bogus"}), 400, "type"),
    (lambda c: c.v1.balance_transactions.list(params={"limit": 101}), 400, "limit"),
    (lambda c: c.v1.balance_transactions.list(params={"created": {"gte": "soon"}}), 400,
     "created[gte]"),
    (lambda c: c.v1.payouts.list(params={"status": "lost"}), 400, "status"),
    (lambda c: c.v1.balance_transactions.list(params={"starting_after": "txn_nope"}), 400,
     "starting_after"),
])
def test_bad_ids_and_filters_get_stripes_own_errors(
        client: stripe.StripeClient, call: Any, status: int, param: str) -> None:
    pay(client, 1_000)
    with pytest.raises(stripe.InvalidRequestError) as info:
        call(client)
    assert info.value.http_status == status
    assert info.value.param == param


def test_a_settlement_scenario_shows_a_failed_payout_and_fees_over_the_pricing(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    by = 7
    drift = yaml.safe_load(resources.files("paysandbox.scenarios.ready").joinpath(
        "reconciliation-drift.yaml").read_text("utf-8"))
    drift["settlement"] = {"failed_payout": 1, "fee_mismatch": {"share": 1, "by": by}}
    payment_simulator.use_scenario(drift)
    pay(client, 10_000)
    payment_simulator.advance_clock("3d")
    (charge,) = transactions(client, type="charge")
    assert charge.fee == stripe_fee(10_000) + by
    (payout,) = client.v1.payouts.list().data
    assert (payout.status, payout.failure_code, payout.amount) == (
        "failed", "account_closed", charge.net)
    back = client.v1.balance_transactions.retrieve(str(payout.failure_balance_transaction))
    assert (back.type, back.amount, back.source) == ("payout_failure", charge.net, payout.id)
    assert sorted(t.type for t in transactions(client, payout=payout.id)) == [
        "charge", "payout", "payout_failure"]
    # the amount is back in the balance, as the available transactions add up to
    assert amounts(client.v1.balance.retrieve()) == ({"usd": charge.net}, {"usd": 0})
    assert sum(t.net for t in transactions(client)) == charge.net


def test_payouts_are_announced_by_webhook_when_made_and_when_they_arrive(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        webhook_receiver: Any) -> None:
    pay(client, 10_000)
    payment_simulator.advance_clock(f"{PRICING['settlement']['delay_days']}d")
    created = webhook_receiver.wait_for("stripe", "payout.created")
    event = stripe.Webhook.construct_event(created.body.decode(),
                                           created.headers["stripe-signature"],
                                           webhook_receiver.secret("stripe"))
    payout = event.data.object
    assert payout["amount"] == 10_000 - stripe_fee(10_000)
    assert payout["status"] == "in_transit"
    assert client.v1.payouts.retrieve(payout["id"]).amount == payout["amount"]
    payment_simulator.advance_clock("1d")
    paid = webhook_receiver.wait_for("stripe", "payout.paid").json()
    assert paid["data"]["object"]["id"] == payout["id"]
    assert paid["data"]["object"]["status"] == "paid"


def test_after_a_reset_the_same_days_payout_is_announced_again(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    """A suite resets the simulator between tests that pay on the same virtual day with
    the same key: each test's payout is announced, not only the first one's."""
    def announced() -> list[str]:
        return [e.data.object["amount"] for e in client.v1.events.list(
            params={"type": "payout.created"}).data]

    pay(client, 10_000)
    payment_simulator.reset()
    pay(client, 20_000)
    payment_simulator.advance_clock(f"{PRICING['settlement']['delay_days']}d")
    assert eventually(lambda: announced() == [20_000 - stripe_fee(20_000)])
