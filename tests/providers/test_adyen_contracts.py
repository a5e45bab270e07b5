"""Adyen's contracts over HTTP (contracts_data/adyen/): the official SDK driven through every
operation, and a notification of every event code, breaks none of them; each kind of
wrong request is refused in Adyen's envelope naming the field, and counted under that
operation and field in `/__admin/contracts`. In report mode what can be served is served
and still recorded."""

from __future__ import annotations

import base64
from typing import Any

import Adyen
import orjson
import pytest
import requests

from paysandbox import contracts
from paysandbox.providers.adyen import disputes as adyen_disputes
from paysandbox.providers.adyen.routes import RECURRING, provider
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import HMAC_KEY, RETURN_URL, Checkout, Receiver, card

# Fixtures from the helper module, under the names tests ask for.
adyen = adyen_support.adyen
notifications = adyen_support.notifications
receiver = adyen_support.receiver

MERCHANT = "TestMerchantECOM"
GOOD: dict[str, Any] = {"amount": {"currency": "EUR", "value": 1000}, "reference": "r-1",
                        "merchantAccount": MERCHANT, "returnUrl": RETURN_URL,
                        "paymentMethod": card()}


def _amount(value: int) -> dict[str, Any]:
    return {"currency": "EUR", "value": value}


def test_the_sdk_through_every_operation_breaks_no_contract(
        payment_simulator: SimulatorServer, adyen: Checkout, notifications: Receiver):
    pay, mod, acct = adyen.payments, adyen.modifications, {"merchantAccount": adyen.merchant}
    methods = pay.payment_methods({**acct, "countryCode": "NL",
                                   "amount": _amount(1000)}).message
    assert methods["paymentMethods"][0]["type"] == "scheme"

    # /payments: authorised, refused, errored, received; 3DS2 redirect and native
    assert adyen.pay(channel="Web", shopperInteraction="Ecommerce")["resultCode"] \
        == "Authorised"
    assert adyen.pay(card(holder="NOT_ENOUGH_BALANCE"))["resultCode"] == "Refused"
    assert adyen.pay(card(holder="ERROR"))["resultCode"] == "Error"
    assert adyen.pay(card(holder="PENDING"))["resultCode"] == "Received"
    redirect = adyen.pay(card("4917610000000000"))
    assert redirect["resultCode"] == "RedirectShopper"
    done = requests.post(f"{redirect['action']['url']}/complete", allow_redirects=False,
                         timeout=10)
    result = done.headers["Location"].split("redirectResult=", 1)[1]
    details = pay.payments_details({"details": {"redirectResult": result}}).message
    assert details["resultCode"] == "Authorised"
    native = adyen.pay(card("5454545454545454"), authenticationData={
        "threeDSRequestData": {"nativeThreeDS": "preferred"}})
    assert native["resultCode"] == "ChallengeShopper"
    three_ds = base64.b64encode(orjson.dumps({
        "transStatus": "Y", "authorisationToken": native["action"]["authorisationToken"]}))
    assert pay.payments_details({"details": {"threeDSResult": three_ds.decode()}}
                                ).message["resultCode"] == "Authorised"
    # native 3DS2 with the device fingerprint first: IdentifyShopper, ChallengeShopper
    identify = adyen.pay(card("5000550000000029"), authenticationData={
        "threeDSRequestData": {"nativeThreeDS": "preferred"}})
    assert identify["resultCode"] == "IdentifyShopper"
    fingerprint = base64.b64encode(orjson.dumps({
        "threeDSCompInd": "Y", "authorisationToken": identify["action"]["authorisationToken"]}))
    assert pay.payments_details({"details": {"threeDSResult": fingerprint.decode()}}
                                ).message["resultCode"] == "ChallengeShopper"

    # the six modifications, each answered `received`
    held = adyen.held()["pspReference"]
    mod.update_authorised_amount({**acct, "amount": _amount(1500), "reference": "adj"}, held)
    mod.capture_authorised_payment({**acct, "amount": _amount(1000), "reference": "cap"},
                                   held)
    mod.refund_captured_payment({**acct, "amount": _amount(250), "reference": "ref",
                                 "merchantRefundReason": "RETURN"}, held)
    mod.cancel_authorised_payment_by_psp_reference(
        {**acct, "reference": "void"}, adyen.held()["pspReference"])
    mod.refund_or_cancel_payment(acct, adyen.pay()["pspReference"])
    adyen.held(reference="order-77")
    mod.cancel_authorised_payment({**acct, "paymentReference": "order-77"})
    mod.cancel_authorised_payment({**acct, "paymentReference": "no-such-order"})
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity):  # an error envelope too
        adyen.pay(card("4111111111111121"))  # fails Luhn: a valid request, refused

    # a stored card: listed, charged without the shopper, deleted (Checkout API), and the
    # Recurring API's list and disable
    shopper = {**acct, "shopperReference": "shopper-contracts"}
    stored = adyen.pay(storePaymentMethod=True, shopperReference="shopper-contracts",
                       recurringProcessingModel="CardOnFile")
    token = stored["additionalData"]["tokenization.storedPaymentMethodId"]
    assert adyen.pay({"type": "scheme", "storedPaymentMethodId": token},
                     shopperReference="shopper-contracts", shopperInteraction="ContAuth",
                     recurringProcessingModel="Subscription")["resultCode"] == "Authorised"
    tokens = adyen.sdk.checkout.recurring_api
    tokens.baseUrl = adyen.payments.baseUrl
    assert tokens.get_tokens_for_stored_payment_details(query_parameters=shopper).message[
        "storedPaymentMethods"][0]["id"] == token
    tokens.delete_token_for_stored_payment_details(token, query_parameters=shopper)
    recurring = adyen.sdk.recurring.recurring_api
    recurring.baseUrl = payment_simulator.url("adyen") + RECURRING
    adyen.pay(storePaymentMethod=True, shopperReference="shopper-contracts")
    assert len(recurring.list_recurring_details(shopper).message["details"]) == 1
    recurring.disable(shopper)
    # the day's settlement batch closes: its report is announced
    payment_simulator.advance_clock("3d")

    # a notification of every payment event code the provider declares, each signed and
    # each keeping its contract as delivered (with additionalData.hmacSignature); the
    # dispute event codes are test_adyen_disputes.py's
    assert notifications.wait_for(
        lambda got: {n.item["eventCode"] for n in got} >=
        provider.event_types - adyen_disputes.EVENT_CODES)
    for n in notifications.received:
        contracts.validator("adyen", SCHEMAS.get(n.item["eventCode"],
                                                 "webhooks/notification"))(n.json())
        assert Adyen.util.is_valid_hmac_notification(n.json(), HMAC_KEY)
        assert n.item["additionalData"]["hmacSignature"]
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


