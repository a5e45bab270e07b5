"""M-Pesa Express (STK push) over raw HTTP, as Safaricom's docs describe it: token,
push, query, and the callback to a local receiver."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
import requests

from paysandbox.testing.server import SimulatorServer
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
        hook_server: WebhookReceiver) -> None:
    r = daraja.push(callback=hook_server.url, amount=150)
    assert r.status_code == 200, r.text
    ack = r.json()
    assert ack["ResponseCode"] == "0" and ack["CheckoutRequestID"].startswith("ws_CO_")
    assert ack["MerchantRequestID"] and ack["CustomerMessage"]
    pending = daraja.query(ack["CheckoutRequestID"])
    assert pending.status_code == 500
    assert pending.json()["errorCode"] == "500.001.1001"
    payment_simulator.advance_clock(5)
    assert hook_server.wait_for(lambda got: len(got) == 1)
    cb = callbacks(hook_server)[0]
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
        hook_server: WebhookReceiver, phone: str, code: int) -> None:
    checkout = daraja.push(phone, callback=hook_server.url).json()["CheckoutRequestID"]
    payment_simulator.advance_clock(5)
    assert hook_server.wait_for(lambda got: len(got) == 1)
    cb = callbacks(hook_server)[0]
    assert cb["ResultCode"] == code and "CallbackMetadata" not in cb and cb["ResultDesc"]
    assert daraja.query(checkout).json()["ResultCode"] == str(code)


def test_unanswered_prompt_times_out_with_1037(
        daraja: Daraja, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    daraja.push("254700001037", callback=hook_server.url)
    payment_simulator.advance_clock(30)
    assert not hook_server.wait_for(lambda got: len(got) > 0, timeout=1.5)
    payment_simulator.advance_clock(31)
    assert hook_server.wait_for(lambda got: len(got) == 1)
    assert callbacks(hook_server)[0]["ResultCode"] == 1037


def test_admin_failure_reason_maps_to_a_result_code(
        daraja: Daraja, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    checkout = daraja.push(callback=hook_server.url).json()["CheckoutRequestID"]
    payment_simulator.client.complete(checkout, "failure", reason="insufficient_funds")
    assert hook_server.wait_for(lambda got: len(got) == 1)
    assert callbacks(hook_server)[0]["ResultCode"] == 1


@pytest.mark.payment_scenario("""
name: mpesa-broke
rules:
  - match: {provider: daraja, operation: authorize}
    outcome: {decline: insufficient_funds}
""")
def test_scenario_decline(daraja: Daraja, hook_server: WebhookReceiver) -> None:
    checkout = daraja.push(callback=hook_server.url).json()["CheckoutRequestID"]
    assert hook_server.wait_for(lambda got: len(got) == 1)
    assert callbacks(hook_server)[0]["ResultCode"] == 1
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


def test_only_an_issued_token_reaches_its_consumer_keys_payments(
        daraja: Daraja, payment_simulator: SimulatorServer) -> None:
    """A token names its consumer key, but naming one is not enough: one that key was
    never issued (its random part made up, or another key's) is refused."""
    checkout = daraja.push().json()["CheckoutRequestID"]
    other = Daraja(payment_simulator.url("daraja"))
    named = daraja.token.rpartition(".")[0]
    for token in (f"{named}.{other.token.rpartition('.')[2]}", f"{named}.made-up",
                  "not-a-token"):
        r = other.post("/mpesa/stkpushquery/v1/query", {
            "BusinessShortCode": SHORTCODE, "Password": password(), "Timestamp": STAMP,
            "CheckoutRequestID": checkout}, token=token)
        assert r.status_code == 404 and r.json()["errorCode"] == "404.001.03", token
    payment_simulator.advance_clock(5)
    assert daraja.query(checkout).json()["ResultCode"] == "0"  # its own token still works


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


# -- contracts (contracts_data/daraja/) ------------------------------------------------------

def test_every_operation_and_callback_keeps_its_contract(
        daraja: Daraja, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    """Daraja has no official SDK: integrations call it over HTTP, as Daraja does here."""
    paid = daraja.push(callback=hook_server.url, amount="25").json()["CheckoutRequestID"]
    assert daraja.query(paid).json()["errorCode"] == "500.001.1001"  # error envelope
    refused = daraja.push("254700001032", callback=hook_server.url, PartyA=254700001032,
                          BusinessShortCode=174379, TransactionType="CustomerBuyGoodsOnline")
    payment_simulator.advance_clock(5)
    assert hook_server.wait_for(lambda got: len(got) == 2)
    assert sorted(cb["ResultCode"] for cb in callbacks(hook_server)) == [0, 1032]
    assert daraja.query(paid).json()["ResultCode"] == "0"
    assert daraja.query(refused.json()["CheckoutRequestID"]).json()["ResultCode"] == "1032"

    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]


def _push_body(**over: Any) -> dict[str, Any]:
    body = {"BusinessShortCode": SHORTCODE, "Password": password(), "Timestamp": STAMP,
            "TransactionType": "CustomerPayBillOnline", "Amount": 10,
            "PartyA": "254708374149", "PartyB": SHORTCODE, "PhoneNumber": "254708374149",
            "CallBackURL": "http://127.0.0.1:9/cb", "AccountReference": "INV-42",
            "TransactionDesc": "Payment of X", **over}
    return {k: v for k, v in body.items() if v is not None}


# (what, operation, body, field, kind)
WRONG: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("missing required field", "stk_push", _push_body(PartyB=None), "PartyB", "missing"),
    ("wrong type", "stk_push", _push_body(AccountReference=42), "AccountReference", "type"),
    ("amount with decimals", "stk_push", _push_body(Amount=10.5), "Amount", "type"),
    ("unknown enum value", "stk_push", _push_body(TransactionType="CustomerPayOnline"),
     "TransactionType", "enum"),
    ("amount as a non-numeric string", "stk_push", _push_body(Amount="ten"), "Amount",
     "format"),
    ("amount of zero as a string", "stk_push", _push_body(Amount="0"), "Amount", "format"),
    ("unknown field", "stk_push", _push_body(Currency="KES"), "Currency", "unknown"),
    ("query without its id", "stk_query",
     {"BusinessShortCode": SHORTCODE, "Password": password(), "Timestamp": STAMP},
     "CheckoutRequestID", "missing"),
]


