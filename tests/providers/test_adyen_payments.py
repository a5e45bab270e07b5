"""Adyen /payments, /payments/details and /paymentMethods through the official SDK:
test cards, holder-name triggers, 3D Secure, idempotency, namespacing, scenarios."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import Adyen
import orjson
import pytest
import requests

from paysandbox.providers.adyen import magic, wire
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import Checkout, Receiver, card, make_checkout

# Fixtures from the helper module, under the names tests ask for.
adyen = adyen_support.adyen
receiver = adyen_support.receiver
notifications = adyen_support.notifications

REFUSALS = wire.refusals()


def test_raw_card_is_authorised_and_captured_by_default(adyen: Checkout):
    res = adyen.pay(card(), reference="order-1")
    assert res["resultCode"] == "Authorised"
    assert len(res["pspReference"]) == 16 and res["pspReference"].isalnum()
    assert res["merchantReference"] == "order-1"
    assert res["amount"] == {"currency": "EUR", "value": 1000}
    assert res["paymentMethod"] == {"brand": "visa", "type": "scheme"}
    assert res["additionalData"]["cardSummary"] == "1111"
    assert "refusalReason" not in res


def test_test_encrypted_fields_are_accepted(adyen: Checkout):
    res = adyen.pay({"type": "scheme", "encryptedCardNumber": "test_5555341244441115",
                     "encryptedExpiryMonth": "test_03", "encryptedExpiryYear": "test_2030",
                     "encryptedSecurityCode": "test_737", "holderName": "J. Smith"})
    assert res["resultCode"] == "Authorised"
    assert res["paymentMethod"]["brand"] == "mc"


def test_real_encrypted_data_cannot_be_decrypted(adyen: Checkout):
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.pay({"type": "scheme", "encryptedCardNumber": "adyenjs_0_1_25$abc",
                   "encryptedExpiryMonth": "test_03", "encryptedExpiryYear": "test_2030",
                   "encryptedSecurityCode": "test_737"})
    assert err.value.message["errorCode"] == "174"
    assert "test_" in err.value.message["message"]


@pytest.mark.parametrize("version", ["v68", "v70", "v71", "v72"])
def test_every_checkout_version_from_v68(payment_simulator: SimulatorServer, version: str):
    client = make_checkout(payment_simulator, version=version)
    assert client.pay()["resultCode"] == "Authorised"


def test_versions_before_v68_are_refused(payment_simulator: SimulatorServer):
    client = make_checkout(payment_simulator, version="v67")
    with pytest.raises(Adyen.AdyenAPICommunicationError) as err:  # the SDK's 404
        client.pay()
    assert err.value.message["status"] == 404
    assert "v68" in err.value.message["message"]


_TRIGGERS = [t for t in magic.TRIGGERS if t.code not in ("1", "13")]


@pytest.mark.parametrize("trigger", _TRIGGERS, ids=[t.holder_name for t in _TRIGGERS])
def test_every_holder_name_trigger_reaches_its_refusal_reason(adyen: Checkout,
                                                               trigger: magic.Trigger):
    res = adyen.pay(card(holder=trigger.holder_name))
    row = REFUSALS[trigger.code]
    assert res["resultCode"] == row["resultCode"]
    assert res["refusalReason"] == row["reason"]
    assert res["refusalReasonCode"] == trigger.code


@pytest.mark.parametrize("code", ["2", "6", "12", "24"])
def test_requested_test_acquirer_response_code(adyen: Checkout, code: str):
    method = {**card(), "RequestedTestAcquirerResponseCode": code}
    res = adyen.pay(method)
    assert (res["refusalReasonCode"], res["refusalReason"]) == (code, REFUSALS[code]["reason"])


def test_documented_result_codes_for_error_received_and_cancelled(adyen: Checkout):
    assert adyen.pay(card(holder="ERROR"))["resultCode"] == "Error"
    assert adyen.pay(card(holder="PENDING"))["resultCode"] == "Received"
    assert adyen.pay(card(holder="FRAUD-CANCELLED"))["resultCode"] == "Cancelled"
    assert adyen.pay(card(holder="APPROVED"))["resultCode"] == "Authorised"
    assert adyen.pay(card(holder="Jane Doe"))["resultCode"] == "Authorised"


_PLAIN = [c for c in magic.CARDS if not c.challenge]


@pytest.mark.parametrize("test_card", _PLAIN, ids=[c.number for c in _PLAIN])
def test_every_test_card_authorises_and_refuses_a_wrong_expiry_or_cvc(
        adyen: Checkout, test_card: magic.TestCard):
    ok = adyen.pay(card(test_card.number, cvc=test_card.cvc))
    assert ok["resultCode"] == "Authorised"
    assert ok["paymentMethod"]["brand"] == test_card.brand
    expiry = adyen.pay(card(test_card.number, month="04", cvc=test_card.cvc))
    assert (expiry["resultCode"], expiry["refusalReason"], expiry["refusalReasonCode"]) == \
        ("Refused", "Expired Card", "6")
    wrong = "000" if test_card.cvc != "000" else "111"
    cvc = adyen.pay(card(test_card.number, cvc=wrong))
    assert (cvc["refusalReason"], cvc["refusalReasonCode"]) == ("CVC Declined", "24")


def test_expired_non_test_card_is_refused(adyen: Checkout):
    res = adyen.pay(card("4242424242424242", month="01", year="2001"))
    assert (res["resultCode"], res["refusalReason"]) == ("Refused", "Expired Card")


@pytest.mark.parametrize("number", ["4111111111111112", "1234", ""])
def test_invalid_card_number_is_error_101(adyen: Checkout, number: str):
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.pay(card(number))
    assert err.value.message["errorCode"] == "101"
    assert err.value.message["message"] == "Invalid card number"


# -- 3D Secure ---------------------------------------------------------------------------

def _challenge(action: dict, verdict: str) -> dict[str, list[str]]:
    """What a shopper's browser does: open the page, press a button, land on returnUrl."""
    page = requests.get(action["url"], timeout=10)
    assert page.status_code == 200 and "id='complete'" in page.text
    done = requests.post(f"{action['url']}/{verdict}", allow_redirects=False, timeout=10)
    assert done.status_code == 303
    landed = urlsplit(done.headers["Location"])
    assert f"{landed.scheme}://{landed.netloc}{landed.path}" == \
        "http://127.0.0.1:9/checkout/return"
    return parse_qs(landed.query)


