"""Our Adyen wire format against Adyen's published OpenAPI (Checkout API v71, Disputes
API v30 and the standard notification webhooks): responses validate against the spec's
schemas, and every path we serve is one the spec has."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from paysandbox.providers.adyen.routes import provider
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import Checkout, Receiver, card

# Fixtures from the helper module, under the names tests ask for.
adyen = adyen_support.adyen
notifications = adyen_support.notifications
receiver = adyen_support.receiver

# Adyen's published OpenAPI documents are reference data, not ours to redistribute: they
# live beside the repository, in ../shared/provider-specs/adyen/.
SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "provider-specs" / "adyen"
_NEEDED = ("CheckoutService-v71.json", "DisputeService-v30.json", "Webhooks-v1.json")
if not all((SPECS / name).is_file() for name in _NEEDED):
    _reason = (f"Adyen's OpenAPI documents ({', '.join(_NEEDED)}) are not in {SPECS}: put "
               "Adyen's published specs (github.com/Adyen/adyen-openapi, json/) there")
    if os.environ.get("CI"):
        pytest.fail(f"{_reason}; CI must check the wire format against them.", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)
CHECKOUT = json.loads((SPECS / "CheckoutService-v71.json").read_text(encoding="utf-8"))
WEBHOOKS = json.loads((SPECS / "Webhooks-v1.json").read_text(encoding="utf-8"))
DISPUTES = json.loads((SPECS / "DisputeService-v30.json").read_text(encoding="utf-8"))


def _validator(spec: dict[str, Any], schema: str) -> jsonschema.Draft202012Validator:
    uri = "urn:adyen-spec"
    registry = Registry().with_resource(uri, Resource.from_contents(
        spec, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"{uri}#/components/schemas/{schema}"},
                                           registry=registry)


def _check(spec: dict[str, Any], schema: str, body: dict[str, Any]) -> None:
    errors = sorted(_validator(spec, schema).iter_errors(body), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_every_served_path_is_in_the_spec():
    checkout = {re.sub(r"^/checkout/v\{version:\[0-9\]\+\}", "", r.path)
                .replace("{psp}", "{paymentPspReference}") for r in provider.routes()
                if r.path.startswith("/checkout/")}
    assert checkout <= set(CHECKOUT["paths"]), checkout - set(CHECKOUT["paths"])
    assert len(checkout) == 11
    # the Disputes API where its server puts it (ca-test.adyen.com/ca/services/…)
    base = urlparse(DISPUTES["servers"][0]["url"]).path
    disputes = {r.path.removeprefix(base) for r in provider.routes()
                if r.path.startswith(base)}
    assert disputes == set(DISPUTES["paths"])
    assert urlparse(DISPUTES["servers"][0]["url"]).hostname in provider.hostnames


@pytest.mark.parametrize("method", [card(), card(holder="NOT_ENOUGH_BALANCE"),
                                    card(holder="ERROR"), card(holder="PENDING"),
                                    card("4917610000000000")],
                         ids=["authorised", "refused", "error", "received", "redirect"])
def test_payment_responses_match_the_spec(adyen: Checkout, method: dict):
    _check(CHECKOUT, "PaymentResponse", adyen.pay(method))


def test_native_challenge_and_details_match_the_spec(adyen: Checkout):
    res = adyen.pay(card("4917610000000000"), authenticationData={
        "threeDSRequestData": {"nativeThreeDS": "preferred"}})
    _check(CHECKOUT, "PaymentResponse", res)
    _check(CHECKOUT, "CheckoutThreeDS2Action", res["action"])
    methods = adyen.payments.payment_methods({"merchantAccount": adyen.merchant}).message
    _check(CHECKOUT, "PaymentMethodsResponse", methods)


def test_native_fingerprint_and_its_details_match_the_spec(adyen: Checkout):
    res = adyen.pay(card("5000550000000029"), authenticationData={
        "threeDSRequestData": {"nativeThreeDS": "preferred"}})
    assert res["resultCode"] == "IdentifyShopper"
    _check(CHECKOUT, "PaymentResponse", res)
    _check(CHECKOUT, "CheckoutThreeDS2Action", res["action"])
    result = base64.b64encode(json.dumps({
        "threeDSCompInd": "Y",
        "authorisationToken": res["action"]["authorisationToken"]}).encode()).decode()
    challenge = adyen.payments.payments_details({"details": {"threeDSResult": result}}).message
    assert challenge["resultCode"] == "ChallengeShopper"
    _check(CHECKOUT, "PaymentDetailsResponse", challenge)


def test_modification_responses_match_the_spec(adyen: Checkout):
    m, acct = adyen.modifications, {"merchantAccount": adyen.merchant}
    amount = {"amount": {"currency": "EUR", "value": 1000}}
    held = adyen.held()["pspReference"]
    _check(CHECKOUT, "PaymentAmountUpdateResponse",
           m.update_authorised_amount({**acct, **amount}, held).message)
    _check(CHECKOUT, "PaymentCaptureResponse",
           m.capture_authorised_payment({**acct, **amount}, held).message)
    _check(CHECKOUT, "PaymentRefundResponse",
           m.refund_captured_payment({**acct, **amount}, held).message)
    _check(CHECKOUT, "PaymentCancelResponse",
           m.cancel_authorised_payment_by_psp_reference(acct, adyen.held()["pspReference"])
           .message)
    _check(CHECKOUT, "PaymentReversalResponse",
           m.refund_or_cancel_payment(acct, adyen.pay()["pspReference"]).message)
    _check(CHECKOUT, "StandalonePaymentCancelResponse",
           m.cancel_authorised_payment({**acct, "paymentReference": "x"}).message)


def test_error_envelope_matches_the_spec(adyen: Checkout):
    import Adyen
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        adyen.pay(value=-1)
    _check(CHECKOUT, "ServiceError", err.value.message)


def test_notifications_match_the_webhook_spec(adyen: Checkout, notifications: Receiver):
    held = adyen.held()
    adyen.modifications.capture_authorised_payment(
        {"merchantAccount": adyen.merchant, "amount": {"currency": "EUR", "value": 1000}},
        held["pspReference"])
    adyen.modifications.refund_captured_payment(
        {"merchantAccount": adyen.merchant, "amount": {"currency": "EUR", "value": 1}},
        held["pspReference"])
    adyen.pay(card(holder="DECLINED"))
    notifications.one("REFUND")
    assert notifications.wait_for(lambda got: len(got) >= 4)
    for n in notifications.received:
        _check(WEBHOOKS, _BY_EVENT[n.item["eventCode"]], n.json())


_BY_EVENT = {"AUTHORISATION": "AuthorisationNotificationRequest",
             "CAPTURE": "CaptureNotificationRequest", "REFUND": "RefundNotificationRequest"}


def test_dispute_responses_and_notifications_match_the_spec(
        payment_simulator: SimulatorServer, adyen: Checkout, notifications: Receiver):
    api = adyen.sdk.disputes.disputes_api
    api.baseUrl = payment_simulator.url("adyen") + "/ca/services/DisputeService/v30"
    psp = adyen.pay(card(holder="Chargeback:13.3"))["pspReference"]
    adyen.pay(card(holder="Chargeback"))  # a fraud chargeback: NOTIFICATION_OF_FRAUD too
    payment_simulator.advance_clock("1s")
    dispute = _dispute_of(notifications, psp)
    body = {"merchantAccountCode": adyen.merchant, "disputePspReference": dispute}
    _check(DISPUTES, "DefenseReasonsResponse",
           api.retrieve_applicable_defense_reasons(body).message)
    _check(DISPUTES, "SupplyDefenseDocumentResponse", api.supply_defense_document({
        **body, "defenseDocuments": [{"defenseDocumentTypeCode": "DefenseMaterial",
                                      "contentType": "application/pdf",
                                      "content": "JVBERi0xLjQK"}]}).message)
    _check(DISPUTES, "DeleteDefenseDocumentResponse", api.delete_dispute_defense_document(
        {**body, "defenseDocumentType": "DefenseMaterial"}).message)
    refused = api.defend_dispute({**body, "defenseReasonCode": "SupplyDefenseMaterial"})
    _check(DISPUTES, "DefendDisputeResponse", refused.message)
    assert refused.message["disputeServiceResult"]["success"] is False
    _check(DISPUTES, "AcceptDisputeResponse", api.accept_dispute(body).message)
    import Adyen
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        api.accept_dispute({"merchantAccountCode": adyen.merchant})
    _check(DISPUTES, "ServiceError", err.value.message)
    payment_simulator.admin("POST", f"/payments/{psp}/dispute", {"kind": "inquiry"})
    notifications.one("REQUEST_FOR_INFORMATION")
    assert notifications.wait_for(lambda got: {n.item["eventCode"] for n in got} >= {
        "NOTIFICATION_OF_FRAUD", "NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK",
        "DISPUTE_DEFENSE_PERIOD_ENDED", "REQUEST_FOR_INFORMATION"})
    for n in notifications.received:
        if n.item["eventCode"] in _DISPUTE_EVENTS:
            _check(WEBHOOKS, _DISPUTE_EVENTS[n.item["eventCode"]], n.json())


def _dispute_of(rx: Receiver, psp: str) -> str:
    assert rx.wait_for(lambda got: any(n.item["eventCode"] == "CHARGEBACK" and
                                       n.item["originalReference"] == psp for n in got))
    return next(i["pspReference"] for i in rx.items("CHARGEBACK")
                if i["originalReference"] == psp)


_DISPUTE_EVENTS = {
    "NOTIFICATION_OF_FRAUD": "NotificationOfFraudNotificationRequest",
    "NOTIFICATION_OF_CHARGEBACK": "NotificationOfChargebackNotificationRequest",
    "CHARGEBACK": "ChargebackNotificationRequest",
    "CHARGEBACK_REVERSED": "ChargebackReversedNotificationRequest",
    "SECOND_CHARGEBACK": "SecondChargebackNotificationRequest",
    "PREARBITRATION_OPEN": "PrearbitrationOpenNotificationRequest",
    "PREARBITRATION_WON": "PrearbitrationWonNotificationRequest",
    "PREARBITRATION_LOST": "PrearbitrationLostNotificationRequest",
    "REQUEST_FOR_INFORMATION": "RequestForInformationNotificationRequest",
    "INFORMATION_SUPPLIED": "InformationSuppliedNotificationRequest",
    "ISSUER_RESPONSE_TIMEFRAME_EXPIRED": "IssuerResponseTimeframeExpiredNotificationRequest",
    "DISPUTE_DEFENSE_PERIOD_ENDED": "DisputeDefensePeriodEndedNotificationRequest",
}


def test_every_dispute_notification_matches_the_webhook_spec(
        payment_simulator: SimulatorServer, adyen: Checkout, notifications: Receiver):
    from paysandbox.providers.adyen import disputes
    api = adyen.sdk.disputes.disputes_api
    api.baseUrl = payment_simulator.url("adyen") + "/ca/services/DisputeService/v30"

    def defend(dispute: str) -> None:
        body = {"merchantAccountCode": adyen.merchant, "disputePspReference": dispute}
        api.supply_defense_document({**body, "defenseDocuments": [{
            "defenseDocumentTypeCode": "DefenseMaterial", "contentType": "application/pdf",
            "content": "JVBERi0xLjQK"}]})
        assert api.defend_dispute({**body, "defenseReasonCode": "SupplyDefenseMaterial"}
                                  ).message["disputeServiceResult"]["success"] is True

    adyen.pay(card(holder="Second Chargeback"))
    won, lost = (adyen.pay(card(holder="Prearbitration"))["pspReference"] for _ in range(2))
    inquiry = adyen.pay()["pspReference"]
    payment_simulator.admin("POST", f"/payments/{inquiry}/dispute", {"kind": "inquiry"})
    defend(notifications.one("REQUEST_FOR_INFORMATION")["pspReference"])
    for step in ("1s", "61s", "1h", "1d"):
        payment_simulator.advance_clock(step)
    assert notifications.wait_for(lambda got: len(
        [n for n in got if n.item["eventCode"] == "PREARBITRATION_OPEN"]) == 2)
    defend(next(i["pspReference"] for i in notifications.items("PREARBITRATION_OPEN")
                if i["originalReference"] == won))
    payment_simulator.advance_clock("1h")
    payment_simulator.advance_clock("7d")  # the other pre-arbitration is never answered
    assert notifications.wait_for(
        lambda got: {n.item["eventCode"] for n in got} >= disputes.EVENT_CODES)
    assert any(i["originalReference"] == lost
               for i in notifications.items("PREARBITRATION_LOST"))
    for n in notifications.received:
        if n.item["eventCode"] in _DISPUTE_EVENTS:
            _check(WEBHOOKS, _DISPUTE_EVENTS[n.item["eventCode"]], n.json())
