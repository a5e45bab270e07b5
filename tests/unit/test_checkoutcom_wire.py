"""Checkout.com's wire pieces: codes for every canonical decline reason, id shapes,
the webhook signature and the documented test values."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from paysandbox import contracts
from paysandbox.core.outcomes import DeclineReason, OutcomeKind
from paysandbox.core.payments import Payment, Status
from paysandbox.providers.checkoutcom import magic, wire

_ID = re.compile(r"^(pay|act|evt|sid)_[a-z2-7]{26}$")


@pytest.mark.parametrize("reason", list(DeclineReason), ids=lambda r: r.value)
def test_every_decline_reason_renders(reason: DeclineReason) -> None:
    p = Payment(id=wire.new_id("pay"), namespace="ns", provider="checkoutcom", amount=100,
                currency="USD", created=0.0, status=Status.FAILED, decline=reason)
    code, summary = wire.decline(p)
    assert re.fullmatch(r"[234]0[0-9A-Z]{3}", code), code
    assert summary
    assert wire.status(p) == "Declined"


def test_insufficient_funds_is_20051() -> None:
    assert wire.codes()["insufficient_funds"] == {"response_code": "20051",
                                                  "response_summary": "Insufficient Funds"}


def test_a_native_code_keeps_its_own_summary() -> None:
    p = Payment(id="pay_x", namespace="ns", provider="checkoutcom", amount=100,
                currency="USD", created=0.0, status=Status.FAILED,
                decline=DeclineReason.FRAUDULENT, decline_code="40101")
    assert wire.decline(p) == ("40101", "Risk Blocked Transaction")


@pytest.mark.parametrize("prefix", ["pay", "act", "evt", "sid"])
def test_ids_are_26_lowercase_base32_characters(prefix: str) -> None:
    ids = {wire.new_id(prefix) for _ in range(200)}
    assert len(ids) == 200 and all(_ID.match(i) for i in ids)
    assert _ID.match(wire.derived_id(prefix, "pay_x", 3, "capture"))


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"id":"evt_x","type":"payment_approved"}'
    signed = wire.CheckoutWebhooks().sign(body, "key", 0)
    assert signed.body == body
    assert signed.headers["Cko-Signature"] == \
        hmac.new(b"key", body, hashlib.sha256).hexdigest()


def test_retry_schedule_is_the_documented_one() -> None:
    assert list(wire.CheckoutWebhooks.retry_schedule) == \
        [300, 600, 900, 1800, 3600, 14400, 43200, 43200]


def test_every_test_value_names_a_known_response_code() -> None:
    for code in [*magic.CARD_CODES.values(), *magic.AMOUNT_CODES.values(),
                 *magic.AMOUNT_SUFFIX_CODES.values()]:
        assert code in magic.RESPONSE_CODES


def test_card_codes_win_over_amount_codes_and_amounts_need_two_decimals() -> None:
    assert magic.authorization_outcome("4544249167673670", 1005, 2).native_code == "20051"
    assert magic.authorization_outcome("4242424242424242", 1005, 2).native_code == "20005"
    assert magic.authorization_outcome("4242424242424242", 1005, 0).is_approved
    assert magic.authorization_outcome("4242424242424242", 1000, 2).is_approved


def test_three_ds_outcomes() -> None:
    challenge = magic.outcome("4242424242424242", 1051, 2, three_ds=True)
    assert challenge.kind is OutcomeKind.REQUIRES_ACTION
    assert challenge.then is not None and challenge.then.native_code == "20051"
    assert magic.outcome("4485040371536584", 1000, 2, three_ds=True).is_approved
    assert magic.outcome("4532432452900131", 1000, 2, three_ds=True).native_code == "20150"
    assert magic.outcome("4532432452900131", 1000, 2, three_ds=True,
                         attempt_n3d=True).is_approved


def test_field_codes_follow_checkoutcom_names() -> None:
    assert wire.field_code(("source", "number")) == "card_number"
    assert wire.field_code(("source",)) == "payment_source"
    assert wire.field_code(("customer", "email")) == "customer_email"


_CARD = {"type": "card", "number": "4242424242424242", "expiry_month": 12,
         "expiry_year": 2035}


@pytest.mark.parametrize(("mode", "body", "served", "codes"), [
    (contracts.STRICT, {"payment_type": "Weekly"}, False, ["payment_type_invalid"]),
    (contracts.REPORT, {"payment_type": "Weekly"}, True, None),  # an enum: served
    (contracts.REPORT, {"reference": "x" * 81}, True, None),  # too long: served
    (contracts.REPORT, {"amount": "1000"}, False, ["amount_invalid"]),  # wrong type
    (contracts.REPORT, {"amount": -1}, False, ["amount_invalid"]),  # a negative amount
    (contracts.REPORT, {"currency": None}, False, ["currency_invalid"]),
])
def test_validate_goes_through_the_contract_in_either_mode(
        mode: str, body: dict[str, object], served: bool, codes: list[str] | None) -> None:
    data = {"source": _CARD, "amount": 1000, "currency": "USD", **body}
    seen = contracts.Observed(mode)
    token = contracts.OBSERVED.set(seen)
    try:
        if served:
            assert wire.validate(data, "create_payment.request") == data
        else:
            with pytest.raises(wire.Invalid) as caught:
                wire.validate(data, "create_payment.request")
            assert caught.value.extra["error_codes"] == codes
    finally:
        contracts.OBSERVED.reset(token)
    assert [f.field for f in seen.findings] == [next(iter(body))]