@pytest.mark.parametrize("number", [c.number for c in magic.CARDS if c.challenge])
def test_3ds2_redirect_flow_completes_through_payments_details(adyen: Checkout, number: str):
    cvc = "7373" if number.startswith("37") else "737"
    res = adyen.pay(card(number, cvc=cvc))
    assert res["resultCode"] == "RedirectShopper"
    action = res["action"]
    assert action["type"] == "redirect" and action["method"] == "GET"
    assert "/__hosted/3ds/" in action["url"]
    query = _challenge(action, "complete")
    details = adyen.payments.payments_details(
        {"details": {"redirectResult": query["redirectResult"][0]}}).message
    assert details["resultCode"] == "Authorised"
    assert details["merchantReference"] == res["merchantReference"]
    again = adyen.payments.payments_details(
        {"details": {"redirectResult": query["redirectResult"][0]}}).message
    assert again["pspReference"] == details["pspReference"]


def test_3ds2_failed_challenge_is_refused_not_authenticated(adyen: Checkout):
    res = adyen.pay(card("4917610000000000"))
    query = _challenge(res["action"], "fail")
    details = adyen.payments.payments_details(
        {"details": {"redirectResult": query["redirectResult"][0]}}).message
    assert (details["resultCode"], details["refusalReason"], details["refusalReasonCode"]) \
        == ("Refused", "3D Not Authenticated", "11")


def test_3ds2_then_a_holder_name_refusal(adyen: Checkout):
    res = adyen.pay(card("4917610000000000", holder="NOT_ENOUGH_BALANCE"))
    query = _challenge(res["action"], "complete")
    details = adyen.payments.payments_details(
        {"details": {"redirectResult": query["redirectResult"][0]}}).message
    assert (details["resultCode"], details["refusalReason"]) == ("Refused",
                                                                 "Not enough balance")


def test_redirect_result_before_the_challenge_is_an_error(adyen: Checkout):
    res = adyen.pay(card("4917610000000000"))
    token = res["action"]["url"].rsplit("/", 1)[1]
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.payments.payments_details({"details": {"redirectResult": token}})
    assert "not finished" in err.value.message["message"]
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity):
        adyen.payments.payments_details({"details": {"redirectResult": "nonsense"}})


