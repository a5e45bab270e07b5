"""M-Pesa Express (STK push) over raw HTTP, as Safaricom's docs describe it: token,
push, query, and the callback to a local receiver."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import requests

from simulator.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver

SHORTCODE = "174379"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
STAMP = "20260301120000"


def password(stamp: str = STAMP, passkey: str = PASSKEY) -> str:
    return base64.b64encode(f"{SHORTCODE}{passkey}{stamp}".encode()).decode()


class Daraja:
    def __init__(self, base: str, key: str | None = None) -> None:
        self.base = base
        self.key = key or uuid.uuid4().hex
        self.token = self.get_token()

    def get_token(self) -> str:
        r = requests.get(self.base + "/oauth/v1/generate?grant_type=client_credentials",
                         auth=(self.key, "secret"), timeout=5)
        assert r.status_code == 200, r.text
        assert r.json()["expires_in"] == "3599"
        token: str = r.json()["access_token"]
        return token

    def post(self, path: str, body: Any, token: str | None = None) -> requests.Response:
        return requests.post(self.base + path, json=body, timeout=5,
                             headers={"Authorization": f"Bearer {token or self.token}"})

    def push(self, phone: str = "254708374149", amount: int = 10,
             callback: str = "http://127.0.0.1:9/cb", **over: Any) -> requests.Response:
        body = {"BusinessShortCode": SHORTCODE, "Password": password(), "Timestamp": STAMP,
                "TransactionType": "CustomerPayBillOnline", "Amount": amount,
                "PartyA": phone, "PartyB": SHORTCODE, "PhoneNumber": phone,
                "CallBackURL": callback, "AccountReference": "INV-42",
                "TransactionDesc": "Payment of X", **over}
        return self.post("/mpesa/stkpush/v1/processrequest", body)

    def query(self, checkout_id: str) -> requests.Response:
        return self.post("/mpesa/stkpushquery/v1/query", {
            "BusinessShortCode": SHORTCODE, "Password": password(), "Timestamp": STAMP,
            "CheckoutRequestID": checkout_id})


@pytest.fixture
def daraja(payment_simulator: SimulatorServer) -> Daraja:
    return Daraja(payment_simulator.url("daraja"))


def callbacks(rx: WebhookReceiver) -> list[dict[str, Any]]:
    return [r.json()["Body"]["stkCallback"] for r in rx.received]


def test_push_accepted_then_paid_callback_with_metadata(
        daraja: Daraja, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver) -> None:
    r = daraja.push(callback=webhook_receiver.url, amount=150)
    assert r.status_code == 200, r.text
    ack = r.json()
    assert ack["ResponseCode"] == "0" and ack["CheckoutRequestID"].startswith("ws_CO_")
    assert ack["MerchantRequestID"] and ack["CustomerMessage"]
    pending = daraja.query(ack["CheckoutRequestID"])
    assert pending.status_code == 500
    assert pending.json()["errorCode"] == "500.001.1001"
    payment_simulator.advance_clock(5)
    assert webhook_receiver.wait_for(lambda got: len(got) == 1)
    cb = callbacks(webhook_receiver)[0]
    assert (cb["CheckoutRequestID"], cb["MerchantRequestID"], cb["ResultCode"]) == \
        (ack["CheckoutRequestID"], ack["MerchantRequestID"], 0)
    items = {i["Name"]: i["Value"] for i in cb["CallbackMetadata"]["Item"]}
    assert items["Amount"] == 150 and items["PhoneNumber"] == 254708374149
    assert len(items["MpesaReceiptNumber"]) == 10 and len(str(items["TransactionDate"])) == 14
    done = daraja.query(ack["CheckoutRequestID"]).json()
    assert (done["ResponseCode"], done["ResultCode"]) == ("0", "0")


@pytest.mark.parametrize(("phone", "code"), [
    ("254700000001", 1), ("254700001032", 1032), ("254700002001", 2001)])
def test_magic_phone_numbers_fail_with_their_result_code(
        daraja: Daraja, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver, phone: str, code: int) -> None:
    checkout = daraja.push(phone, callback=webhook_receiver.url).json()["CheckoutRequestID"]
    payment_simulator.advance_clock(5)
    assert webhook_receiver.wait_for(lambda got: len(got) == 1)
    cb = callbacks(webhook_receiver)[0]
    assert cb["ResultCode"] == code and "CallbackMetadata" not in cb and cb["ResultDesc"]
    assert daraja.query(checkout).json()["ResultCode"] == str(code)


def test_unanswered_prompt_times_out_with_1037(
        daraja: Daraja, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver) -> None:
    daraja.push("254700001037", callback=webhook_receiver.url)
    payment_simulator.advance_clock(30)
    assert not webhook_receiver.wait_for(lambda got: len(got) > 0, timeout=1.5)
    payment_simulator.advance_clock(31)
    assert webhook_receiver.wait_for(lambda got: len(got) == 1)
    assert callbacks(webhook_receiver)[0]["ResultCode"] == 1037


def test_admin_failure_reason_maps_to_a_result_code(
        daraja: Daraja, payment_simulator: SimulatorServer,
        webhook_receiver: WebhookReceiver) -> None:
    checkout = daraja.push(callback=webhook_receiver.url).json()["CheckoutRequestID"]
    payment_simulator.client.complete(checkout, "failure", reason="insufficient_funds")
    assert webhook_receiver.wait_for(lambda got: len(got) == 1)
    assert callbacks(webhook_receiver)[0]["ResultCode"] == 1


@pytest.mark.payment_scenario("""
name: mpesa-broke
rules:
  - match: {provider: daraja, operation: authorize}
    outcome: {decline: insufficient_funds}
