"""Scenarios on Mollie. A payment meets scenario rules when it is created (operation
`authorize`, `method` the Mollie method): a decline creates it `failed` with Mollie's
failureReason, `pending: {after:}` settles it on the virtual clock, `requires_action`
with `then:` fails it when the shopper pays; faults and latency apply to every call."""

from __future__ import annotations

import pytest
import requests
from mollie.api.client import Client
from mollie.api.error import RequestError, ResponseError

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers import mollie_support as support
from tests.providers.mollie_support import create, refetched_statuses


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


@pytest.mark.payment_scenario("""
name: nsf-cards
rules:
  - match: {provider: mollie, operation: authorize, method: creditcard}
    outcome: {decline: insufficient_funds}
""")
def test_a_decline_fails_a_card_payment_with_mollie_s_reason(
        mollie: Client, hook_server: WebhookReceiver):
    p = create(mollie, method="creditcard", webhookUrl=hook_server.url)

    assert p.status == "failed" and p.is_failed()
    assert p.failed_at is not None
    assert p.details["failureReason"] == "insufficient_funds"
    assert "insufficient funds" in p.details["failureMessage"]
    assert p.checkout_url is None
    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert refetched_statuses(mollie, hook_server) == ["failed"]


@pytest.mark.payment_scenario("""
name: nsf-cards-only
rules:
  - match: {provider: mollie, method: creditcard}
    outcome: {decline: insufficient_funds}
""")
def test_a_rule_for_cards_leaves_ideal_alone(mollie: Client):
    assert create(mollie, method="ideal").status == "open"


@pytest.mark.payment_scenario("""
name: native
rules:
  - match: {provider: mollie, operation: authorize}
    outcome: {decline: generic_decline, native_code: possible_fraud}
""")
def test_a_native_code_is_the_failure_reason(mollie: Client):
    assert create(mollie, method="creditcard").details["failureReason"] == "possible_fraud"


@pytest.mark.payment_scenario("""
name: fail-at-the-bank
rules:
  - match: {provider: mollie, operation: authorize}
    outcome: {requires_action: redirect, then: {decline: expired_card}}
""")
def test_a_decline_can_wait_until_the_shopper_pays(mollie: Client):
    p = create(mollie, method="creditcard")
    assert p.status == "open"

    requests.post(p.checkout_url, data={"status": "paid"}, allow_redirects=False, timeout=10)
    failed = mollie.payments.get(p.id)
    assert failed.status == "failed"
    assert failed.details["failureReason"] == "card_expired"


@pytest.mark.payment_scenario("""
name: slow-bank
rules:
  - match: {provider: mollie, operation: authorize}
    outcome: {pending: {after: 30s}}
""")
def test_pending_settles_after_the_delay_on_the_virtual_clock(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    p = create(mollie, webhookUrl=hook_server.url)
    assert p.status == "pending" and p.is_pending()
    assert p.checkout_url is None

    payment_simulator.advance_clock("31s")
    support.wait(lambda: mollie.payments.get(p.id).status == "paid")
    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert refetched_statuses(mollie, hook_server) == ["paid"]


@pytest.mark.payment_scenario("""
name: pending-then-fail
rules:
  - match: {provider: mollie, operation: authorize}
    outcome: {pending: {after: 1m, then: {decline: insufficient_funds}}}
""")
def test_pending_can_end_in_a_failure(mollie: Client, payment_simulator: SimulatorServer):
    p = create(mollie, method="creditcard")
    payment_simulator.advance_clock("61s")
    support.wait(lambda: mollie.payments.get(p.id).status == "failed")
    assert mollie.payments.get(p.id).details["failureReason"] == "insufficient_funds"


@pytest.mark.payment_scenario("""
name: outage
rules:
  - match: {provider: mollie, operation: authorize}
    fault: {http: 503}
""")
def test_an_http_fault_is_rendered_in_mollie_s_envelope(mollie: Client):
    with pytest.raises(ResponseError) as err:
        create(mollie)
    assert err.value.status == 503
    assert "temporarily unavailable" in str(err.value)
    assert mollie.payments.list().count == 0


@pytest.mark.payment_scenario("""
name: reset-reads
rules:
  - match: {provider: mollie, operation: retrieve}
    fault: connection_reset
""")
def test_a_transport_fault_breaks_the_sdk_s_connection(mollie: Client):
    p = create(mollie)
    with pytest.raises(RequestError, match="Unable to communicate with Mollie"):
        mollie.payments.get(p.id)


@pytest.mark.payment_scenario("""
name: slow-mollie
rules:
  - {name: lag, match: {provider: mollie, operation: authorize}, latency: 150ms}
""")
def test_latency_is_applied_and_journaled(mollie: Client, payment_simulator: SimulatorServer):
    create(mollie)
    entry = payment_simulator.journal(provider="mollie", path="/mollie/v2/payments")[0]
    assert entry["scenario_rules"] == ["slow-mollie/lag"]
    assert entry["duration_ms"] >= 150


@pytest.mark.payment_scenario("""
name: big-refunds-fail
rules:
  - match: {provider: mollie, operation: refund, amount: {gte: 1000}}
    fault: {http: 500}
""")
def test_rules_match_refunds_by_amount(mollie: Client, payment_simulator: SimulatorServer):
    p = create(mollie, amount={"currency": "EUR", "value": "50.00"})
    payment_simulator.client.complete(p.id, "success")
    p = mollie.payments.get(p.id)
    p.refunds.create({"amount": {"currency": "EUR", "value": "9.99"}})
    with pytest.raises(ResponseError) as err:
        p.refunds.create({"amount": {"currency": "EUR", "value": "10.00"}})
    assert err.value.status == 500
