"""Adyen stored cards through the official SDK: a first payment that stores the card
(tokenization fields, network transaction id, RECURRING_CONTRACT notification), the
shopper's tokens listed and deleted (Checkout API and Recurring API v68), and the
merchant charging them without the shopper (ContAuth), with the refusals only such a
payment gets."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import Adyen
import pytest
import requests

from paysandbox.providers.adyen.routes import RECURRING
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import HMAC_KEY, Checkout, Receiver, card

# Fixtures from adyen_support, under the names tests ask for.
adyen = adyen_support.adyen
notifications = adyen_support.notifications
receiver = adyen_support.receiver

#: A Luhn-valid Visa number that is none of Adyen's test cards: no test outcome, and an
#: expiry of our choosing.
PLAIN_VISA = "4242424242424242"


def checkout_tokens(checkout: Checkout, sim: SimulatorServer) -> Any:
    api = checkout.sdk.checkout.recurring_api
    api.baseUrl = sim.url("adyen") + f"/checkout/{adyen_support.VERSION}"
    return api


def recurring_api(checkout: Checkout, sim: SimulatorServer) -> Any:
    api = checkout.sdk.recurring.recurring_api
    api.baseUrl = sim.url("adyen") + RECURRING
    return api


def shopper() -> str:
    return f"shopper-{uuid.uuid4().hex[:10]}"


def store(checkout: Checkout, who: str, method: dict[str, Any] | None = None,
          **extra: Any) -> dict[str, Any]:
    """A shopper's first payment, on-session, that stores the card."""
    return checkout.pay(method or card(), storePaymentMethod=True, shopperReference=who,
                        shopperInteraction="Ecommerce",
                        recurringProcessingModel=extra.pop("model", "CardOnFile"), **extra)


def charge(checkout: Checkout, who: str, token: str, model: str = "Subscription",
           **extra: Any) -> dict[str, Any]:
    """The merchant charging a stored card without the shopper."""
    return checkout.pay({"type": "scheme", "storedPaymentMethodId": token},
                        shopperReference=who, shopperInteraction="ContAuth",
                        recurringProcessingModel=model, **extra)


def test_a_first_payment_stores_the_card_and_shows_its_ids(adyen: Checkout):
    who = shopper()
    res = store(adyen, who)
    data = res["additionalData"]
    assert res["resultCode"] == "Authorised"
    token = data["tokenization.storedPaymentMethodId"]
    assert len(token) == 16 and token.isalnum() and token != res["pspReference"]
    assert data["tokenization.shopperReference"] == who
    assert data["tokenization.store.operationType"] == "created"
    assert data["recurring.recurringDetailReference"] == token
    assert data["recurring.shopperReference"] == who
    assert len(data["networkTxReference"]) == 15 and data["networkTxReference"].isdigit()
    again = store(adyen, who)["additionalData"]
    assert again["tokenization.store.operationType"] == "alreadyExisting"
    assert again["tokenization.storedPaymentMethodId"] == token


def test_a_refused_first_payment_stores_nothing(adyen: Checkout,
                                                payment_simulator: SimulatorServer):
    who = shopper()
    res = store(adyen, who, card(holder="NOT_ENOUGH_BALANCE"))
    assert res["resultCode"] == "Refused"
    assert "tokenization.storedPaymentMethodId" not in res["additionalData"]
    listed = checkout_tokens(adyen, payment_simulator).get_tokens_for_stored_payment_details(
        query_parameters={"shopperReference": who, "merchantAccount": adyen.merchant})
    assert listed.message["storedPaymentMethods"] == []


def test_storing_needs_a_shopper_reference(adyen: Checkout):
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.pay(card(), storePaymentMethod=True)
    assert err.value.message["errorCode"] == "000"
    assert "shopperReference" in err.value.message["message"]


def test_stored_methods_are_listed_and_deleted(adyen: Checkout,
                                               payment_simulator: SimulatorServer):
    who, api = shopper(), checkout_tokens(adyen, payment_simulator)
    visa = store(adyen, who)["additionalData"]["tokenization.storedPaymentMethodId"]
    mc = store(adyen, who, card("5555341244441115"), model="Subscription")[
        "additionalData"]["tokenization.storedPaymentMethodId"]
    query = {"shopperReference": who, "merchantAccount": adyen.merchant}
    listed = api.get_tokens_for_stored_payment_details(query_parameters=query).message
    assert (listed["shopperReference"], listed["merchantAccount"]) == (who, adyen.merchant)
    methods = {m["id"]: m for m in listed["storedPaymentMethods"]}
    assert set(methods) == {visa, mc}
    assert methods[mc]["brand"] == "mc" and methods[mc]["lastFour"] == "1115"
    assert (methods[visa]["expiryMonth"], methods[visa]["expiryYear"]) == ("03", "30")
    assert methods[mc]["supportedRecurringProcessingModels"] == ["Subscription"]
    # another shopper, or another merchant account, sees none of them
    other = {"shopperReference": shopper(), "merchantAccount": adyen.merchant}
    assert api.get_tokens_for_stored_payment_details(
        query_parameters=other).message["storedPaymentMethods"] == []

    deleted = api.delete_token_for_stored_payment_details(visa, query_parameters=query)
    assert deleted.status_code == 204
    left = api.get_tokens_for_stored_payment_details(query_parameters=query).message
    assert [m["id"] for m in left["storedPaymentMethods"]] == [mc]
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        api.delete_token_for_stored_payment_details(visa, query_parameters=query)
    assert err.value.message["errorCode"] == "803"