def test_native_3ds2_challenge(adyen: Checkout):
    res = adyen.pay(card("5454545454545454"), authenticationData={
        "threeDSRequestData": {"nativeThreeDS": "preferred"}})
    assert res["resultCode"] == "ChallengeShopper"
    action = res["action"]
    assert (action["type"], action["subtype"]) == ("threeDS2", "challenge")
    token = json.loads(base64.b64decode(action["token"]))
    assert "/__hosted/3ds/" in token["acsURL"]
    result = base64.b64encode(orjson.dumps({
        "transStatus": "Y", "authorisationToken": action["authorisationToken"]})).decode()
    details = adyen.payments.payments_details({"details": {"threeDSResult": result}}).message
    assert details["resultCode"] == "Authorised"


NATIVE = {"threeDSRequestData": {"nativeThreeDS": "preferred"}}
FRICTIONLESS, FULL_FLOW, CHALLENGE_ONLY = "5201281505129736", "5000550000000029", \
    "4212345678910006"


def _three_ds_result(action: dict, **fields: str) -> str:
    """A native step's threeDSResult: base64 JSON with the step's result and the
    action's authorisationToken."""
    return base64.b64encode(orjson.dumps(
        {**fields, "authorisationToken": action["authorisationToken"]})).decode()


def _identified(adyen: Checkout, number: str, holder: str | None = None,
                **extra: object) -> dict:
    res = adyen.pay(card(number, holder=holder), authenticationData=NATIVE, **extra)
    assert res["resultCode"] == "IdentifyShopper"
    action = res["action"]
    assert (action["type"], action["subtype"], action["paymentMethodType"]) == \
        ("threeDS2", "fingerprint", "scheme")
    assert "url" not in action and "pspReference" not in res
    assert action["paymentData"] == action["authorisationToken"]
    token = json.loads(base64.b64decode(action["token"]))
    assert set(token) == {"threeDSMethodNotificationURL", "threeDSServerTransID"}
    return res


def _fingerprinted(adyen: Checkout, action: dict, ind: str = "Y") -> dict:
    result: dict = adyen.payments.payments_details({"details": {
        "threeDSResult": _three_ds_result(action, threeDSCompInd=ind)}}).message
    return result


def test_native_frictionless_card_authorises_after_the_fingerprint(
        adyen: Checkout, notifications: Receiver):
    res = _identified(adyen, FRICTIONLESS, reference="frictionless-1")
    details = _fingerprinted(adyen, res["action"])
    assert details["resultCode"] == "Authorised" and "action" not in details
    assert details["merchantReference"] == "frictionless-1"
    assert details["paymentMethod"] == {"brand": "mc", "type": "scheme"}
    item = notifications.one("AUTHORISATION", details["pspReference"])
    assert item["success"] == "true"


def test_frictionless_card_without_native_3ds_authorises_at_once(adyen: Checkout):
    assert adyen.pay(card(FRICTIONLESS))["resultCode"] == "Authorised"


@pytest.mark.parametrize("ind", ["Y", "N", "U"])
def test_native_full_flow_fingerprint_then_challenge_then_authorised(adyen: Checkout,
                                                                     ind: str):
    res = _identified(adyen, FULL_FLOW)
    challenge = _fingerprinted(adyen, res["action"], ind)
    assert challenge["resultCode"] == "ChallengeShopper"
    action = challenge["action"]
    assert (action["type"], action["subtype"]) == ("threeDS2", "challenge")
    assert "pspReference" not in challenge
    acs = json.loads(base64.b64decode(action["token"]))["acsURL"]
    assert "/__hosted/3ds/" in acs and acs == action["url"]
    done = adyen.payments.payments_details({"details": {
        "threeDSResult": _three_ds_result(action, transStatus="Y")}}).message
    assert done["resultCode"] == "Authorised"
    assert done["paymentMethod"]["brand"] == "maestro"


def test_native_full_flow_challenge_failed_is_refused_not_authenticated(adyen: Checkout):
    res = _identified(adyen, FULL_FLOW)
    action = _fingerprinted(adyen, res["action"])["action"]
    done = adyen.payments.payments_details({"details": {
        "threeDSResult": _three_ds_result(action, transStatus="N")}}).message
    assert (done["resultCode"], done["refusalReason"], done["refusalReasonCode"]) == \
        ("Refused", "3D Not Authenticated", "11")


