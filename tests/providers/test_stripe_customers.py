"""Stripe Customers and the cards saved to them, through the official stripe SDK: CRUD
and paging, attach/detach, SetupIntents with 3DS, off-session payments (merchant
initiated), network transaction ids, and their events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import stripe

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver


def test_customer_crud_and_list_paging(client: stripe.StripeClient):
    made = [client.v1.customers.create(params={"email": f"c{i}@example.com",
                                               "metadata": {"n": str(i)}})
            for i in range(3)]
    assert made[0].id.startswith("cus_") and made[0].email == "c0@example.com"

    got = client.v1.customers.retrieve(made[1].id)
    assert got.metadata["n"] == "1"
    updated = client.v1.customers.update(made[1].id, params={"name": "Ada",
                                                             "metadata": {"n": ""}})
    assert updated.name == "Ada" and "n" not in updated.metadata

    first = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in first.data] == [made[2].id, made[1].id] and first.has_more
    rest = client.v1.customers.list(params={"limit": 2, "starting_after": made[1].id})
    assert [c.id for c in rest.data] == [made[0].id] and not rest.has_more
    by_email = client.v1.customers.list(params={"email": "c0@example.com"})
    assert [c.id for c in by_email.data] == [made[0].id]

    deleted = client.v1.customers.delete(made[0].id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.retrieve(made[0].id)
    assert err.value.code == "resource_missing"


def test_attach_list_detach_and_a_detached_card_is_spent(client: stripe.StripeClient):
    cus = client.v1.customers.create()
    pm = client.v1.payment_methods.create(params={"type": "card",
                                                  "card": {"token": "tok_visa"}})
    attached = client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
    assert attached.customer == cus.id
    listed = client.v1.customers.payment_methods.list(cus.id)
    assert [m.id for m in listed.data] == [pm.id]
    assert [m.id for m in client.v1.payment_methods.list(
        params={"customer": cus.id}).data] == [pm.id]

    detached = client.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    assert client.v1.customers.payment_methods.list(cus.id).data == []
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.create(params={
            "amount": 500, "currency": "usd", "confirm": True, "payment_method": pm.id})
    assert err.value.param == "payment_method"
    assert "may not be used again" in err.value.user_message


def _saved_with_setup(client: stripe.StripeClient, sim: SimulatorServer,
                      pm: str) -> tuple[str, str]:
    cus = client.v1.customers.create()
    si = client.v1.setup_intents.create(params={
        "customer": cus.id, "payment_method": pm, "confirm": True,
        "return_url": "https://shop.example/saved"})
    if si.status == "requires_action":
        assert si.next_action.type == "redirect_to_url"
        sim.admin("POST", f"/payments/{si.id}/complete", {"outcome": "success"})
        si = client.v1.setup_intents.retrieve(si.id)
    assert si.status == "succeeded"
    assert si.payment_method is not None
    return cus.id, si.payment_method


def _off_session(client: stripe.StripeClient, cus: str, pm: str,
                 **params: object) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={
        "amount": 1999, "currency": "usd", "customer": cus, "payment_method": pm,
        "off_session": True, "confirm": True, **params})


def test_3155_needs_3ds_on_setup_then_pays_off_session(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    cus = client.v1.customers.create()
    si = client.v1.setup_intents.create(params={
        "customer": cus.id, "payment_method": "pm_card_authenticationRequiredOnSetup",
        "confirm": True})
    assert si.status == "requires_action"
    assert client.v1.customers.payment_methods.list(cus.id).data == []
    payment_simulator.admin("POST", f"/payments/{si.id}/complete", {"outcome": "success"})
    si = client.v1.setup_intents.retrieve(si.id)
    assert si.status == "succeeded"
    assert [m.id for m in client.v1.customers.payment_methods.list(cus.id).data] == \
        [si.payment_method]

    pi = _off_session(client, cus.id, si.payment_method)
    assert pi.status == "succeeded"
    card = client.v1.charges.retrieve(pi.latest_charge).payment_method_details.card
    assert card.network_transaction_id and len(card.network_transaction_id) == 15


def test_3155_attached_without_setup_still_needs_the_customer(client: stripe.StripeClient):
    cus = client.v1.customers.create()
    pm = client.v1.payment_methods.attach("pm_card_authenticationRequiredOnSetup",
                                          params={"customer": cus.id})
    with pytest.raises(stripe.CardError) as err:
        _off_session(client, cus.id, pm.id)
    assert err.value.code == "authentication_required"


def test_3184_off_session_is_declined_authentication_required(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    cus, pm = _saved_with_setup(client, payment_simulator, "pm_card_authenticationRequired")
    with pytest.raises(stripe.CardError) as err:
        _off_session(client, cus, pm)
    assert err.value.http_status == 402
    assert err.value.code == "authentication_required"
    pi = err.value.error.payment_intent
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "authentication_required"
    assert pi.last_payment_error.payment_method.id == pm


def test_a_saved_card_that_expires_is_declined_off_session(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    # a card that expires at the end of the virtual clock's month
    now = datetime.fromtimestamp(payment_simulator.admin("GET", "/clock")["now"], UTC)
    card = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": now.month, "exp_year": now.year,
        "cvc": "123"}})
    cus, pm = _saved_with_setup(client, payment_simulator, card.id)
    assert _off_session(client, cus, pm).status == "succeeded"
    payment_simulator.advance_clock("40d")
    with pytest.raises(stripe.CardError) as err:
        _off_session(client, cus, pm)
    assert err.value.code == "expired_card"


def test_setup_future_usage_saves_the_card_with_a_network_transaction_id(
        client: stripe.StripeClient):
    cus = client.v1.customers.create()
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "customer": cus.id, "confirm": True,
        "payment_method": "pm_card_visa", "setup_future_usage": "off_session"})
    assert pi.status == "succeeded"
    nti = client.v1.charges.retrieve(pi.latest_charge) \
        .payment_method_details.card.network_transaction_id
    assert nti is not None
    assert [m.id for m in client.v1.customers.payment_methods.list(cus.id).data] == \
        [pi.payment_method]
    assert _off_session(client, cus.id, pi.payment_method).status == "succeeded"


def test_an_mit_quoting_a_foreign_nti_for_the_same_card_succeeds_and_a_wrong_one_fails(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    cus, pm = _saved_with_setup(client, payment_simulator, "pm_card_visa")
    first = _off_session(client, cus, pm)
    nti = client.v1.charges.retrieve(first.latest_charge) \
        .payment_method_details.card.network_transaction_id
    quoted = {"payment_method_options": {"card": {"mit_exemption": {
        "network_transaction_id": nti}}}}
    # An NTI another acquirer issued for this card (any imitated acquirer's verifies).
    assert _off_session(client, cus, pm, **quoted).status == "succeeded"

    other_cus, other_pm = _saved_with_setup(client, payment_simulator, "pm_card_mastercard")
    with pytest.raises(stripe.CardError) as err:
        _off_session(client, other_cus, other_pm, **quoted)
    assert err.value.code == "card_declined"
    assert err.value.error.decline_code == "transaction_not_allowed"


def test_charge_customer_fail_card_attaches_but_its_charges_fail(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    cus, pm = _saved_with_setup(client, payment_simulator, "pm_card_chargeCustomerFail")
    with pytest.raises(stripe.CardError) as err:
        _off_session(client, cus, pm)
    assert err.value.code == "card_declined"


def test_setup_intent_cancel_and_list(client: stripe.StripeClient):
    cus = client.v1.customers.create()
    si = client.v1.setup_intents.create(params={"customer": cus.id})
    assert si.status == "requires_payment_method"
    assert [s.id for s in client.v1.setup_intents.list(params={"customer": cus.id}).data] \
        == [si.id]
    canceled = client.v1.setup_intents.cancel(si.id, params={
        "cancellation_reason": "abandoned"})
    assert canceled.status == "canceled" and canceled.cancellation_reason == "abandoned"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(si.id)


def test_the_events_are_delivered_and_verify(client: stripe.StripeClient,
                                             payment_simulator: SimulatorServer,
                                             hook_server: WebhookReceiver):
    endpoint = client.v1.webhook_endpoints.create(params={"url": hook_server.url,
                                                          "enabled_events": ["*"]})
    cus, pm = _saved_with_setup(client, payment_simulator,
                                "pm_card_authenticationRequiredOnSetup")
    client.v1.customers.update(cus, params={"name": "Ada"})
    client.v1.payment_methods.detach(pm)
    client.v1.customers.delete(cus)
    wanted = {"customer.created", "customer.updated", "customer.deleted",
              "setup_intent.created", "setup_intent.requires_action",
              "setup_intent.succeeded", "payment_method.attached",
              "payment_method.detached"}

    def types() -> set[str]:
        return {stripe.Webhook.construct_event(r.body.decode(), r.headers["Stripe-Signature"],
                                               endpoint.secret).type
                for r in hook_server.received}

    assert hook_server.wait_for(lambda got: wanted <= types())
    attached = next(e for e in (stripe.Webhook.construct_event(
        r.body.decode(), r.headers["Stripe-Signature"], endpoint.secret)
        for r in hook_server.received) if e.type == "payment_method.attached")
    assert attached.data.object.id == pm and attached.data.object.customer == cus


SCENARIO = """
name: off-session-soft-declines
rules:
  - match: {provider: stripe, operation: authorize, initiator: merchant}
    outcome: {decline: authentication_required}
"""


def test_a_rule_on_merchant_initiated_payments_hits_only_off_session(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    cus, pm = _saved_with_setup(client, payment_simulator, "pm_card_visa")
    payment_simulator.client.use_scenario(SCENARIO)
    on_session = client.v1.payment_intents.create(params={
        "amount": 700, "currency": "usd", "customer": cus, "payment_method": pm,
        "confirm": True})
    assert on_session.status == "succeeded"
    with pytest.raises(stripe.CardError) as err:
        _off_session(client, cus, pm)
    assert err.value.code == "authentication_required"
    assert payment_simulator.client.scenarios()[0]["rules"][0]["applied"] == 1