""")
def test_scenario_decline(daraja: Daraja, webhook_receiver: WebhookReceiver) -> None:
    checkout = daraja.push(callback=webhook_receiver.url).json()["CheckoutRequestID"]
    assert webhook_receiver.wait_for(lambda got: len(got) == 1)
    assert callbacks(webhook_receiver)[0]["ResultCode"] == 1
    assert daraja.query(checkout).json()["ResultCode"] == "1"


def test_wrong_password_and_timestamp_are_refused(daraja: Daraja) -> None:
    r = daraja.push(Password=password(passkey="not-the-passkey"))
    assert r.status_code == 400 and r.json()["errorCode"] == "400.002.02"
    assert r.json()["errorMessage"].startswith("Bad Request - Invalid Password")
    r = daraja.push(Timestamp="20261399250000")
    assert r.json()["errorMessage"].startswith("Bad Request - Invalid Timestamp")


def test_tokens_expire_on_the_virtual_clock(daraja: Daraja,
                                           payment_simulator: SimulatorServer) -> None:
    assert daraja.push().status_code == 200
    payment_simulator.advance_clock(3600)
    r = daraja.push()
    assert r.status_code == 404 and r.json()["errorCode"] == "404.001.03"


def test_consumer_keys_are_namespaces(daraja: Daraja, payment_simulator: SimulatorServer) -> None:
    checkout = daraja.push().json()["CheckoutRequestID"]
    other = Daraja(payment_simulator.url("daraja"))
    r = other.query(checkout)
    assert r.status_code == 400 and "CheckoutRequestID" in r.json()["errorMessage"]


@pytest.mark.parametrize(("over", "field"), [
    ({"Amount": 0}, "Amount"), ({"Amount": -5}, "Amount"), ({"Amount": "ten"}, "Amount"),
    ({"PhoneNumber": "0712345678"}, "PhoneNumber"), ({"Timestamp": "2026-03-01"}, "Timestamp"),
    ({"TransactionType": "Other"}, "TransactionType"), ({"CallBackURL": "ftp://x"}, "CallBackURL"),
    ({"AccountReference": "X" * 13}, "AccountReference"), ({"Extra": 1}, "Extra"),
])
def test_bad_push_fields_are_named(daraja: Daraja, over: dict[str, Any], field: str) -> None:
    r = daraja.push(**over)
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert body["errorCode"] == "400.002.02"
    assert body["errorMessage"].startswith(f"Bad Request - Invalid {field}")


def test_raw_bad_requests(payment_simulator: SimulatorServer, daraja: Daraja) -> None:
    base = payment_simulator.url("daraja")
    cases = [
        requests.get(base + "/oauth/v1/generate?grant_type=password", auth=("k", "s"), timeout=5),
        requests.get(base + "/oauth/v1/generate?grant_type=client_credentials", timeout=5),
        requests.post(base + "/mpesa/stkpush/v1/processrequest", data=b"{", timeout=5,
                      headers={"Authorization": f"Bearer {daraja.token}"}),
        requests.post(base + "/mpesa/stkpush/v1/processrequest", data=b"\xff", timeout=5,
                      headers={"Authorization": f"Bearer {daraja.token}"}),
        requests.post(base + "/mpesa/stkpush/v1/processrequest", json={}, timeout=5),
        requests.post(base + "/mpesa/stkpush/v1/processrequest", timeout=5,
                      data=b'{"a":"' + b"x" * 3_000_000 + b'"}',
                      headers={"Authorization": f"Bearer {daraja.token}"}),
        requests.get(base + "/mpesa/nothing", timeout=5),
    ]
    expected = ["400.008.02", "400.008.01", "400.002.05", "400.002.05", "404.001.03",
                "400.002.05", "404.001.01"]
    for r, code in zip(cases, expected, strict=True):
        assert 400 <= r.status_code < 500, r.text
        assert r.json()["errorCode"] == code