SCHEMAS = {"RECURRING_CONTRACT": "webhooks/recurring_contract_notification",
           "REPORT_AVAILABLE": "webhooks/report_available_notification"}


# (id, operation, path below /checkout/v71 ("{psp}": any pspReference), body, status,
#  errorCode, field, kind)
WRONG: list[tuple[str, str, str, Any, int, str, str, str]] = [
    ("missing-required-field", "capture_payment", "/payments/{psp}/captures",
     {"amount": _amount(100)}, 422, "702", "merchantAccount", "missing"),
    ("missing-amount-value", "create_payment", "/payments",
     {**GOOD, "amount": {"currency": "EUR"}}, 422, "100", "amount.value", "missing"),
    ("missing-payment-reference", "cancel_payment_by_reference", "/cancels",
     {"merchantAccount": MERCHANT}, 422, "130", "paymentReference", "missing"),
    ("wrong-type", "create_payment", "/payments", {**GOOD, "reference": 42}, 400, "702",
     "reference", "type"),
    ("details-wrong-type", "submit_payment_details", "/payments/details",
     {"details": "redirectResult"}, 400, "702", "details", "type"),
    ("list-wrong-type", "list_payment_methods", "/paymentMethods",
     {"merchantAccount": MERCHANT, "allowedPaymentMethods": "scheme"}, 400, "702",
     "allowedPaymentMethods", "type"),
    ("unknown-enum-value", "create_payment", "/payments",
     {**GOOD, "shopperInteraction": "Telephone"}, 422, "702", "shopperInteraction", "enum"),
    ("unknown-refund-reason", "refund_payment", "/payments/{psp}/refunds",
     {"merchantAccount": MERCHANT, "amount": _amount(100), "merchantRefundReason": "BORED"},
     422, "702", "merchantRefundReason", "enum"),
    ("amount-as-string", "create_payment", "/payments", {**GOOD, "amount": "10.00"}, 400,
     "702", "amount", "type"),
    ("reference-as-number", "reverse_payment", "/payments/{psp}/reversals",
     {"merchantAccount": MERCHANT, "reference": 7}, 400, "702", "reference", "type"),
    ("amount-value-as-string", "update_payment_amount", "/payments/{psp}/amountUpdates",
     {"merchantAccount": MERCHANT, "amount": {"currency": "EUR", "value": "1000"}}, 400,
     "702", "amount.value", "type"),
    ("unknown-field", "cancel_payment", "/payments/{psp}/cancels",
     {"merchantAccount": MERCHANT, "colour": "blue"}, 400, "702", "colour", "unknown"),
]


@pytest.mark.parametrize(("operation", "path", "body", "status", "code", "field", "kind"),
                         [c[1:] for c in WRONG], ids=[f"{c[0]}-{c[1]}" for c in WRONG])
def test_wrong_requests_are_caught_naming_the_field(
        payment_simulator: SimulatorServer, operation: str, path: str, body: Any,
        status: int, code: str, field: str, kind: str):
    url = payment_simulator.url("adyen") + "/checkout/v71" + path.replace(
        "{psp}", "ABCDEFGHIJKLMNOP")
    resp = requests.post(url, json=body, timeout=10, headers={"X-API-Key": "AQE_contracts"})
    assert resp.status_code == status, resp.text
    envelope = resp.json()
    assert (envelope["status"], envelope["errorCode"]) == (status, code), envelope
    assert f"'{field}'" in envelope["message"] or f"[{field}]" in envelope["message"], \
        envelope
    groups = payment_simulator.admin("GET", "/contracts")["groups"]
    assert [(g["provider"], g["operation"], g["source"], g["field"], g["kind"])
            for g in groups] == [("adyen", operation, "request", field, kind)]


def test_report_mode_serves_what_it_can_and_records_every_violation(
        lenient: SimulatorServer):
    url = f"{lenient.url('adyen')}/checkout/v71/payments"
    auth = {"X-API-Key": "AQE_lenient"}
    served = requests.post(url, json={**GOOD, "colour": "red", "channel": "Fax"},
                           headers=auth, timeout=10)
    assert served.status_code == 200, served.text
    assert served.json()["resultCode"] == "Authorised"
    # what cannot be served is still refused, in Adyen's envelope
    refused = requests.post(url, json={**GOOD, "amount": "10.00"}, headers=auth, timeout=10)
    assert (refused.status_code, refused.json()["errorCode"]) == (400, "702")
    report = lenient.admin("GET", "/contracts")
    assert report["mode"] == "report"
    assert {(g["operation"], g["field"], g["kind"], g["count"]) for g in report["groups"]} \
        == {("create_payment", "colour", "unknown", 1), ("create_payment", "channel", "enum", 1),
            ("create_payment", "amount", "type", 1)}
