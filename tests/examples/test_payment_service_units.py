"""The reference service's circuit breaker, router and webhook signature checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from paysandbox.examples.payment_service.adapters.adyen import AdyenAdapter, signing_string
from paysandbox.examples.payment_service.adapters.base import BadSignature
from paysandbox.examples.payment_service.adapters.checkoutcom import CheckoutcomAdapter
from paysandbox.examples.payment_service.adapters.daraja import DarajaAdapter
from paysandbox.examples.payment_service.adapters.mercadopago import MercadopagoAdapter
from paysandbox.examples.payment_service.adapters.mollie import MollieAdapter
from paysandbox.examples.payment_service.adapters.razorpay import RazorpayAdapter
from paysandbox.examples.payment_service.adapters.stripe import StripeAdapter, verify_signature
from paysandbox.examples.payment_service.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from paysandbox.examples.payment_service.router import NoRoute, Router

SECRET = "ab" * 32


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_refuses_calls() -> None:
    clock = FakeClock()
    b = CircuitBreaker("stripe", failure_threshold=3, reset_after=10, clock=clock)
    b.failure()
    b.failure()
    b.success()  # a success in between resets the count
    b.failure()
    b.failure()
    assert b.state == CLOSED and b.allow()
    b.failure()
    assert b.state == OPEN
    assert not b.allow()


def test_breaker_half_opens_after_the_cool_down_with_a_single_probe() -> None:
    clock = FakeClock()
    b = CircuitBreaker("stripe", failure_threshold=1, reset_after=10, clock=clock)
    b.failure()
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.2
    assert b.allow()  # the probe
    assert b.state == HALF_OPEN
    assert not b.allow()  # only one probe at a time
    b.success()
    assert b.state == CLOSED and b.allow()


def test_a_failed_probe_opens_the_circuit_again_for_a_full_cool_down() -> None:
    clock = FakeClock()
    b = CircuitBreaker("stripe", failure_threshold=1, reset_after=10, clock=clock)
    b.failure()
    clock.now += 10
    assert b.allow()
    b.failure()
    assert b.state == OPEN
    clock.now += 5
    assert not b.allow()
    assert [s for _, s in b.transitions] == [OPEN, HALF_OPEN, OPEN]


@pytest.mark.parametrize(("currency", "country", "expected"), [
    ("usd", "US", ["stripe", "checkoutcom", "adyen"]),
    ("EUR", "DE", ["adyen", "checkoutcom", "stripe"]),
    ("gbp", None, ["adyen", "checkoutcom", "stripe"]),
    ("brl", "BR", ["checkoutcom", "stripe", "adyen"]),
])
def test_router_orders_acquirers_by_currency(currency: str, country: str | None,
                                             expected: list[str]) -> None:
    router = Router(["stripe", "adyen", "checkoutcom"])
    assert router.candidates("card", currency, country) == expected


def test_router_skips_providers_that_are_not_configured() -> None:
    assert Router(["stripe"]).candidates("card", "eur") == ["stripe"]
    assert Router(["adyen", "stripe"]).candidates("card", "usd") == ["stripe", "adyen"]


def test_router_names_what_is_configured_when_nothing_fits() -> None:
    with pytest.raises(NoRoute, match="configured: stripe"):
        Router(["stripe"]).candidates("pix", "brl", "BR")


def _stripe_header(body: bytes, secret: str, t: int) -> str:
    sig = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


def test_stripe_signature_verifies_and_rejects_tampering_and_replays() -> None:
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
    now = int(time.time())
    verify_signature(body, _stripe_header(body, "whsec_x", now), "whsec_x")
    with pytest.raises(BadSignature):
        verify_signature(body + b" ", _stripe_header(body, "whsec_x", now), "whsec_x")
    with pytest.raises(BadSignature):
        verify_signature(body, _stripe_header(body, "whsec_other", now), "whsec_x")
    with pytest.raises(BadSignature, match="tolerance"):
        verify_signature(body, _stripe_header(body, "whsec_x", now - 600), "whsec_x")
    with pytest.raises(BadSignature):
        verify_signature(body, "", "whsec_x")


def test_stripe_webhook_becomes_a_status_update() -> None:
    adapter = StripeAdapter(None, "http://x", "sk_test_1", webhook_secret="whsec_x")  # type: ignore[arg-type]
    body = json.dumps({"type": "payment_intent.succeeded",
                       "data": {"object": {"id": "pi_1", "status": "succeeded"}}}).encode()
    [update] = adapter.verify_webhook(
        {"Stripe-Signature": _stripe_header(body, "whsec_x", int(time.time()))}, body)
    assert (update.reference, update.status) == ("pi_1", "captured")


def _adyen_item(event: str = "CAPTURE", success: str = "true") -> dict[str, object]:
    return {"pspReference": "PSP2", "originalReference": "PSP1",
            "merchantAccountCode": "Shop", "merchantReference": "order-1",
            "amount": {"value": 1000, "currency": "EUR"}, "eventCode": event,
            "success": success}


def _adyen_sign(item: dict[str, object], key_hex: str) -> dict[str, object]:
    mac = hmac.new(bytes.fromhex(key_hex), signing_string(item), hashlib.sha256).digest()
    return {**item, "additionalData": {"hmacSignature": base64.b64encode(mac).decode()}}


def test_adyen_hmac_uses_the_documented_signing_string() -> None:
    assert signing_string(_adyen_item()) == b"PSP2:PSP1:Shop:order-1:1000:EUR:CAPTURE:true"


def test_adyen_notification_verifies_and_a_tampered_one_does_not() -> None:
    adapter = AdyenAdapter(None, "http://x", "key", webhook_secret=SECRET)  # type: ignore[arg-type]
    item = _adyen_sign(_adyen_item(), SECRET)
    body = json.dumps({"live": "false", "notificationItems": [
        {"NotificationRequestItem": item}]}).encode()
    [update] = adapter.verify_webhook({}, body)
    assert (update.reference, update.status) == ("PSP1", "captured")
    tampered = {**item, "amount": {"value": 1, "currency": "EUR"}}
    body = json.dumps({"notificationItems": [{"NotificationRequestItem": tampered}]}).encode()
    with pytest.raises(BadSignature):
        adapter.verify_webhook({}, body)


def test_checkoutcom_signature_is_an_hmac_of_the_raw_body() -> None:
    adapter = CheckoutcomAdapter(None, "http://x", "sk_sbox_1", webhook_secret=SECRET)  # type: ignore[arg-type]
    body = json.dumps({"type": "payment_captured", "data": {"id": "pay_1"}}).encode()
    good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    [update] = adapter.verify_webhook({"Cko-Signature": good}, body)
    assert (update.reference, update.status) == ("pay_1", "captured")
    with pytest.raises(BadSignature):
        adapter.verify_webhook({"Cko-Signature": good}, body.replace(b"pay_1", b"pay_2"))


@pytest.mark.parametrize(("method", "currency", "country", "expected"), [
    ("ideal", "eur", "NL", ["mollie"]),
    ("bancontact", "EUR", "BE", ["mollie"]),
    ("pix", "brl", "BR", ["mercadopago"]),
    ("oxxo", "mxn", "MX", ["mercadopago"]),
    ("upi", "inr", "IN", ["razorpay"]),
    ("mpesa", "kes", "KE", ["daraja"]),
])
def test_router_sends_each_local_method_to_the_provider_that_offers_it(
        method: str, currency: str, country: str, expected: list[str]) -> None:
    router = Router(["stripe", "adyen", "checkoutcom", "mollie", "mercadopago", "razorpay",
                     "daraja"])
    assert router.candidates(method, currency, country) == expected


def test_router_refuses_a_local_method_in_a_currency_it_does_not_settle_in() -> None:
    with pytest.raises(NoRoute, match="pix payments in USD"):
        Router(["mercadopago", "stripe"]).candidates("pix", "usd")


def _mp_header(data_id: str, request_id: str, ts: str, secret: str) -> str:
    manifest = f"id:{data_id};request-id:{request_id};ts:{ts};"
    return f"ts={ts},v1={hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()}"


def test_mercadopago_x_signature_signs_the_documented_manifest() -> None:
    adapter = MercadopagoAdapter(None, "http://x", "TEST-1", webhook_secret=SECRET)  # type: ignore[arg-type]
    headers = {"x-signature": _mp_header("123", "req-1", "1700000000", SECRET),
               "x-request-id": "req-1"}
    [update] = adapter.verify_webhook(headers, b"{}", {"data.id": "123", "type": "payment"})
    assert (update.reference, update.status) == ("123", None)  # read it from the API
    with pytest.raises(BadSignature):
        adapter.verify_webhook(headers, b"{}", {"data.id": "124", "type": "payment"})
    with pytest.raises(BadSignature):
        adapter.verify_webhook({**headers, "x-request-id": "req-2"}, b"{}",
                               {"data.id": "123"})


def test_razorpay_signature_and_a_timed_out_collect_is_an_expiry() -> None:
    adapter = RazorpayAdapter(None, "http://x", "rzp_test_1", webhook_secret=SECRET)  # type: ignore[arg-type]
    body = json.dumps({"event": "payment.failed", "payload": {"payment": {"entity": {
        "id": "pay_1", "status": "failed", "error_reason": "payment_timed_out"}}}}).encode()
    good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    [update] = adapter.verify_webhook({"X-Razorpay-Signature": good}, body)
    assert (update.reference, update.status) == ("pay_1", "expired")
    with pytest.raises(BadSignature):
        adapter.verify_webhook({"X-Razorpay-Signature": good}, body.replace(b"pay_1", b"pay_2"))


def test_daraja_callbacks_count_only_for_pushes_we_made() -> None:
    adapter = DarajaAdapter(None, "http://x", "key")  # type: ignore[arg-type]
    adapter.issued["ws_CO_1"] = "m-1"

    def callback(checkout: str, merchant: str, code: int) -> bytes:
        return json.dumps({"Body": {"stkCallback": {
            "MerchantRequestID": merchant, "CheckoutRequestID": checkout,
            "ResultCode": code, "ResultDesc": "…"}}}).encode()

    assert adapter.verify_webhook({}, callback("ws_CO_1", "m-1", 0))[0].status == "captured"
    assert adapter.verify_webhook({}, callback("ws_CO_1", "m-1", 1037))[0].status == "expired"
    assert adapter.verify_webhook({}, callback("ws_CO_1", "m-1", 1032))[0].status == "canceled"
    failed = adapter.verify_webhook({}, callback("ws_CO_1", "m-1", 2001))[0]
    assert (failed.status, failed.decline_code) == ("failed", "2001")
    with pytest.raises(BadSignature):
        adapter.verify_webhook({}, callback("ws_CO_2", "m-1", 0))
    with pytest.raises(BadSignature):
        adapter.verify_webhook({}, callback("ws_CO_1", "m-9", 0))


def test_mollie_webhook_names_the_payment_and_nothing_else() -> None:
    adapter = MollieAdapter(None, "http://x", "test_1")  # type: ignore[arg-type]
    [update] = adapter.verify_webhook({}, b"id=tr_WDqYK6vllg")
    assert (update.reference, update.status) == ("tr_WDqYK6vllg", None)
    with pytest.raises(BadSignature):
        adapter.verify_webhook({}, b"id=pay_1")