@pytest.mark.parametrize(("what", "operation", "body", "field", "kind"), WRONG,
                         ids=[w[0] for w in WRONG])
def test_a_request_breaking_its_contract_is_named_in_the_envelope_and_the_report(
        daraja: Daraja, payment_simulator: SimulatorServer, what: str, operation: str,
        body: dict[str, Any], field: str, kind: str) -> None:
    path = {"stk_push": "/mpesa/stkpush/v1/processrequest",
            "stk_query": "/mpesa/stkpushquery/v1/query"}[operation]
    r = daraja.post(path, body)

    assert r.status_code == 400, r.text
    error = r.json()
    assert error["errorCode"] == "400.002.02"
    assert error["errorMessage"].startswith(f"Bad Request - Invalid {field}: "), error
    report = payment_simulator.admin("GET", "/contracts")
    assert [(g["provider"], g["operation"], g["source"], g["field"], g["kind"])
            for g in report["groups"]] == [("daraja", operation, "request", field, kind)]


def test_a_wrong_grant_type_is_named_in_the_envelope_and_the_report(
        payment_simulator: SimulatorServer) -> None:
    r = requests.get(payment_simulator.url("daraja") + "/oauth/v1/generate",
                     params={"grant_type": "password"}, auth=("key", "secret"), timeout=5)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "400.008.02"
    assert "grant_type must be one of client_credentials" in r.json()["errorMessage"]
    groups = payment_simulator.admin("GET", "/contracts")["groups"]
    assert [(g["operation"], g["field"], g["kind"]) for g in groups] == \
        [("generate_token", "grant_type", "enum")]


def test_report_mode_serves_what_it_can_and_records_each_violation(
        lenient: SimulatorServer) -> None:
    daraja = Daraja(lenient.url("daraja"))

    served = daraja.push(Currency="KES", AccountReference="REF-TOO-LONG-1")
    assert served.status_code == 200 and served.json()["ResponseCode"] == "0"
    refused = daraja.push(Amount="ten")  # recorded, and it cannot be served either
    assert refused.status_code == 400
    assert refused.json()["errorMessage"].startswith("Bad Request - Invalid Amount")

    report = lenient.admin("GET", "/contracts")
    assert report["mode"] == "report"
    assert sorted((g["operation"], g["field"], g["kind"]) for g in report["groups"]) == [
        ("stk_push", "AccountReference", "range"),
        ("stk_push", "Amount", "format"),
        ("stk_push", "Currency", "unknown"),
    ]
