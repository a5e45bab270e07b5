"""Mollie chargebacks on the official SDK: `/v2/payments/{id}/chargebacks` (list, get),
`/v2/chargebacks`, the payment's webhook on a chargeback and on its reversal (fetched
back with the SDK, as Mollie's unsigned webhook asks), the payment's `amountChargedBack`,
refunds of charged-back funds refused, and the clock deciding: Mollie takes no answer,
so a chargeback is lost unless its trigger wants it reversed."""

from __future__ import annotations

import pytest
from mollie.api.client import Client
from mollie.api.error import NotFoundError, UnprocessableEntityError
from mollie.api.objects.payment import Payment

from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers import mollie_support as support
from tests.providers.mollie_support import create, webhook_id


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


def paid(mollie: Client, sim: SimulatorServer, hooks: WebhookReceiver | None = None,
         value: str = "10.00") -> Payment:
    extra = {"webhookUrl": hooks.url} if hooks is not None else {}
    p = create(mollie, method="creditcard", amount={"currency": "EUR", "value": value},
               **extra)
    sim.client.complete(p.id, "success")
    assert eventually(lambda: mollie.payments.get(p.id).status == "paid")
    return mollie.payments.get(p.id)


def charge_back(sim: SimulatorServer, p: Payment, **body: object) -> str:
    state = sim.admin("POST", f"/payments/{p.id}/dispute", {"reason": "fraudulent", **body})
    chargeback_id: str = state["disputes"][-1]["id"]
    return chargeback_id


def test_a_chargeback_calls_the_webhook_and_stays_booked_once_its_window_closes(
        mollie: Client, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    p = paid(mollie, payment_simulator, hook_server)
    assert hook_server.wait_for(lambda got: len(got) == 1)  # paid
    cid = charge_back(payment_simulator, p)
    assert cid.startswith("chb_")

    assert hook_server.wait_for(lambda got: len(got) == 2)
    assert webhook_id(hook_server.received[1]) == p.id
    again = mollie.payments.get(p.id)  # what the webhook tells a service to read
    assert again.status == "paid" and again.has_chargebacks()
    assert again["amountChargedBack"] == {"currency": "EUR", "value": "10.00"}
    assert again.amount_remaining == {"currency": "EUR", "value": "0.00"}
    [cb] = list(again.chargebacks.list())
    assert (cb.id, cb.payment_id, cb.reversed_at, cb.reason) == (cid, p.id, None, None)
    assert cb.amount == {"currency": "EUR", "value": "10.00"}
    assert cb.settlement_amount == {"currency": "EUR", "value": "-10.00"}
    assert again.chargebacks.get(cid).created_at == cb.created_at

    payment_simulator.advance_clock("8d")  # no answer is possible: it stays booked
    state = payment_simulator.admin("GET", f"/payments/{p.id}")["disputes"][0]
    assert eventually(lambda: payment_simulator.admin(
        "GET", f"/payments/{p.id}")["disputes"][0]["status"] == "lost")
    assert state["submissions"] == 0
    assert mollie.payments.get(p.id).chargebacks.get(cid).reversed_at is None
    assert len(hook_server.received) == 2  # a lapse changes nothing at Mollie


def test_a_chargeback_to_be_won_is_reversed_and_calls_the_webhook_again(
        mollie: Client, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    p = paid(mollie, payment_simulator, hook_server, "25.00")
    cid = charge_back(payment_simulator, p, amount=1500, ends="won")
    assert hook_server.wait_for(lambda got: len(got) == 2)
    assert mollie.payments.get(p.id).amount_remaining == {"currency": "EUR", "value": "10.00"}

    payment_simulator.advance_clock("1h")  # Mollie defended it; the bank decides
    assert hook_server.wait_for(lambda got: len(got) == 3)
    assert webhook_id(hook_server.received[2]) == p.id
    reversed_ = mollie.payments.get(p.id).chargebacks.get(cid)
    assert reversed_.reversed_at is not None
    after = mollie.payments.get(p.id)
    assert "amountChargedBack" not in after  # reversed: nothing is charged back
    assert after.amount_remaining == {"currency": "EUR", "value": "25.00"}


def test_a_refund_beyond_what_is_not_charged_back_is_refused(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    p = paid(mollie, payment_simulator, value="30.00")
    p.refunds.create(
        {"amount": {"currency": "EUR", "value": "5.00"}})
    charge_back(payment_simulator, p, amount=2000)
    with pytest.raises(UnprocessableEntityError, match="higher than the amount remaining"):
        p.refunds.create(
            {"amount": {"currency": "EUR", "value": "5.01"}})
    refund = p.refunds.create(
        {"amount": {"currency": "EUR", "value": "5.00"}})
    assert refund.amount == {"currency": "EUR", "value": "5.00"}


def test_all_chargebacks_are_listed_newest_first_with_their_payment(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    ids = []
    for _ in range(3):
        ids.append(charge_back(payment_simulator, paid(mollie, payment_simulator)))
        payment_simulator.advance_clock(10)
    listed = mollie.chargebacks.list()
    assert [c.id for c in listed] == ids[::-1]
    first = mollie.chargebacks.list(limit=2)
    assert [c.id for c in first] == ids[:0:-1] and first.has_next()
    assert [c.id for c in first.get_next()] == ids[:1]
    embedded = mollie.chargebacks.list(embed="payment")
    assert all(c["_embedded"]["payment"]["id"] == c.payment_id for c in embedded)
    assert list(support.client(payment_simulator).chargebacks.list()) == []


def test_an_unknown_chargeback_is_mollies_404(mollie: Client,
                                             payment_simulator: SimulatorServer) -> None:
    p = paid(mollie, payment_simulator)
    with pytest.raises(NotFoundError, match="No chargeback exists"):
        p.chargebacks.get("chb_nope123")
    assert list(p.chargebacks.list()) == []


def test_a_scenario_rule_charges_back_a_share_of_paid_payments(
        mollie: Client, payment_simulator: SimulatorServer) -> None:
    payment_simulator.client.use_scenario(
        "name: mollie-chargebacks\nseed: 3\nrules:\n"
        "  - match: {provider: mollie, operation: complete}\n"
        "    dispute: {reason: product_not_received, after: 1d, probability: 0.5}\n")
    pays = [paid(mollie, payment_simulator) for _ in range(12)]
    payment_simulator.advance_clock("1d")
    applied = payment_simulator.client.scenarios()[0]["rules"][0]["applied"]
    assert 2 <= applied <= 10
    assert eventually(lambda: len(list(mollie.chargebacks.list())) == applied)
    assert {c.payment_id for c in mollie.chargebacks.list()} <= {p.id for p in pays}
