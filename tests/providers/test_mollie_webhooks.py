"""Mollie's webhooks: a form POST of `id=tr_…` to the payment's webhookUrl on every status
change Mollie reports and on refunds; the receiver fetches the payment with the SDK to
learn what happened (Mollie's webhooks are not signed). Retries follow Mollie's schedule
on the virtual clock."""

from __future__ import annotations

import pytest
from mollie.api.client import Client

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers import mollie_support as support
from tests.providers.mollie_support import create, refetched_statuses, webhook_id


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


@pytest.mark.parametrize(("outcome", "status"), [
    ("success", "paid"), ("failure", "failed"), ("canceled", "canceled"),
    ("expired", "expired")])
def test_each_final_status_calls_the_webhook_with_the_payment_id(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver,
        outcome: str, status: str):
    p = create(mollie, webhookUrl=hook_server.url)
    payment_simulator.client.complete(p.id, outcome)

    assert hook_server.wait_for(lambda got: len(got) >= 1)
    hook = hook_server.received[0]
    assert hook.path == "/hooks"
    assert webhook_id(hook) == p.id
    assert hook.body == f"id={p.id}".encode()
    assert "Stripe-Signature" not in hook.headers  # Mollie does not sign
    assert refetched_statuses(mollie, hook_server) == [status]


def test_creating_an_open_payment_calls_no_webhook(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    create(mollie, webhookUrl=hook_server.url)
    marker = create(mollie, webhookUrl=hook_server.url)
    payment_simulator.client.complete(marker.id, "success")

    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert [webhook_id(r) for r in hook_server.received] == [marker.id]


def test_expiry_on_the_virtual_clock_calls_the_webhook(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    p = create(mollie, webhookUrl=hook_server.url)
    payment_simulator.advance_clock("16m")

    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert webhook_id(hook_server.received[0]) == p.id
    assert refetched_statuses(mollie, hook_server) == ["expired"]


def test_a_refund_calls_the_payment_s_webhook(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    p = create(mollie, webhookUrl=hook_server.url)
    payment_simulator.client.complete(p.id, "success")
    assert hook_server.wait_for(lambda got: len(got) >= 1)

    p = mollie.payments.get(p.id)
    refund = p.refunds.create({"amount": {"currency": "EUR", "value": "4.00"}})
    assert hook_server.wait_for(lambda got: len(got) >= 2)
    assert [webhook_id(r) for r in hook_server.received] == [p.id, p.id]
    again = mollie.payments.get(p.id)
    assert again.amount_refunded == {"value": "4.00", "currency": "EUR"}
    assert [r.id for r in again.refunds.list()] == [refund.id]


def test_a_failing_receiver_is_retried_on_mollie_s_schedule(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    hook_server.fail_first = 2
    p = create(mollie, webhookUrl=hook_server.url)
    payment_simulator.client.complete(p.id, "success")

    def attempts_recorded(n: int) -> bool:
        """The receiver sees a call before the simulator has read its 500 and scheduled
        the retry: the clock may only move once the retry is scheduled."""
        found = payment_simulator.client.deliveries(provider="mollie")
        return bool(found) and len(found[0]["attempts"]) == n and \
            found[0]["state"] == "pending"

    support.wait(lambda: attempts_recorded(1))
    assert not hook_server.received
    payment_simulator.advance_clock("61s")  # the 2nd call: 1 minute after the first
    support.wait(lambda: attempts_recorded(2))
    assert not hook_server.received
    payment_simulator.advance_clock("121s")  # the 3rd call: 2 minutes after the 2nd
    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert webhook_id(hook_server.received[0]) == p.id

    # the receiver has the body before the simulator has read its 200: wait for that
    support.wait(lambda: payment_simulator.client.deliveries(provider="mollie")[0]["state"]
                 == "delivered")
    [delivery] = payment_simulator.client.deliveries(provider="mollie")
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]


def test_the_admin_api_names_mollie_s_deliveries(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    p = create(mollie, webhookUrl=hook_server.url)
    payment_simulator.client.complete(p.id, "success")
    delivery = payment_simulator.wait_for_webhook("payment.paid", provider="mollie")
    assert delivery["url"] == hook_server.url


def test_the_webhook_goes_to_each_payment_s_own_url(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    with_hook = create(mollie, webhookUrl=hook_server.url)
    without = create(mollie)
    payment_simulator.client.complete(without.id, "success")
    payment_simulator.client.complete(with_hook.id, "failure")

    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert [webhook_id(r) for r in hook_server.received] == [with_hook.id]
    # The payment without webhookUrl had nowhere to go: no delivery was even queued.
    assert len(payment_simulator.client.deliveries(provider="mollie")) == 1