@pytest.mark.parametrize("model", ["Subscription", "UnscheduledCardOnFile", "CardOnFile"])
def test_the_merchant_charges_a_stored_card_without_the_shopper(adyen: Checkout,
                                                                 model: str):
    who = shopper()
    first = store(adyen, who)["additionalData"]
    res = charge(adyen, who, first["tokenization.storedPaymentMethodId"], model,
                 value=2500)
    assert res["resultCode"] == "Authorised"
    assert res["amount"] == {"currency": "EUR", "value": 2500}
    assert res["additionalData"]["cardSummary"] == "1111"
    # the payment's own id at the scheme, not the first payment's
    assert res["additionalData"]["networkTxReference"] != first["networkTxReference"]
    assert "tokenization.storedPaymentMethodId" not in res["additionalData"]


def test_a_deleted_or_unknown_token_is_adyens_own_error(adyen: Checkout,
                                                        payment_simulator: SimulatorServer):
    who = shopper()
    token = store(adyen, who)["additionalData"]["tokenization.storedPaymentMethodId"]
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        charge(adyen, who, "ZZZZZZZZZZZZZZZZ")
    assert (err.value.message["errorCode"], err.value.message["message"][:24]) == \
        ("803", "PaymentDetail not found:")
    checkout_tokens(adyen, payment_simulator).delete_token_for_stored_payment_details(
        token, query_parameters={"shopperReference": who, "merchantAccount": adyen.merchant})
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        charge(adyen, who, token)
    assert err.value.message["errorCode"] == "800"
    assert err.value.message["message"].startswith("Contract not found")
    assert err.value.message["errorType"] == "validation"


def test_a_token_is_only_its_shoppers(adyen: Checkout):
    who = shopper()
    token = store(adyen, who)["additionalData"]["tokenization.storedPaymentMethodId"]
    store(adyen, other := shopper(), card("5555341244441115"))
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        charge(adyen, other, token)
    assert err.value.message["errorCode"] == "803"


def test_a_3ds_card_without_the_shopper_is_refused_authentication_required(adyen: Checkout):
    who = shopper()
    first = store(adyen, who, card("4212345678910006"), authenticationData={
        "threeDSRequestData": {"nativeThreeDS": "preferred"}})
    assert first["resultCode"] == "ChallengeShopper"  # stored once the shopper passes
    result = base64.b64encode(json.dumps({
        "transStatus": "Y",
        "authorisationToken": first["action"]["authorisationToken"]}).encode()).decode()
    done = adyen.payments.payments_details({"details": {"threeDSResult": result}}).message
    assert done["resultCode"] == "Authorised"
    token = done["additionalData"]["tokenization.storedPaymentMethodId"]
    res = charge(adyen, who, token)
    assert (res["resultCode"], res["refusalReasonCode"], res["refusalReason"]) == \
        ("Refused", "38", "Authentication required")
    # the shopper, back on-session with the saved card, is challenged as before
    on_session = adyen.pay({"type": "scheme", "storedPaymentMethodId": token},
                           shopperReference=who, shopperInteraction="Ecommerce",
                           recurringProcessingModel="CardOnFile")
    assert on_session["resultCode"] == "RedirectShopper"


def test_a_card_expired_since_it_was_stored_is_refused(adyen: Checkout,
                                                       payment_simulator: SimulatorServer):
    now = datetime.fromtimestamp(payment_simulator.admin("GET", "/clock")["now"], UTC)
    who = shopper()
    first = store(adyen, who, card(PLAIN_VISA, month=f"{now.month:02d}", year=str(now.year),
                                   cvc="123"))
    token = first["additionalData"]["tokenization.storedPaymentMethodId"]
    assert charge(adyen, who, token)["resultCode"] == "Authorised"
    payment_simulator.admin("POST", "/clock/advance", {"by": "40d"})
    res = charge(adyen, who, token)
    assert (res["resultCode"], res["refusalReasonCode"], res["refusalReason"]) == \
        ("Refused", "6", "Expired Card")


