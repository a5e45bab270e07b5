"""A network transaction id one imitated acquirer issued is accepted by another for a
merchant-initiated payment with the same card, as the card schemes allow: renewals can
fail over between acquirers. Official SDKs on both sides."""

from __future__ import annotations

import uuid
from typing import Any

import stripe

from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import card
from tests.providers.stripe_support import first_payment_nti

VISA = "4242424242424242"
MIT = {"shopperInteraction": "ContAuth", "recurringProcessingModel": "Subscription"}


def _adyen_renewal(adyen: adyen_support.Checkout, number: str, nti: str) -> dict[str, Any]:
    return adyen.pay(card(number, cvc=""), value=1500, shopperReference=uuid.uuid4().hex,
                     additionalData={"networkTxReference": nti}, **MIT)


def test_a_renewal_fails_over_from_stripe_to_adyen_with_the_first_payments_id(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    nti = first_payment_nti(client)
    adyen = adyen_support.make_checkout(payment_simulator)

    renewed = _adyen_renewal(adyen, VISA, nti)
    assert renewed["resultCode"] == "Authorised"
    # the admin API shows the renewal as merchant-initiated, quoting Stripe's id
    credential = payment_simulator.admin("GET", f"/payments/{renewed['pspReference']}")[
        "credential"]
    assert credential["initiator"] == "merchant" and credential["mit_type"] == "recurring"
    assert credential["original_network_transaction_id"] == nti
    assert credential["network_transaction_id"] not in (None, nti)

    # the same id quoted for another card is refused, as is one no scheme issued
    for number, quoted in (("5555555555554444", nti), (VISA, "9" * 15)):
        refused = _adyen_renewal(adyen, number, quoted)
        assert (refused["resultCode"], refused["refusalReasonCode"]) == ("Refused", "23")


def test_an_id_adyen_issued_is_accepted_by_stripe_off_session(
        client: stripe.StripeClient, payment_simulator: SimulatorServer):
    adyen = adyen_support.make_checkout(payment_simulator)
    first = adyen.pay(card(VISA), value=1500, shopperReference=uuid.uuid4().hex,
                      storePaymentMethod=True, shopperInteraction="Ecommerce",
                      recurringProcessingModel="Subscription")
    nti = first["additionalData"]["networkTxReference"]

    cus = client.v1.customers.create()
    pm = client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": VISA, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
    pi = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "eur", "customer": cus.id, "payment_method": pm.id,
        "confirm": True, "off_session": True, "payment_method_options": {
            "card": {"mit_exemption": {"network_transaction_id": nti}}}})
    assert pi.status == "succeeded"
    credential = payment_simulator.admin("GET", f"/payments/{pi.id}")["credential"]
    assert credential["original_network_transaction_id"] == nti
