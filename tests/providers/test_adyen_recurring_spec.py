"""Adyen's stored cards against Adyen's published OpenAPI: the tokenization fields of a
payment (Checkout API v71), /storedPaymentMethods, the Recurring API v68 and the
RECURRING_CONTRACT notification (Webhooks v1) validate against the spec's schemas, and
the Recurring API is served where its server puts it."""

from __future__ import annotations

import json
from urllib.parse import urlparse

from paysandbox.providers.adyen.routes import RECURRING, provider
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import Checkout, Receiver
from tests.providers.test_adyen_spec import CHECKOUT, SPECS, WEBHOOKS, _check

# Fixtures from adyen_support, under the names tests ask for.
adyen = adyen_support.adyen
notifications = adyen_support.notifications
receiver = adyen_support.receiver

RECURRING_SPEC = json.loads((SPECS / "RecurringService-v68.json").read_text(encoding="utf-8"))


def test_the_recurring_api_is_where_its_server_puts_it():
    server = urlparse(RECURRING_SPEC["servers"][0]["url"])
    assert server.path == RECURRING
    assert server.hostname in provider.hostnames
    served = {r.path.removeprefix(RECURRING) for r in provider.routes()
              if r.path.startswith(RECURRING)}
    assert served == {"/listRecurringDetails", "/disable"}
    assert served <= set(RECURRING_SPEC["paths"])


def _stored(adyen: Checkout, who: str) -> dict:
    return adyen.pay(storePaymentMethod=True, shopperReference=who,
                     shopperInteraction="Ecommerce", recurringProcessingModel="CardOnFile")


def test_stored_card_responses_match_the_checkout_spec(adyen: Checkout,
                                                       payment_simulator: SimulatorServer):
    first = _stored(adyen, "shopper-spec-1")
    _check(CHECKOUT, "PaymentResponse", first)
    token = first["additionalData"]["tokenization.storedPaymentMethodId"]
    mit = adyen.pay({"type": "scheme", "storedPaymentMethodId": token},
                    shopperReference="shopper-spec-1", shopperInteraction="ContAuth",
                    recurringProcessingModel="Subscription")
    _check(CHECKOUT, "PaymentResponse", mit)
    api = adyen.sdk.checkout.recurring_api
    api.baseUrl = adyen.payments.baseUrl
    listed = api.get_tokens_for_stored_payment_details(query_parameters={
        "shopperReference": "shopper-spec-1", "merchantAccount": adyen.merchant}).message
    assert listed["storedPaymentMethods"]
    _check(CHECKOUT, "ListStoredPaymentMethodsResponse", listed)


def test_recurring_api_responses_match_its_spec(adyen: Checkout,
                                                payment_simulator: SimulatorServer):
    _stored(adyen, "shopper-spec-2")
    api = adyen.sdk.recurring.recurring_api
    api.baseUrl = payment_simulator.url("adyen") + RECURRING
    request = {"merchantAccount": adyen.merchant, "shopperReference": "shopper-spec-2"}
    listed = api.list_recurring_details(request).message
    assert listed["details"]
    _check(RECURRING_SPEC, "RecurringDetailsResult", listed)
    _check(RECURRING_SPEC, "DisableResult", api.disable(request).message)


def test_recurring_contract_notification_matches_the_webhook_spec(adyen: Checkout,
                                                                  notifications: Receiver):
    token = _stored(adyen, "shopper-spec-3")["additionalData"][
        "tokenization.storedPaymentMethodId"]
    notifications.one("RECURRING_CONTRACT", token)
    body = next(n.json() for n in notifications.received
                if n.item["eventCode"] == "RECURRING_CONTRACT")
    # The spec's RecurringContractNotificationAdditionalData omits hmacSignature, which
    # Adyen adds to every standard notification when an HMAC key is set: the rest is
    # checked as the spec has it.
    item = body["notificationItems"][0]["NotificationRequestItem"]
    assert item["additionalData"].pop("hmacSignature")
    _check(WEBHOOKS, "RecurringContractNotificationRequest", body)
