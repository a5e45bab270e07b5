"""Checkout.com payments through the official SDK: authorize, capture, refund, void,
actions, test values, idempotency, namespacing and scenarios."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from checkout_sdk.common.enums import Currency
from checkout_sdk.exception import CheckoutApiException

from paysandbox.testing.server import SimulatorServer
from tests.providers.checkoutcom_support import (
    CaptureRequest,
    RefundRequest,
    VoidRequest,
    card_payment,
    new_key,
    previous_sdk,
    sdk,
)


@pytest.fixture
def api(payment_simulator: SimulatorServer) -> Any:
    return sdk(payment_simulator.url("checkoutcom"))


def _capture(amount: int | None = None, reference: str | None = None) -> CaptureRequest:
    request = CaptureRequest()
    if amount is not None:
        request.amount = amount
    if reference is not None:
        request.reference = reference
    return request


def _refund(amount: int | None = None, reference: str | None = None) -> RefundRequest:
    request = RefundRequest()
    if amount is not None:
        request.amount = amount
    if reference is not None:
        request.reference = reference
    return request


def test_default_payment_is_approved_and_captured(api: Any) -> None:
    paid = api.payments.request_payment(card_payment())
    assert paid.http_metadata.status_code == 201
    assert paid.id.startswith("pay_") and len(paid.id) == 30
    assert paid.action_id == "act_" + paid.id[4:]
    assert (paid.approved, paid.status, paid.response_code, paid.response_summary) == \
        (True, "Authorized", "10000", "Approved")
    assert paid.source.scheme == "Visa" and paid.source.last4 == "4242"
    assert paid.source.bin == "424242" and len(paid.source.fingerprint) == 64
    assert paid.http_metadata.headers["Cko-Request-Id"]
    # Auto-capture: the capture follows the authorization.
    got = api.payments.get_payment_details(paid.id)
    assert got.status == "Captured"
    assert got.balances.total_captured == 1000 and got.balances.available_to_refund == 1000
    actions = api.payments.get_payment_actions(paid.id).items
    assert [a.type for a in actions] == ["Capture", "Authorization"]
    assert hasattr(got._links, "refund") and not hasattr(got._links, "capture")


def test_auth_only_then_partial_capture_refunds_and_actions(api: Any) -> None:
    held = api.payments.request_payment(card_payment(amount=5000, capture=False))
    assert held.status == "Authorized"
    assert held._links.capture.href.endswith(f"/payments/{held.id}/captures")
    assert held._links.void.href.endswith(f"/payments/{held.id}/voids")

    captured = api.payments.capture_payment(held.id, _capture(4000, "cap-1"))
    assert captured.http_metadata.status_code == 202
    assert captured.action_id.startswith("act_") and captured.reference == "cap-1"
    assert api.payments.get_payment_details(held.id).status == "Partially Captured"

    first = api.payments.refund_payment(held.id, _refund(1500, "rf-1"))
    assert first.http_metadata.status_code == 202 and first.reference == "rf-1"
    got = api.payments.get_payment_details(held.id)
    assert got.status == "Partially Refunded" and got.balances.available_to_refund == 2500
    api.payments.refund_payment(held.id, _refund())
    got = api.payments.get_payment_details(held.id)
    assert got.status == "Refunded" and got.balances.total_refunded == 4000

    actions = api.payments.get_payment_actions(held.id).items
    assert [a.type for a in actions] == ["Refund", "Refund", "Capture", "Authorization"]
    assert [a.amount for a in actions] == [2500, 1500, 4000, 5000]
    assert actions[2].id == captured.action_id and actions[2].reference == "cap-1"
    assert actions[1].id == first.action_id and actions[1].reference == "rf-1"
    assert len({a.id for a in actions}) == 4


def test_void_an_authorization(api: Any) -> None:
    held = api.payments.request_payment(card_payment(capture=False))
    voided = api.payments.void_payment(held.id, VoidRequest())
    assert voided.http_metadata.status_code == 202 and voided.action_id.startswith("act_")
    got = api.payments.get_payment_details(held.id)
    assert got.status == "Voided" and got.balances.total_voided == 1000
    assert [a.type for a in api.payments.get_payment_actions(held.id).items] == \
        ["Void", "Authorization"]
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.capture_payment(held.id, _capture())
    assert caught.value.http_metadata.status_code == 403


def test_over_capture_and_over_refund_are_refused(api: Any) -> None:
    held = api.payments.request_payment(card_payment(amount=1000, capture=False))
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.capture_payment(held.id, _capture(2000))
    assert caught.value.http_metadata.status_code == 422
    assert caught.value.error_details == ["capture_value_greater_than_authorized"]
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.refund_payment(held.id, _refund())
    assert caught.value.http_metadata.status_code == 403
    api.payments.capture_payment(held.id, _capture())
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.refund_payment(held.id, _refund(1001))
    assert caught.value.error_details == ["refund_amount_exceeds_balance"]


def test_card_verification_with_amount_zero(api: Any) -> None:
    verified = api.payments.request_payment(card_payment(amount=0))
    assert (verified.status, verified.approved, verified.response_code) == \
        ("Card Verified", True, "10000")
    assert [a.type for a in api.payments.get_payment_actions(verified.id).items] == \
        ["Card Verification"]
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.capture_payment(verified.id, _capture())
    assert caught.value.http_metadata.status_code == 403


CARD_TRIGGERS = [
    ("4111111111111129", "20001"), ("4024007103573027", "20012"),
    ("4485381577182090", "20014"), ("4544249167673670", "20051"),
    ("4724117215951699", "20054"), ("4151512736305999", "20057"),
    ("4897453568485113", "20059"), ("4556294593757189", "20061"),
    ("4818924250131070", "20062"), ("4556253752712245", "20063"),
    ("4095254802642505", "20068"), ("4532819413487978", "20078"),
    ("4500622868341387", "20154"), ("4734868958733862", "200N7"),
    ("4567361325981788", "200R3"), ("4024007162185267", "30015"),
    ("4941202060999329", "30041"), ("4539253655711767", "30043"),
]


@pytest.mark.parametrize(("number", "code"), CARD_TRIGGERS)
def test_response_code_test_cards(api: Any, number: str, code: str) -> None:
    declined = api.payments.request_payment(card_payment(number))
    assert declined.http_metadata.status_code == 201
    assert (declined.approved, declined.status, declined.response_code) == \
        (False, "Declined", code)
    assert declined.response_summary
    assert not hasattr(declined._links, "capture")
    assert api.payments.get_payment_details(declined.id).status == "Declined"


AMOUNT_TRIGGERS = [
    (12305, "20005", "Declined - Do Not Honour"), (1012, "20012", "Invalid Transaction"),
    (1014, "20014", "Invalid Card Number"), (1051, "20051", "Insufficient Funds"),
    (1054, "20087", "Bad Track Data"), (1062, "20062", "Restricted Card"),
    (1063, "20063", "Security Violation"), (9998, "20068", None),
    (6510, "20154", None), (6540, "20154", None), (1033, "30033", None),
    (4001, "40101", None), (4008, "40108", None), (2011, "200R1", None),
    (2013, "200R3", None),
]


@pytest.mark.parametrize(("amount", "code", "summary"), AMOUNT_TRIGGERS)
def test_response_code_amounts(api: Any, amount: int, code: str, summary: str | None) -> None:
    declined = api.payments.request_payment(card_payment(amount=amount))
    assert (declined.approved, declined.response_code) == (False, code)
    if summary is not None:
        assert declined.response_summary == summary


def test_amount_triggers_only_apply_to_two_decimal_currencies(api: Any) -> None:
    assert api.payments.request_payment(card_payment(amount=1051, currency=Currency.JPY)) \
        .response_code == "10000"
    assert api.payments.request_payment(card_payment(amount=1050)).response_code == "10000"


def test_previous_platform_raw_secret_key(payment_simulator: SimulatorServer) -> None:
    api = previous_sdk(payment_simulator.url("checkoutcom"))
    paid = api.payments.request_payment(card_payment(capture=False))
    assert paid.status == "Authorized"
    assert api.payments.get_payment_details(paid.id).id == paid.id


def test_two_keys_never_see_each_others_payments(payment_simulator: SimulatorServer) -> None:
    alice = sdk(payment_simulator.url("checkoutcom"), new_key())
    bob = sdk(payment_simulator.url("checkoutcom"), new_key())
    paid = alice.payments.request_payment(card_payment(capture=False))
    with pytest.raises(CheckoutApiException) as caught:
        bob.payments.get_payment_details(paid.id)
    assert caught.value.http_metadata.status_code == 404
    with pytest.raises(CheckoutApiException):
        bob.payments.capture_payment(paid.id, _capture())
    assert alice.payments.get_payment_details(paid.id).status == "Authorized"


def test_idempotency_key_replays_and_rejects_another_body(api: Any) -> None:
    key = str(uuid.uuid4())
    request = card_payment(reference="ORD-idem")
    first = api.payments.request_payment(request, idempotency_key=key)
    again = api.payments.request_payment(request, idempotency_key=key)
    assert again.id == first.id and again.action_id == first.action_id
    assert again.http_metadata.status_code == 201
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.request_payment(card_payment(amount=999, reference="ORD-idem"),
                                     idempotency_key=key)
    assert caught.value.http_metadata.status_code == 422
    assert caught.value.error_details == ["idempotency_key_invalid"]
    # Actions too: the same capture key captures once.
    held = api.payments.request_payment(card_payment(capture=False))
    cap_key = str(uuid.uuid4())
    one = api.payments.capture_payment(held.id, _capture(300), idempotency_key=cap_key)
    two = api.payments.capture_payment(held.id, _capture(300), idempotency_key=cap_key)
    assert one.action_id == two.action_id
    assert [a.type for a in api.payments.get_payment_actions(held.id).items] == \
        ["Capture", "Authorization"]


def test_a_validation_error_is_not_remembered_by_the_idempotency_key(api: Any) -> None:
    key = str(uuid.uuid4())
    with pytest.raises(CheckoutApiException):
        api.payments.request_payment(card_payment("4242424242424241"), idempotency_key=key)
    assert api.payments.request_payment(card_payment(), idempotency_key=key).approved


@pytest.mark.payment_scenario("""
name: cko-insufficient
rules:
  - match: {provider: checkoutcom, operation: authorize, amount: {gte: 70000}}
    outcome: {decline: insufficient_funds}