def test_native_full_flow_challenge_can_be_passed_on_the_acs_page(adyen: Checkout):
    res = _identified(adyen, FULL_FLOW)
    action = _fingerprinted(adyen, res["action"])["action"]
    page = requests.post(f"{action['url']}/complete", allow_redirects=False, timeout=10)
    assert page.status_code == 303
    again = adyen.payments.payments_details({"details": {
        "redirectResult": parse_qs(urlsplit(page.headers["Location"]).query)
        ["redirectResult"][0]}}).message
    assert again["resultCode"] == "Authorised"


def test_native_frictionless_card_with_not_3d_authenticated_holder_is_refused(
        adyen: Checkout):
    res = _identified(adyen, FRICTIONLESS, holder="NOT_3D_AUTHENTICATED")
    done = _fingerprinted(adyen, res["action"])
    assert (done["resultCode"], done["refusalReasonCode"]) == ("Refused", "11")


def test_native_challenge_only_card_skips_the_fingerprint(adyen: Checkout):
    res = adyen.pay(card(CHALLENGE_ONLY), authenticationData=NATIVE)
    assert (res["resultCode"], res["action"]["subtype"]) == ("ChallengeShopper", "challenge")
    redirect = adyen.pay(card(CHALLENGE_ONLY))
    assert redirect["resultCode"] == "RedirectShopper"


def test_fingerprint_step_has_no_challenge_page_yet(adyen: Checkout):
    res = _identified(adyen, FULL_FLOW)
    page = requests.post(
        f"{adyen.sdk.checkout.payments_api.baseUrl.split('/adyen/')[0]}/__hosted/3ds/"
        f"{res['action']['authorisationToken']}/complete", allow_redirects=False, timeout=10)
    assert page.status_code == 404
    assert _fingerprinted(adyen, res["action"])["resultCode"] == "ChallengeShopper"


def _b64(obj: object) -> str:
    return base64.b64encode(orjson.dumps(obj)).decode()


@pytest.mark.parametrize("bad", [
    "not base64!",
    base64.b64encode(b"not json").decode(),
    _b64(["a list"]),
    _b64({"threeDSCompInd": "Y"}),
    _b64({"threeDSCompInd": "Y", "authorisationToken": 7}),
], ids=["not-base64", "not-json", "not-an-object", "no-token", "token-not-a-string"])
def test_malformed_three_ds_result_is_adyens_14_018(adyen: Checkout, bad: str):
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.payments.payments_details({"details": {"threeDSResult": bad}})
    body = err.value.message
    assert (body["status"], body["errorCode"], body["errorType"]) == (422, "14_018",
                                                                      "validation")
    assert "threeDSResult" in body["message"] and "authorisationToken" in body["message"]


def test_three_ds_result_for_the_wrong_step_is_adyens_14_018(adyen: Checkout):
    action = _identified(adyen, FULL_FLOW)["action"]
    for wrong in ({"transStatus": "Y"}, {"threeDSCompInd": "maybe"}):
        with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
            adyen.payments.payments_details({"details": {
                "threeDSResult": _three_ds_result(action, **wrong)}})
        assert err.value.message["errorCode"] == "14_018"
        assert "IdentifyShopper" in err.value.message["message"]
    challenge = _fingerprinted(adyen, action)["action"]
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.payments.payments_details({"details": {
            "threeDSResult": _three_ds_result(challenge, threeDSCompInd="Y")}})
    assert "ChallengeShopper" in err.value.message["message"]
    unknown = _three_ds_result({"authorisationToken": "unknown"}, transStatus="Y")
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.payments.payments_details({"details": {"threeDSResult": unknown}})
    assert "belongs to no payment" in err.value.message["message"]


# -- payment methods ---------------------------------------------------------------------

def test_payment_methods_lists_cards(adyen: Checkout):
    found = adyen.payments.payment_methods({"merchantAccount": adyen.merchant,
                                            "countryCode": "NL"}).message
    scheme = found["paymentMethods"][0]
    assert scheme["type"] == "scheme" and {"visa", "mc", "amex"} <= set(scheme["brands"])
    blocked = adyen.payments.payment_methods({"merchantAccount": adyen.merchant,
                                              "blockedPaymentMethods": ["scheme"]}).message
    assert blocked["paymentMethods"] == []


