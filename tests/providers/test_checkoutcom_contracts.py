"""Checkout.com's contracts (paysandbox/contracts_data/checkoutcom/): the official SDK through every
operation leaves no violation, and wrong requests are refused in Checkout.com's 422
naming the field, and reported under the same field in `/__admin/contracts`."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from checkout_sdk.common.enums import Currency
from checkout_sdk.payments.payments import PaymentCustomerRequest

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.checkoutcom_support import (
    CaptureRequest,
    RefundRequest,
    VoidRequest,
    card_payment,
    new_key,
    sdk,
)

KEY = new_key()
CARD = {"type": "card", "number": "4242424242424242", "expiry_month": 12,
        "expiry_year": 2035, "cvv": "100"}
GOOD: dict[str, Any] = {"source": CARD, "amount": 1000, "currency": "USD"}


def test_the_sdk_through_every_operation_keeps_every_contract(
        payment_simulator: SimulatorServer, hook_server: WebhookReceiver) -> None:
    payment_simulator.admin("PUT", "/webhooks/checkoutcom",
                            {"url": hook_server.url, "secret": "whsec"})
    try:
        api = sdk(payment_simulator.url("checkoutcom"))
        buyer = PaymentCustomerRequest()
        buyer.email = "jia.tsang@example.com"
        buyer.name = "Jia Tsang"
        held = api.payments.request_payment(card_payment(
            amount=2500, capture=False, customer=buyer, description="Set of 3 masks",
            metadata={"order_id": "A-1001", "coupon": 7}))
        assert held.customer.id.startswith("cus_") and held.customer.email == buyer.email
        details = api.payments.get_payment_details(held.id)
        assert details.description == "Set of 3 masks" and details.customer.id == held.customer.id
        capture = CaptureRequest()
        capture.amount = 2000
        capture.reference = "cap-1"
        api.payments.capture_payment(held.id, capture)
        refund = RefundRequest()
        refund.amount = 500
        refund.reference = "rf-1"
        refund.metadata = {"reason": "damaged"}
        api.payments.refund_payment(held.id, refund)
        assert api.payments.get_payment_details(held.id).status == "Partially Refunded"
        assert len(api.payments.get_payment_actions(held.id).items) == 3

        other = api.payments.request_payment(card_payment(capture=False, currency=Currency.EUR))
        api.payments.void_payment(other.id, VoidRequest())
        assert api.payments.get_payment_details(other.id).status == "Voided"
        paid = api.payments.request_payment(card_payment())  # approved, then captured
        assert api.payments.get_payment_details(paid.id).status == "Captured"
        verified = api.payments.request_payment(card_payment(amount=0))
        assert verified.status == "Card Verified"
        declined = api.payments.request_payment(card_payment("4544249167673670"))
        assert api.payments.get_payment_actions(declined.id).items[0].response_code == "20051"
        pending = api.payments.request_payment(card_payment(three_ds=True))
        assert pending.http_metadata.status_code == 202
        assert api.payments.get_payment_details(pending.id).status == "Pending"
        assert hook_server.wait_for(lambda got: len(got) >= 10)
        assert "card_verified" in hook_server.types()
    finally:
        payment_simulator.admin("DELETE", "/webhooks/checkoutcom")
    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]


# (what, operation, path below /payments, body, error code, field, kind)
WRONG: list[tuple[str, str, str, dict[str, Any], str, str, str]] = [
    ("missing required field", "create_payment", "",
     {k: v for k, v in GOOD.items() if k != "currency"}, "currency_required", "currency",
     "missing"),
    ("missing source", "create_payment", "", {k: v for k, v in GOOD.items() if k != "source"},
     "payment_source_required", "source", "missing"),
    ("wrong type", "create_payment", "", {**GOOD, "capture": "yes"}, "capture_invalid",
     "capture", "type"),
    ("expiry month as text", "create_payment", "",
     {**GOOD, "source": {**CARD, "expiry_month": "12"}}, "card_expiry_month_invalid",
     "source.expiry_month", "type"),
    ("unknown enum value", "create_payment", "", {**GOOD, "payment_type": "Weekly"},
     "payment_type_invalid", "payment_type", "enum"),
    ("amount as string", "create_payment", "", {**GOOD, "amount": "1000"}, "amount_invalid",
     "amount", "type"),
    ("customer id of another shape", "create_payment", "",
     {**GOOD, "customer": {"id": "bob"}}, "customer_id_invalid", "customer.id", "format"),
    ("capture type not documented", "capture_payment", "/captures",
     {"capture_type": "Partial"}, "capture_type_invalid", "capture_type", "enum"),
    ("capture amount as string", "capture_payment", "/captures", {"amount": "500"},
     "amount_invalid", "amount", "type"),
    ("refund amount as string", "refund_payment", "/refunds", {"amount": "10"},
     "amount_invalid", "amount", "type"),
    ("void reference a number", "void_payment", "/voids", {"reference": 7},
     "reference_invalid", "reference", "type"),
]


@pytest.mark.parametrize(("what", "operation", "suffix", "body", "code", "field", "kind"),
                         WRONG, ids=[w[0] for w in WRONG])
def test_wrong_requests_are_named_in_the_envelope_and_the_report(
        payment_simulator: SimulatorServer, what: str, operation: str, suffix: str,
        body: dict[str, Any], code: str, field: str, kind: str) -> None:
    url = payment_simulator.url("checkoutcom") + "/payments"
    headers = {"Authorization": f"Bearer {KEY}"}
    if suffix:
        held = requests.post(url, json={**GOOD, "capture": False}, headers=headers, timeout=10)
        assert held.status_code == 201, held.text
        url += f"/{held.json()['id']}{suffix}"
    answer = requests.post(url, json=body, headers=headers, timeout=10)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error_type"] == "request_invalid"
    assert answer.json()["error_codes"] == [code]
    groups = [(g["operation"], g["field"], g["kind"])
              for g in payment_simulator.admin("GET", "/contracts")["groups"]
              if g["source"] == "request"]
    assert groups == [(operation, field, kind)]