""")
def test_scenario_decline_renders_20051(api: Any) -> None:
    declined = api.payments.request_payment(card_payment(amount=70000))
    assert (declined.approved, declined.status, declined.response_code,
            declined.response_summary) == (False, "Declined", "20051", "Insufficient Funds")
    assert api.payments.request_payment(card_payment(amount=1000)).approved


@pytest.mark.payment_scenario("""
name: cko-outage
rules:
  - match: {provider: checkoutcom, operation: capture}
    fault: {http: 503}
  - match: {provider: checkoutcom, operation: retrieve}
    latency: {distribution: fixed, value: 5ms}
""")
def test_scenario_fault_and_latency(api: Any, payment_simulator: SimulatorServer) -> None:
    held = api.payments.request_payment(card_payment(capture=False))
    with pytest.raises(CheckoutApiException) as caught:
        api.payments.capture_payment(held.id, _capture())
    assert caught.value.http_metadata.status_code == 503
    assert caught.value.error_type == "internal_error"
    assert caught.value.request_id
    assert api.payments.get_payment_details(held.id).status == "Authorized"
    rules = {(e["method"], e["path"].rsplit("/", 1)[-1]): e.get("scenario_rules")
             for e in payment_simulator.journal(provider="checkoutcom")}
    assert rules[("POST", "captures")] == ["cko-outage/rules[0]"]
    assert rules[("GET", held.id)] == ["cko-outage/rules[1]"]  # the latency rule