# -- idempotency and namespaces ----------------------------------------------------------

def _body(adyen: Checkout, reference: str) -> dict:
    return {"amount": {"currency": "EUR", "value": 1500}, "reference": reference,
            "merchantAccount": adyen.merchant, "returnUrl": "http://127.0.0.1:9/r",
            "paymentMethod": card()}


def test_same_idempotency_key_and_body_replays(adyen: Checkout):
    first = adyen.payments.payments(_body(adyen, "idem-1"), idempotency_key="k-1")
    second = adyen.payments.payments(_body(adyen, "idem-1"), idempotency_key="k-1")
    assert second.message == first.message
    other = adyen.payments.payments(_body(adyen, "idem-1"), idempotency_key="k-2")
    assert other.message["pspReference"] != first.message["pspReference"]


def test_same_idempotency_key_with_another_body_is_rejected(adyen: Checkout):
    adyen.payments.payments(_body(adyen, "idem-2"), idempotency_key="k-3")
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.payments.payments(_body(adyen, "idem-other"), idempotency_key="k-3")
    assert err.value.message["errorCode"] == "704"
    assert "k-3" in err.value.message["message"]


def test_api_keys_never_see_each_others_payments(payment_simulator: SimulatorServer):
    alice, bob = make_checkout(payment_simulator), make_checkout(payment_simulator)
    alices = alice.held()
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        bob.modifications.capture_authorised_payment(
            {"amount": {"currency": "EUR", "value": 1000}, "merchantAccount": bob.merchant},
            alices["pspReference"])
    assert err.value.message["errorCode"] == "167"
    # The same key, another merchant account: refused too.
    with pytest.raises(Adyen.AdyenAPIInvalidPermission) as err2:
        alice.modifications.capture_authorised_payment(
            {"amount": {"currency": "EUR", "value": 1000}, "merchantAccount": "OtherECOM"},
            alices["pspReference"])
    assert err2.value.message["errorCode"] == "901"
    # An idempotency key is scoped to its API key.
    a = alice.payments.payments(_body(alice, "shared"), idempotency_key="same")
    b = bob.payments.payments(_body(bob, "shared"), idempotency_key="same")
    assert a.message["pspReference"] != b.message["pspReference"]


def test_missing_api_key_is_adyens_401(payment_simulator: SimulatorServer):
    r = requests.post(payment_simulator.url("adyen") + "/checkout/v71/payments", json={},
                      timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert {k: body[k] for k in ("status", "errorCode", "message", "errorType")} == {
        "status": 401, "errorCode": "000", "message": "HTTP Status Response - Unauthorized",
        "errorType": "security"}


# -- scenarios ---------------------------------------------------------------------------

@pytest.mark.payment_scenario("""
name: adyen-insufficient-funds
rules:
  - match: {provider: adyen, operation: authorize}
    outcome: {decline: insufficient_funds}
""")
def test_scenario_decline_insufficient_funds(adyen: Checkout):
    res = adyen.pay()
    assert (res["resultCode"], res["refusalReason"], res["refusalReasonCode"]) == \
        ("Refused", "Not enough balance", "12")
    assert res["additionalData"]["refusalReasonRaw"].startswith("51 ")


@pytest.mark.payment_scenario("""
name: adyen-outage
rules:
  - match: {provider: adyen, operation: authorize, amount: {gte: 5000}}
    fault: {http: 503}
  - match: {provider: adyen, operation: capture}
    latency: {distribution: fixed, value: 5ms}
""")
def test_scenario_fault_and_latency(adyen: Checkout, payment_simulator: SimulatorServer):
    with pytest.raises(Adyen.AdyenError) as err:
        adyen.pay(value=9000)
    assert err.value.status_code == 503
    assert err.value.message["status"] == 503 and err.value.message["errorType"] == "internal"
    held = adyen.held(value=100)
    adyen.modifications.capture_authorised_payment(
        {"amount": {"currency": "EUR", "value": 100}, "merchantAccount": adyen.merchant},
        held["pspReference"])
    journal = payment_simulator.journal(provider="adyen")
    captured = [e for e in journal if e["path"].endswith("/captures")]
    assert captured and captured[0].get("scenario_rules")
