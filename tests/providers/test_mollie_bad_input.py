"""Malformed requests get Mollie's own error envelope (`status`, `title`, `detail`,
`field`, `_links.documentation`, `application/hal+json`) and a 4xx naming the problem;
never a 500 or a traceback. Raw HTTP for what the SDK would not send; the SDK for what
it lets through."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from mollie.api.client import Client
from mollie.api.error import UnauthorizedError, UnprocessableEntityError

from paysandbox.testing.server import SimulatorServer
from tests.providers import mollie_support as support
from tests.providers.mollie_support import REDIRECT

GOOD: dict[str, Any] = {"amount": {"currency": "EUR", "value": "10.00"},
                        "description": "Order #1", "redirectUrl": REDIRECT, "method": "ideal"}


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in GOOD.items() if k != key}


def amount(currency: str, value: Any) -> dict[str, Any]:
    return {**GOOD, "amount": {"currency": currency, "value": value}}


# (id, body as JSON or raw bytes, content type, status, field, words in detail)
CREATE_CASES: list[tuple[str, Any, str, int, str | None, str]] = [
    ("not-json", b"{amount: 1", "application/json", 400, None, "not valid JSON"),
    ("not-utf8", b'{"description": "\xff\xfe"}', "application/json", 400, None, "UTF-8"),
    ("wrong-content-type", b"amount=10", "text/plain", 415, None, "application/json"),
    ("json-array", b"[1, 2]", "application/json", 400, None, "JSON object"),
    ("missing-amount", without("amount"), "application/json", 422, "amount", "required"),
    ("missing-description", without("description"), "application/json", 422,
     "description", "required"),
    ("missing-redirect-url", without("redirectUrl"), "application/json", 422,
     "redirectUrl", "required"),
    ("missing-amount-value", {**GOOD, "amount": {"currency": "EUR"}}, "application/json",
     422, "amount.value", "required"),
    ("amount-as-number", amount("EUR", 10.0), "application/json", 422, "amount.value",
     "must be a string"),
    ("amount-without-decimals", amount("EUR", "10"), "application/json", 422,
     "amount.value", "exactly 2"),
    ("amount-with-one-decimal", amount("EUR", "10.5"), "application/json", 422,
     "amount.value", "exactly 2"),
    ("yen-with-decimals", {**amount("JPY", "10.00"), "method": "creditcard"},
     "application/json", 422, "amount.value", "exactly 0"),
    ("negative-amount", amount("EUR", "-10.00"), "application/json", 422, "amount.value",
     "invalid value"),
    ("zero-amount", amount("EUR", "0.00"), "application/json", 422, "amount.value",
     "lower than the minimum"),
    ("thousands-separator", amount("EUR", "1,000.00"), "application/json", 422,
     "amount.value", "invalid value"),
    ("unknown-currency", amount("XYZ", "10.00"), "application/json", 422,
     "amount.currency", "not supported"),
    ("currency-the-method-does-not-take", amount("USD", "10.00"), "application/json", 422,
     "amount.currency", "iDEAL"),
    ("unknown-method", {**GOOD, "method": "cash"}, "application/json", 422, "method",
     "invalid"),
    ("unknown-issuer", {**GOOD, "issuer": "ideal_NOPE"}, "application/json", 422, "issuer",
     "ideal_INGBNL2A"),
    ("relative-redirect-url", {**GOOD, "redirectUrl": "/return"}, "application/json", 422,
     "redirectUrl", "absolute"),
    ("bad-webhook-url", {**GOOD, "webhookUrl": "ftp://x"}, "application/json", 422,
     "webhookUrl", "absolute"),
    ("unknown-field", {**GOOD, "testmode": True}, "application/json", 422, "testmode",
     "Non-existent body parameter"),
    ("bad-locale", {**GOOD, "locale": "xx_XX"}, "application/json", 422, "locale",
     "nl_NL"),
    ("description-wrong-type", {**GOOD, "description": 42}, "application/json", 422,
     "description", "must be a string"),
    ("due-date-on-ideal", {**GOOD, "dueDate": "2030-01-01"}, "application/json", 422,
     "dueDate", "bank transfer"),
    ("recurring-without-customer", {**GOOD, "sequenceType": "recurring"},
     "application/json", 422, "customerId", "needs a customerId"),
    ("first-with-unknown-customer", {**GOOD, "sequenceType": "first",
                                     "customerId": "cst_nobody"}, "application/json", 422,
     "customerId", "no customer exists"),
    ("huge-metadata", {**GOOD, "metadata": {"blob": "x" * 2000}}, "application/json", 422,
     "metadata", "1 kB"),
]


def check_envelope(resp: requests.Response, status: int, field: str | None,
                   words: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/hal+json")
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["title"]
    assert words in body["detail"], body["detail"]
    assert body.get("field") == field
    assert body["_links"]["documentation"]["href"].startswith("https://docs.mollie.com/")
    assert body["_links"]["documentation"]["type"] == "text/html"
    return body


@pytest.fixture
def key() -> str:
    return support.new_key()


@pytest.fixture
def api(payment_simulator: SimulatorServer) -> str:
    return f"{payment_simulator.url('mollie')}/v2"


@pytest.mark.parametrize(("body", "ctype", "status", "field", "words"),
                         [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES])
def test_create_payment_refuses_bad_input(api: str, key: str, body: Any, ctype: str,
                                          status: int, field: str | None, words: str):
    data = body if isinstance(body, bytes) else json.dumps(body)
    resp = requests.post(f"{api}/payments", data=data, timeout=10, headers={
        "Authorization": f"Bearer {key}", "Content-Type": ctype})
    check_envelope(resp, status, field, words)


def test_the_titles_are_mollie_s(api: str, key: str):
    resp = requests.post(f"{api}/payments", json=without("amount"), timeout=10,
                         headers={"Authorization": f"Bearer {key}"})
    assert check_envelope(resp, 422, "amount", "required")["title"] == "Unprocessable Entity"


def test_a_body_over_the_limit_is_a_413(api: str, key: str):
    resp = requests.post(f"{api}/payments", data=b"{" + b" " * (1024 * 1024 + 10) + b"}",
                         headers={"Authorization": f"Bearer {key}",
                                  "Content-Type": "application/json"}, timeout=30)
    check_envelope(resp, 413, None, "exceeds")


AUTH_CASES = [
    ("no-header", {}, "Missing authentication"),
    ("not-bearer", {"Authorization": "Basic dGVzdF94eXo6"}, "Missing authentication"),
    ("live-key", {"Authorization": "Bearer live_abcdefghijklmnopqrstuvwxyz0123"},
     "never accepts live"),
    ("not-a-key", {"Authorization": "Bearer sk_test_123"}, "not a Mollie API key"),
    ("access-token", {"Authorization": "Bearer access_abc"}, "not imitated"),
]


@pytest.mark.parametrize(("headers", "words"), [c[1:] for c in AUTH_CASES],
                         ids=[c[0] for c in AUTH_CASES])
def test_bad_credentials_get_a_401(api: str, headers: dict[str, str], words: str):
    resp = requests.get(f"{api}/payments", headers=headers, timeout=10)
    body = check_envelope(resp, 401, None, words)
    assert body["title"] == "Unauthorized Request"


def test_the_sdk_reports_a_live_key_as_unauthorized(payment_simulator: SimulatorServer):
    c = support.client(payment_simulator, "live_abcdefghijklmnopqrstuvwxyz0123")
    with pytest.raises(UnauthorizedError) as err:
        c.payments.list()
    assert err.value.status == 401


QUERY_CASES = [
    ("limit-zero", "/payments?limit=0", 400, "limit", "greater than or equal to 1"),
    ("limit-too-big", "/payments?limit=251", 400, "limit", "less than or equal to 250"),
    ("limit-not-a-number", "/payments?limit=ten", 400, "limit", "number from 1 to 250"),
    ("from-unknown", "/payments?from=tr_nothere", 400, "from", "tr_nothere"),
    ("unknown-query", "/payments?sort=asc", 400, "sort", "Non-existent"),
    ("testmode", "/payments?testmode=true", 400, "testmode", "access tokens"),
    ("unknown-payment", "/payments/tr_nothere", 404, None, "No payment exists"),
    ("unknown-refund", "/payments/tr_nothere/refunds/re_x", 404, None, "No payment exists"),
    ("unknown-route", "/orders", 404, None, "Unrecognized request URL"),
]


@pytest.mark.parametrize(("path", "status", "field", "words"), [c[1:] for c in QUERY_CASES],
                         ids=[c[0] for c in QUERY_CASES])
def test_reads_refuse_bad_queries(api: str, key: str, path: str, status: int,
                                  field: str | None, words: str):
    resp = requests.get(f"{api}{path}", headers={"Authorization": f"Bearer {key}"},
                        timeout=10)
    check_envelope(resp, status, field, words)


def test_a_wrong_method_on_a_known_path_is_refused_in_the_envelope(api: str, key: str):
    resp = requests.put(f"{api}/payments", headers={"Authorization": f"Bearer {key}"},
                        timeout=10)
    check_envelope(resp, 404, None, "Unrecognized request URL")


REFUND_CASES = [
    ("amount-as-number", {"amount": {"currency": "EUR", "value": 1}}, "amount.value",
     "must be a string"),
    ("missing-amount", {"description": "x"}, "amount", "required"),
    ("too-many-decimals", {"amount": {"currency": "EUR", "value": "1.000"}}, "amount.value",
     "exactly 2"),
    ("long-description", {"amount": {"currency": "EUR", "value": "1.00"},
                          "description": "x" * 141}, "description", "140"),
]


@pytest.mark.parametrize(("body", "field", "words"), [c[1:] for c in REFUND_CASES],
                         ids=[c[0] for c in REFUND_CASES])
def test_create_refund_refuses_bad_input(payment_simulator: SimulatorServer, api: str,
                                         key: str, body: dict[str, Any], field: str,
                                         words: str):
    p = support.create(support.client(payment_simulator, key))
    payment_simulator.client.complete(p.id, "success")
    resp = requests.post(f"{api}/payments/{p.id}/refunds", json=body, timeout=10,
                         headers={"Authorization": f"Bearer {key}"})
    check_envelope(resp, 422, field, words)


def test_the_sdk_surfaces_the_field_at_fault(payment_simulator: SimulatorServer):
    c: Client = support.client(payment_simulator)
    with pytest.raises(UnprocessableEntityError) as err:
        c.payments.create(amount("EUR", "10.5"))
    assert err.value.status == 422
    assert err.value.field == "amount.value"
    assert "EUR takes exactly 2" in str(err.value)


def test_form_bodies_as_in_mollie_s_curl_examples_work(api: str, key: str):
    resp = requests.post(f"{api}/payments", timeout=10, headers={
        "Authorization": f"Bearer {key}"}, data={
        "amount[currency]": "EUR", "amount[value]": "10.00", "description": "Order #66",
        "redirectUrl": REDIRECT, "method[]": ["ideal", "bancontact"],
        "metadata": '{"order_id": "66"}'})
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["amount"] == {"value": "10.00", "currency": "EUR"}
    assert created["metadata"] == {"order_id": "66"}
    assert created["method"] is None


def test_nothing_above_was_a_server_error(payment_simulator: SimulatorServer):
    for entry in payment_simulator.journal(provider="mollie"):
        assert entry["status"] < 500, entry
