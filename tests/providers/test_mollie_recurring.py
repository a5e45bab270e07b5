"""Mollie's customers, first payments, mandates and recurring payments through the
official SDK: a customer's paid first payment leaves a valid mandate, and a recurring
payment is charged on it at once without a checkout; without a mandate it is refused
with Mollie's 422, and a card that expired since the mandate fails it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests
from mollie.api.client import Client
from mollie.api.error import NotFoundError, UnprocessableEntityError
from mollie.api.objects.customer import Customer

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers import mollie_support as support
from tests.providers.mollie_support import REDIRECT, refetched_statuses, webhook_id
from tests.providers.test_mollie_bad_input import check_envelope

EUR10 = {"currency": "EUR", "value": "10.00"}


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


def first_payment(c: Customer, method: str = "creditcard", **params: Any) -> Any:
    return c.payments.create({"amount": EUR10, "description": "First month",
                              "redirectUrl": REDIRECT, "method": method,
                              "sequenceType": "first", **params})


def recurring(c: Customer, **params: Any) -> Any:
    return c.payments.create({"amount": EUR10, "description": "Top-up",
                              "sequenceType": "recurring", **params})


def paying_customer(mollie: Client, simulator: SimulatorServer,
                    method: str = "creditcard") -> tuple[Customer, str]:
    """A customer whose first payment was paid at the test checkout, and its mandate."""
    c = mollie.customers.create({"name": "T. Test", "email": "t.test@example.org"})
    p = first_payment(c, method)
    simulator.client.complete(p.id, "success")
    mandate_id: str = mollie.payments.get(p.id).mandate_id
    return c, mandate_id


# -- customers -----------------------------------------------------------------------------

def test_customers_are_created_read_updated_listed_by_page_and_deleted(mollie: Client):
    c = mollie.customers.create({"name": "Jane Doe", "email": "jane@example.org",
                                 "locale": "nl_NL", "metadata": {"crm_id": 7}})
    assert c.resource == "customer" and c.id.startswith("cst_") and c.mode == "test"
    assert (c.name, c.email, c.locale, c.metadata) == (
        "Jane Doe", "jane@example.org", "nl_NL", {"crm_id": 7})

    updated = mollie.customers.update(c.id, {"email": "jane.doe@example.org"})
    assert (updated.name, updated.email) == ("Jane Doe", "jane.doe@example.org")
    assert mollie.customers.get(c.id).email == "jane.doe@example.org"

    later = [mollie.customers.create({"name": f"Customer {i}"}) for i in range(2)]
    page = mollie.customers.list(limit=2)
    assert [x.id for x in page] == [later[1].id, later[0].id]  # newest first
    assert page.has_next()
    assert [x.id for x in page.get_next()] == [c.id]

    mollie.customers.delete(c.id)
    with pytest.raises(NotFoundError):
        mollie.customers.get(c.id)


def test_customers_are_kept_per_api_key(payment_simulator: SimulatorServer):
    ours, theirs = support.client(payment_simulator), support.client(payment_simulator)
    c = ours.customers.create({"name": "Ours"})
    with pytest.raises(NotFoundError):
        theirs.customers.get(c.id)


# -- first payments and mandates -------------------------------------------------------------

def test_a_paid_first_card_payment_leaves_a_valid_card_mandate(
        mollie: Client, payment_simulator: SimulatorServer):
    c = mollie.customers.create({"name": "T. Test"})
    p = first_payment(c)
    assert p.sequence_type == "first" and p.customer_id == c.id
    assert p.status == "open" and p.checkout_url  # the customer pays it, present
    assert p.mandate_id is None and list(c.mandates.list()) == []

    payment_simulator.client.complete(p.id, "success")
    paid = mollie.payments.get(p.id)
    assert paid.is_paid() and paid.mandate_id.startswith("mdt_")

    m = c.mandates.get(paid.mandate_id)
    assert (m.status, m.method) == ("valid", "creditcard")
    assert m.details["cardNumber"] == paid.details["cardNumber"] == "6787"
    assert m.details["cardLabel"] == "Visa" and m.details["cardHolder"]
    assert date.fromisoformat(m.details["cardExpiryDate"]) > \
        date.fromisoformat(paid.paid_at[:10])
    assert [x.id for x in c.mandates.list()] == [m.id]
    assert [x.id for x in c.payments.list()] == [p.id]


def test_a_paid_first_ideal_payment_leaves_a_direct_debit_mandate(
        mollie: Client, payment_simulator: SimulatorServer):
    c, mandate_id = paying_customer(mollie, payment_simulator, method="ideal")
    m = c.mandates.get(mandate_id)
    assert (m.status, m.method) == ("valid", "directdebit")
    assert m.details["consumerAccount"].startswith("NL")


def test_a_failed_first_payment_leaves_no_mandate(mollie: Client,
                                                  payment_simulator: SimulatorServer):
    c = mollie.customers.create({"name": "T. Test"})
    p = first_payment(c)
    payment_simulator.client.complete(p.id, "failure")
    assert mollie.payments.get(p.id).mandate_id is None
    assert list(c.mandates.list()) == []
    with pytest.raises(UnprocessableEntityError, match="No suitable mandates"):
        recurring(c)


def test_a_first_payment_needs_a_method_that_leaves_a_mandate(mollie: Client):
    c = mollie.customers.create({"name": "T. Test"})
    with pytest.raises(UnprocessableEntityError, match="does not support first payments"):
        first_payment(c, method="banktransfer")


def test_a_direct_debit_mandate_is_created_listed_and_revoked(mollie: Client):
    c = mollie.customers.create({"name": "T. Test"})
    m = c.mandates.create({"method": "directdebit", "consumerName": "T. Test",
                           "consumerAccount": "NL55INGB0000000000",
                           "consumerBic": "INGBNL2A", "signatureDate": "2026-01-15",
                           "mandateReference": "TEST-1"})
    assert (m.status, m.method, m.mandate_reference) == ("valid", "directdebit", "TEST-1")
    assert m.details["consumerAccount"] == "NL55INGB0000000000"

    assert recurring(c).method == "directdebit"
    c.mandates.delete(m.id)
    assert c.mandates.get(m.id).status == "invalid"
    with pytest.raises(UnprocessableEntityError, match="No suitable mandates"):
        recurring(c)


# -- recurring payments ----------------------------------------------------------------------

def test_a_recurring_payment_is_charged_on_the_mandate_without_a_checkout(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    c, mandate_id = paying_customer(mollie, payment_simulator)
    r = recurring(c, webhookUrl=hook_server.url)

    assert r.status == "paid" and r.is_paid()
    assert r.sequence_type == "recurring" and r.checkout_url is None
    assert (r.customer_id, r.mandate_id, r.method) == (c.id, mandate_id, "creditcard")
    assert r.redirect_url is None
    assert hook_server.wait_for(lambda got: len(got) >= 1)
    assert [webhook_id(h) for h in hook_server.received] == [r.id]
    assert refetched_statuses(mollie, hook_server) == ["paid"]


def test_a_recurring_payment_through_the_payments_api_names_customer_and_mandate(
        mollie: Client, payment_simulator: SimulatorServer):
    c, mandate_id = paying_customer(mollie, payment_simulator)
    r = mollie.payments.create({"amount": EUR10, "description": "Usage", "customerId": c.id,
                                "mandateId": mandate_id, "sequenceType": "recurring"})
    assert (r.status, r.mandate_id) == ("paid", mandate_id)
    assert r.id in [x.id for x in c.payments.list()]


def test_a_recurring_payment_without_a_mandate_is_refused_with_a_422(mollie: Client):
    c = mollie.customers.create({"name": "No mandate yet"})
    with pytest.raises(UnprocessableEntityError, match="No suitable mandates") as raised:
        recurring(c)
    assert raised.value.status == 422


def test_a_recurring_payment_on_a_revoked_mandate_is_refused(
        mollie: Client, payment_simulator: SimulatorServer):
    c, mandate_id = paying_customer(mollie, payment_simulator)
    c.mandates.delete(mandate_id)
    with pytest.raises(UnprocessableEntityError, match="No suitable mandates"):
        recurring(c, mandateId=mandate_id)


def test_a_card_that_expired_since_the_mandate_fails_its_recurring_payment(
        mollie: Client, payment_simulator: SimulatorServer):
    c, mandate_id = paying_customer(mollie, payment_simulator)
    expiry = date.fromisoformat(c.mandates.get(mandate_id).details["cardExpiryDate"])
    paid_on = date.fromisoformat(mollie.customers.get(c.id).created_at[:10])
    payment_simulator.advance_clock(f"{(expiry - paid_on).days + 2}d")

    r = recurring(c)
    assert r.status == "failed" and r.failed_at is not None
    assert r.details["failureReason"] == "card_expired"


@pytest.mark.payment_scenario("""
name: mit-declined
rules:
  - match: {provider: mollie, operation: authorize, initiator: merchant}
    outcome: {decline: insufficient_funds}