def test_raw_card_with_a_network_transaction_id_from_elsewhere(
        adyen: Checkout, payment_simulator: SimulatorServer):
    # The first payment went through another acquirer account (another API key).
    elsewhere = adyen_support.make_checkout(payment_simulator, merchant="OtherAcquirer")
    nti = store(elsewhere, shopper())["additionalData"]["networkTxReference"]
    mit = {"shopperInteraction": "ContAuth", "recurringProcessingModel": "Subscription"}
    ok = adyen.pay(card(cvc=""), additionalData={"networkTxReference": nti}, **mit)
    assert ok["resultCode"] == "Authorised"
    other_card = adyen.pay(card("5555341244441115", cvc=""),
                           additionalData={"networkTxReference": nti}, **mit)
    made_up = adyen.pay(card(cvc=""), additionalData={"networkTxReference": "1" * 15}, **mit)
    for res in (other_card, made_up):
        assert (res["resultCode"], res["refusalReasonCode"]) == ("Refused", "23")


def test_recurring_contract_notification_is_signed(adyen: Checkout,
                                                   notifications: Receiver):
    who = shopper()
    res = store(adyen, who, reference="order-store")
    token = res["additionalData"]["tokenization.storedPaymentMethodId"]
    item = notifications.one("RECURRING_CONTRACT", token)
    assert item["originalReference"] == res["pspReference"]
    assert item["originalPsp"] == res["pspReference"]
    assert item["additionalData"]["shopperReference"] == who
    assert item["merchantReference"] == "order-store"
    assert item["success"] == "true"
    body = next(n.json() for n in notifications.received
                if n.item["eventCode"] == "RECURRING_CONTRACT")
    assert Adyen.util.is_valid_hmac_notification(body, HMAC_KEY)
    assert not Adyen.util.is_valid_hmac_notification(body, "00" * 32)
    # storing the same card again creates no token, so no second notification
    store(adyen, who)
    charge(adyen, who, token)
    notifications.one("AUTHORISATION")
    assert notifications.wait_for(
        lambda got: sum(n.item["eventCode"] == "AUTHORISATION" for n in got) >= 3)
    assert [i["pspReference"] for i in notifications.items("RECURRING_CONTRACT")] == [token]


def test_the_recurring_api_lists_and_disables(adyen: Checkout,
                                              payment_simulator: SimulatorServer):
    who, api = shopper(), recurring_api(adyen, payment_simulator)
    first = store(adyen, who)
    visa = first["additionalData"]["tokenization.storedPaymentMethodId"]
    mc = store(adyen, who, card("5555341244441115"))["additionalData"][
        "tokenization.storedPaymentMethodId"]
    request = {"merchantAccount": adyen.merchant, "shopperReference": who}
    listed = api.list_recurring_details({**request, "recurring": {"contract": "RECURRING"}})
    details = {d["RecurringDetail"]["recurringDetailReference"]: d["RecurringDetail"]
               for d in listed.message["details"]}
    assert set(details) == {visa, mc}
    assert details[visa]["firstPspReference"] == first["pspReference"]
    assert details[visa]["networkTxReference"] == first["additionalData"]["networkTxReference"]
    assert details[visa]["card"]["number"] == "1111" and details[visa]["variant"] == "visa"

    one = api.disable({**request, "recurringDetailReference": visa}).message
    assert one == {"response": "[detail-successfully-disabled]"}
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        charge(adyen, who, visa)
    assert err.value.message["errorCode"] == "803"
    assert api.disable(request).message == {"response": "[all-details-successfully-disabled]"}
    assert api.list_recurring_details(request).message["details"] == []
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        api.disable(request)
    assert err.value.message["errorCode"] == "800"


@pytest.mark.payment_scenario("""
name: adyen-renewals-soft-declined
rules:
  - match: {provider: adyen, operation: authorize, initiator: merchant, mit_type: recurring}
    outcome: {decline: authentication_required}
""")
def test_a_scenario_targets_subscription_charges_only(adyen: Checkout):
    who = shopper()
    token = store(adyen, who)["additionalData"]["tokenization.storedPaymentMethodId"]
    refused = charge(adyen, who, token, "Subscription")
    assert (refused["resultCode"], refused["refusalReasonCode"]) == ("Refused", "38")
    assert charge(adyen, who, token, "UnscheduledCardOnFile")["resultCode"] == "Authorised"


def test_the_recurring_api_answers_on_its_real_host(adyen: Checkout,
                                                    payment_simulator: SimulatorServer):
    who = shopper()
    token = store(adyen, who)["additionalData"]["tokenization.storedPaymentMethodId"]
    res = requests.post(payment_simulator.base_url + RECURRING + "/listRecurringDetails",
                        headers={"Host": "pal-test.adyen.com", "X-API-Key": adyen.key},
                        json={"merchantAccount": adyen.merchant, "shopperReference": who},
                        timeout=10)
    assert res.status_code == 200, res.text
    assert [d["RecurringDetail"]["recurringDetailReference"]
            for d in res.json()["details"]] == [token]
