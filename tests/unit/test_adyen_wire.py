"""Adyen's wire rendering: every canonical decline reason, notification signatures as
the SDK checks them, error envelopes."""

from __future__ import annotations

import orjson
import pytest
from Adyen.util import generate_notification_sig, is_valid_hmac_notification

from paysandbox import contracts
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Status
from paysandbox.errors import ApiError, PayloadTooLarge, RouteMissing, Unauthorized
from paysandbox.providers.adyen import magic, wire

KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


def _failed(reason: DeclineReason | None, native: str | None = None) -> Payment:
    return Payment(id="ABCDEFGHIJKLMNOP", namespace="k", provider="adyen", amount=100,
                   currency="EUR", created=0, status=Status.FAILED, decline=reason,
                   decline_code=native, extra={"reference": "r", "brand": "visa"})


@pytest.mark.parametrize("reason", list(DeclineReason))
def test_every_decline_reason_renders(reason: DeclineReason):
    body = wire.payment_response(_failed(reason))
    assert body["resultCode"] in ("Refused", "Error", "Cancelled")
    assert body["refusalReason"] and body["refusalReasonCode"].isdigit()
    assert body["refusalReasonCode"] in wire.refusals()
    assert body["additionalData"]["refusalReasonRaw"]


def test_insufficient_funds_is_not_enough_balance():
    body = wire.payment_response(_failed(DeclineReason.INSUFFICIENT_FUNDS))
    assert (body["resultCode"], body["refusalReason"], body["refusalReasonCode"]) == \
        ("Refused", "Not enough balance", "12")
    assert body["additionalData"]["refusalReasonRaw"].startswith("51 : ")


def test_a_native_code_wins_over_the_canonical_reason():
    body = wire.payment_response(_failed(DeclineReason.GENERIC_DECLINE, native="26"))
    assert (body["refusalReason"], body["refusalReasonCode"]) == ("Revocation Of Auth", "26")


def test_every_test_trigger_has_a_documented_refusal():
    refusals = wire.refusals()
    for t in magic.TRIGGERS:
        assert t.code in refusals or t.code in ("1", "13"), t
    assert magic.trigger_for("not_enough_balance ", None) is magic.BY_CODE["12"]
    assert magic.trigger_for("Jane", "24") is magic.BY_CODE["24"]
    assert magic.trigger_for("Jane", None) is None


def test_signature_is_the_sdks():
    item = wire.notification_item(psp="PSP0000000000001", original="PSP0000000000000",
                                  merchant_account="M", merchant_reference="ref:1",
                                  value=1234, currency="EUR", event_code="CAPTURE",
                                  success=True, at=0)
    signed = wire.AdyenWebhooks().sign(wire.notification(item), KEY, 0)
    doc = orjson.loads(signed.body)
    sent = doc["notificationItems"][0]["NotificationRequestItem"]
    assert sent["additionalData"]["hmacSignature"] == \
        generate_notification_sig(item, KEY).decode()
    assert is_valid_hmac_notification(doc, KEY)
    assert not is_valid_hmac_notification(doc, KEY.replace("4", "5"))


def test_a_key_that_is_not_hex_signs_wrongly_instead_of_failing():
    item = wire.notification_item(psp="P", original=None, merchant_account="M",
                                  merchant_reference="r", value=1, currency="EUR",
                                  event_code="AUTHORISATION", success=False, at=0)
    signed = wire.AdyenWebhooks().sign(wire.notification(item), KEY + "-wrong", 0)
    assert not is_valid_hmac_notification(orjson.loads(signed.body), KEY)


def test_only_accepted_acknowledges():
    scheme = wire.AdyenWebhooks()
    assert scheme.accepted(200, b"[accepted]")
    assert scheme.accepted(200, b"[accepted]\n")
    assert not scheme.accepted(200, b"ok")
    assert not scheme.accepted(500, b"[accepted]")
    assert scheme.retry_schedule[:2] == (120.0, 300.0)


@pytest.mark.parametrize(("error", "status", "code", "kind"), [
    (Unauthorized("no"), 401, "000", "security"),
    (PayloadTooLarge("big"), 413, "702", "validation"),
    (RouteMissing("where"), 404, "000", "validation"),
    (ApiError("down", status=503), 503, "000", "internal"),
    (wire.AdyenError("Invalid card number", code="101"), 422, "101", "validation"),
])
def test_error_envelope(error: ApiError, status: int, code: str, kind: str):
    body = wire.error_body(error, "X" * 16)
    assert (body["status"], body["errorCode"], body["errorType"]) == (status, code, kind)
    assert body["pspReference"] == "X" * 16


def test_codes_agree_with_the_documented_refusals():
    for reason, native in wire.codes().items():
        row = wire.refusals()[native["code"]]
        assert (native["reason"], native["resultCode"]) == (row["reason"], row["resultCode"]), \
            reason


def _native(action: str) -> Payment:
    return Payment(id="ABCDEFGHIJKLMNOP", namespace="k", provider="adyen", amount=100,
                   currency="EUR", created=0, status=Status.REQUIRES_ACTION, action=action,
                   extra={"reference": "r", "brand": "mc", "native": True,
                          "redirect_token": "tok", "returnUrl": "https://shop.example/r",
                          "action_url": "http://127.0.0.1/__hosted/3ds/tok"})


def test_native_steps_render_their_result_code_and_action_within_the_contract():
    identify = wire.payment_response(_native(wire.FINGERPRINT))
    assert (identify["resultCode"], identify["action"]["subtype"]) == ("IdentifyShopper",
                                                                       "fingerprint")
    challenge = wire.payment_response(_native(wire.CHALLENGE))
    assert (challenge["resultCode"], challenge["action"]["subtype"]) == ("ChallengeShopper",
                                                                         "challenge")
    for body in (identify, challenge):
        assert contracts.every_violation("adyen", "objects/payment_response", body) == []


@pytest.mark.parametrize("drift", ["url on a fingerprint", "subtype against resultCode"])
def test_the_contract_catches_a_drifting_fingerprint_action(drift: str):
    body = wire.payment_response(_native(wire.FINGERPRINT))
    if drift == "url on a fingerprint":
        body["action"]["url"] = "http://127.0.0.1/acs"
    else:
        body["resultCode"] = "ChallengeShopper"
    assert contracts.every_violation("adyen", "objects/payment_response", body)