""")
def test_a_rule_for_merchant_initiated_payments_leaves_first_payments_alone(
        mollie: Client, payment_simulator: SimulatorServer):
    c, mandate_id = paying_customer(mollie, payment_simulator)
    assert mandate_id  # the first payment, customer-initiated, was paid
    r = recurring(c)
    assert r.status == "failed" and r.details["failureReason"] == "insufficient_funds"


def test_deleting_a_customer_revokes_its_mandates_and_cancels_its_subscriptions(
        mollie: Client, payment_simulator: SimulatorServer):
    c, mandate_id = paying_customer(mollie, payment_simulator)
    sub = c.subscriptions.create({"amount": EUR10, "interval": "1 month",
                                  "description": "Plan", "mandateId": mandate_id})
    mollie.customers.delete(c.id)

    listed = {s.id: s for s in mollie.subscriptions.list()}
    assert listed[sub.id].status == "canceled" and listed[sub.id].canceled_at
    with pytest.raises(NotFoundError):
        c.mandates.list()


# -- bad input -----------------------------------------------------------------------------

def test_bad_input_on_customers_mandates_and_subscriptions_gets_mollie_s_envelope(
        payment_simulator: SimulatorServer):
    api = f"{payment_simulator.url('mollie')}/v2"
    auth = {"Authorization": f"Bearer {support.new_key()}"}

    def call(method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(method, api + path, json=body, headers=auth, timeout=10)

    check_envelope(call("POST", "/customers", {"nickname": "J"}), 422, "nickname",
                   "Non-existent body parameter")
    check_envelope(call("GET", "/customers/cst_nobody"), 404, None, "cst_nobody")
    cid = call("POST", "/customers", {"name": "J"}).json()["id"]
    check_envelope(call("POST", f"/customers/{cid}/mandates",
                        {"method": "creditcard", "consumerName": "J"}), 422, "method",
                   "invalid")
    check_envelope(call("POST", f"/customers/{cid}/mandates",
                        {"method": "directdebit", "consumerName": "J"}), 422,
                   "consumerAccount", "required")
    check_envelope(call("POST", f"/customers/{cid}/subscriptions",
                        {"amount": {"currency": "EUR", "value": "5"}, "interval": "1 month",
                         "description": "Plan"}), 422, "amount.value", "decimals")
    check_envelope(call("POST", f"/customers/{cid}/subscriptions",
                        {"amount": EUR10, "interval": "13 months", "description": "Plan"}),
                   422, "interval", "at most a year")
    check_envelope(call("GET", f"/customers/{cid}/subscriptions?limit=0"), 400, "limit",
                   "")
    check_envelope(call("GET", f"/customers/{cid}/mandates/mdt_nothing"), 404, None,
                   "mdt_nothing")
