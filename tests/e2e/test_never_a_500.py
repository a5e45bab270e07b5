"""Bad input never gets a 500: every body-taking operation of every provider, fed a valid
request with one field at a time removed or replaced by a value of the wrong shape,
answers in the provider's 4xx (or serves it), never with a server error."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from paysandbox.testing.server import SimulatorServer

#: Values of the wrong shape for almost any field.
WRONG: tuple[Any, ...] = (None, [], {}, "", "x" * 3000, -1, 10**30, 1.5, True, "\u0000",
                          {"nested": {"deeper": [1, {"a": None}]}})

SHORTCODE = "174379"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


def _variants(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The body with each field (and each field of a nested object) removed, then set
    to each wrong value in turn."""
    for key, value in body.items():
        yield f"-{key}", {k: v for k, v in body.items() if k != key}
        for i, wrong in enumerate(WRONG):
            yield f"{key}={i}", {**body, key: wrong}
        if isinstance(value, dict):
            for inner, sub in _variants(value):
                yield f"{key}.{inner}", {**body, key: sub}


def _daraja_body() -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"{SHORTCODE}{PASSKEY}{stamp}".encode()).decode()
    return {"BusinessShortCode": SHORTCODE, "Password": password, "Timestamp": stamp,
            "TransactionType": "CustomerPayBillOnline", "Amount": "10",
            "PartyA": "254708374149", "PartyB": SHORTCODE, "PhoneNumber": "254708374149",
            "CallBackURL": "http://127.0.0.1:9/cb", "AccountReference": "ref",
            "TransactionDesc": "test"}


#: provider -> (method, path, valid body), for operations that take a JSON body.
JSON_OPERATIONS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "adyen": [
        ("POST", "/checkout/v71/payments", {
            "amount": {"currency": "EUR", "value": 1000}, "merchantAccount": "TestMerchant",
            "reference": "order-1", "returnUrl": "http://127.0.0.1:9/back",
            "paymentMethod": {"type": "scheme", "number": "4111111111111111",
                              "expiryMonth": "03", "expiryYear": "2030", "cvc": "737"}}),
        ("POST", "/checkout/v71/payments/details", {"details": {"redirectResult": "abc"}}),
        ("POST", "/checkout/v71/payments/ABCDEFGHIJKLMNOP/captures", {
            "amount": {"currency": "EUR", "value": 1000}, "merchantAccount": "TestMerchant"}),
        ("POST", "/checkout/v71/cancels", {"merchantAccount": "TestMerchant",
                                           "paymentReference": "order-1"}),
    ],
    "checkoutcom": [
        ("POST", "/payments", {
            "source": {"type": "card", "number": "4242424242424242", "expiry_month": 6,
                       "expiry_year": 2030, "cvv": "100"},
            "amount": 1000, "currency": "USD", "reference": "order-1"}),
        ("POST", "/payments/pay_aaaaaaaaaaaaaaaaaaaaaaaaaa/refunds", {"amount": 100}),
    ],
    "mollie": [
        ("POST", "/v2/payments", {
            "amount": {"currency": "EUR", "value": "10.00"}, "description": "Order 1",
            "redirectUrl": "http://127.0.0.1:9/back", "method": "ideal"}),
        ("POST", "/v2/payments/tr_aaaaaaaaaa/refunds", {
            "amount": {"currency": "EUR", "value": "1.00"}}),
    ],
    "mercadopago": [
        ("POST", "/v1/payments", {
            "transaction_amount": 100, "payment_method_id": "pix",
            "payer": {"email": "buyer@example.com"}, "description": "Order 1"}),
        ("PUT", "/v1/payments/123456789", {"status": "cancelled"}),
        ("POST", "/v1/card_tokens", {
            "card_number": "5031433215406351", "expiration_month": 11,
            "expiration_year": 2030, "security_code": "123",
            "cardholder": {"name": "APRO"}}),
    ],
    "razorpay": [
        ("POST", "/v1/orders", {"amount": 50000, "currency": "INR", "receipt": "r-1"}),
        ("POST", "/v1/payments/create/upi", {
            "amount": 50000, "currency": "INR", "order_id": "order_aaaaaaaaaaaaaa",
            "method": "upi", "email": "a@example.com", "contact": "9000090000",
            "upi": {"flow": "collect", "vpa": "success@razorpay", "expiry_time": 5}}),
    ],
    "daraja": [
        ("POST", "/mpesa/stkpush/v1/processrequest", _daraja_body()),
    ],
}


def _auth(server: SimulatorServer, provider: str) -> dict[str, str]:
    key = uuid.uuid4().hex
    if provider == "adyen":
        return {"X-API-Key": f"AQE_{key}"}
    if provider == "checkoutcom":
        return {"Authorization": f"Bearer sk_sbox_{key}"}
    if provider == "mollie":
        return {"Authorization": f"Bearer test_{key}"}
    if provider == "mercadopago":
        return {"Authorization": f"Bearer TEST-{key}", "X-Idempotency-Key": key}
    if provider == "razorpay":
        token = base64.b64encode(f"rzp_test_{key[:14]}:secret".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    consumer = base64.b64encode(f"{key}:secret".encode()).decode()
    got = requests.get(f"{server.url('daraja')}/oauth/v1/generate",
                       params={"grant_type": "client_credentials"},
                       headers={"Authorization": f"Basic {consumer}"}, timeout=10)
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


CASES = [(provider, method, path, name, body)
         for provider, operations in JSON_OPERATIONS.items()
         for method, path, valid in operations
         for name, body in itertools.chain([("valid", valid)], _variants(valid))]


@pytest.mark.parametrize("provider", sorted(JSON_OPERATIONS))
def test_no_json_body_gets_a_server_error(payment_simulator: SimulatorServer,
                                          provider: str) -> None:
    headers = {**_auth(payment_simulator, provider), "Content-Type": "application/json"}
    errors = []
    with requests.Session() as http:
        for _, method, path, name, body in (c for c in CASES if c[0] == provider):
            resp = http.request(method, payment_simulator.url(provider) + path,
                                data=json.dumps(body), headers=headers, timeout=10)
            if resp.status_code >= 500:
                errors.append(f"{method} {path} [{name}]: {resp.status_code} {resp.text[:200]}")
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:20])


STRIPE_FORMS = {
    "/v1/payment_intents": "amount=1000&currency=usd&confirm=true&payment_method=pm_card_visa",
    "/v1/refunds": "payment_intent=pi_missing&amount=100",
    "/v1/payment_methods": "type=card&card[number]=4242424242424242&card[exp_month]=12"
                           "&card[exp_year]=2034&card[cvc]=123",
}
FORM_WRONG = ("", "x", "-1", "1e999", "99999999999999999999999", "true", "%00", "[]")


@pytest.mark.parametrize("path", sorted(STRIPE_FORMS))
def test_no_stripe_form_gets_a_server_error(payment_simulator: SimulatorServer,
                                            path: str) -> None:
    base = [tuple(pair.split("=", 1)) for pair in STRIPE_FORMS[path].split("&")]
    bodies = [STRIPE_FORMS[path]]
    for i, (key, _) in enumerate(base):
        rest = [kv for j, kv in enumerate(base) if j != i]
        bodies.append(urlencode(rest))
        for wrong in FORM_WRONG:
            bodies.append(urlencode([*rest, (key, wrong)]))
        bodies += [urlencode([*rest, (f"{key}[a]", "1")]), urlencode([*rest, (f"{key}[]", "1")])]
    headers = {"Authorization": f"Bearer sk_test_{uuid.uuid4().hex}",
               "Content-Type": "application/x-www-form-urlencoded"}
    errors = []
    with requests.Session() as http:
        for body in bodies:
            resp = http.post(payment_simulator.url("stripe") + path, data=body,
                             headers=headers, timeout=10)
            if resp.status_code >= 500:
                errors.append(f"POST {path} {body!r}: {resp.status_code} {resp.text[:200]}")
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:20])


QUERY_WRONG = ("limit=-1", "limit=abc", "limit=99999999999999999999999", "limit=",
               "offset=-5", "count=x", "skip=-1", "from=zzz", "starting_after=nope",
               "sort=%00", "unknown=1", "expand[]=everything")
ODD_IDS = ("x" * 300, "%C3%A9t%C3%A9", "..%2F..", "0", "-1")


def _gets(provider: str) -> list[str]:
    from paysandbox import contracts

    manifest = contracts.manifest(provider)
    assert manifest is not None
    return [op.path.replace("{version}", "71") for op in manifest.operations.values()
            if op.method == "GET"]


@pytest.mark.parametrize("provider", sorted([*JSON_OPERATIONS, "stripe"]))
def test_no_query_or_id_gets_a_server_error(payment_simulator: SimulatorServer,
                                            provider: str) -> None:
    headers = (_auth(payment_simulator, provider) if provider != "stripe" else
               {"Authorization": f"Bearer sk_test_{uuid.uuid4().hex}"})
    errors = []
    with requests.Session() as http:
        for path in _gets(provider):
            if "{" in path:
                urls = [path.split("{")[0] + odd + path.split("}", 1)[1] for odd in ODD_IDS]
            else:
                urls = [f"{path}?{q}" for q in QUERY_WRONG]
            for url in urls:
                resp = http.get(payment_simulator.url(provider) + url, headers=headers,
                                timeout=10)
                if resp.status_code >= 500:
                    errors.append(f"GET {url}: {resp.status_code} {resp.text[:200]}")
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:20])


# -- the admin API, and headers of any bytes ------------------------------------------

#: Header values of awkward shapes, as bytes on the wire: Latin-1 and UTF-8 beyond ASCII,
#: invalid UTF-8, empty, blank, a wrong scheme, Basic of bytes that are not text, huge.
ODD_HEADER_VALUES: tuple[bytes, ...] = (
    "Bearer tökén".encode("latin-1"), "Bearer ✓ 令牌".encode(), b"\xff\xfe\xfd", b"",
    b"Bearer", b"Basic !!!not-base64", b"Basic " + base64.b64encode(b"\xff\xfe:\x80"),
    b"Basic " + base64.b64encode(b"\x00hosted:pw"), b"Bearer " + b"x" * 6000, b"null",
    b"http://[::1", b"cross-site",
)
ODD_HEADERS = ("Authorization", "X-API-Key", "Origin", "Sec-Fetch-Site", "Content-Type",
               "Idempotency-Key", "X-Idempotency-Key", "Host")


@pytest.fixture(scope="module", params=[None, "s3cret"], ids=["loopback", "token"])
def admin_target(request: pytest.FixtureRequest
                 ) -> Iterator[tuple[SimulatorServer, dict[str, str]]]:
    """A simulator of the module's own (the fuzz resets state and moves its clock), with
    and without an admin token, and the headers that pass its checks."""
    from paysandbox.settings import Settings

    server = SimulatorServer(Settings(admin_token=request.param))
    server.start()
    try:
        yield server, ({"Authorization": f"Bearer {request.param}"} if request.param else {})
    finally:
        server.stop()


ADMIN_BODY_KEYS = ("namespace", "outcome", "reason", "url", "secret", "seconds", "by", "yaml",
                   "source")
ADMIN_RAW_BODIES = (b"{", b"\xff\xfe", b"[]", b"null", b'"text"', b"1e999", b"{" * 5000,
                    b"name: x\nrules: [", b"!!python/object/apply:os.system ['true']")


def _admin_requests(name: str) -> Iterator[tuple[str, str, bytes]]:
    """(method, path, body) for every admin route: odd ids, and for the routes that read
    a body, every odd body; odd queries for the listings."""
    for odd in ("pi_missing", *ODD_IDS):
        for method, path in (("GET", f"/payments/{odd}"), ("POST", f"/payments/{odd}/complete"),
                             ("PUT", f"/webhooks/{odd}"), ("DELETE", f"/webhooks/{odd}"),
                             ("GET", f"/webhooks/deliveries/{odd}"),
                             ("POST", f"/webhooks/deliveries/{odd}/redeliver"),
                             ("GET", f"/scenarios/{odd}"), ("PUT", f"/scenarios/{odd}"),
                             ("DELETE", f"/scenarios/{odd}"), ("POST", f"/scenarios/{odd}/start")):
            yield method, path, b""
            yield method, path, b'{"outcome": "success"}'
    for method, path in (("GET", "/health"), ("GET", "/webhooks"), ("GET", "/scenarios"),
                         ("GET", "/contracts"), ("GET", "/clock"), ("DELETE", "/contracts"),
                         ("DELETE", "/scenarios"), ("PATCH", "/reset"), ("GET", "/nowhere"),
                         ("GET", "/ui"), ("GET", "/ui/static/..%2Fui.py"), ("GET", "/journal/x"),
                         ("GET", "/journal/99999999999999999999"),
                         ("GET", "/payments/pi_missing/explain"), ("GET", "/ui/events?status=x")):
        yield method, path, b""
    for method, path in (("POST", "/reset"), ("POST", "/clock/advance"),
                         ("POST", "/payments/pi_missing/complete"), ("PUT", "/webhooks/stripe"),
                         ("PUT", f"/scenarios/{name}"), ("POST", "/scenarios/validate")):
        for raw in (b"", *ADMIN_RAW_BODIES):
            yield method, path, raw
        for key in ADMIN_BODY_KEYS:
            for wrong in WRONG:
                yield method, path, json.dumps({key: wrong}).encode()
    for query in (*QUERY_WRONG, "status=abc", "status=4xx", "status=99999999999999999999",
                  "namespace=%00", "provider=%FF", "bodies=maybe", "state=exploded"):
        for path in ("/journal", "/payments", "/webhooks/deliveries"):
            yield "GET", f"{path}?{query}", b""


def test_no_admin_call_gets_a_server_error(
        admin_target: tuple[SimulatorServer, dict[str, str]]) -> None:
    server, auth = admin_target
    name = "fuzzed"
    errors = []
    with requests.Session() as http:
        for method, path, body in _admin_requests(name):
            resp = http.request(method, f"{server.base_url}/__admin{path}", data=body,
                                headers={**auth, "Content-Type": "application/json"},
                                timeout=10)
            if resp.status_code >= 500:
                errors.append(f"{method} {path} {body[:60]!r}: {resp.status_code} "
                              f"{resp.text[:200]}")
            elif resp.status_code >= 400:
                assert resp.json()["error"]["message"], (method, path)  # its own envelope
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:20])


def test_no_admin_header_gets_a_server_error(
        admin_target: tuple[SimulatorServer, dict[str, str]]) -> None:
    server, auth = admin_target
    errors = []
    with requests.Session() as http:
        for header in ODD_HEADERS:
            for value in ODD_HEADER_VALUES:
                for method, path in (("GET", "/journal"), ("POST", "/clock/advance")):
                    headers: dict[str, str | bytes] = {
                        **auth, "Content-Type": "application/json", header: value}
                    resp = http.request(method, f"{server.base_url}/__admin{path}",
                                        data=b'{"seconds": 1}', headers=headers, timeout=10)
                    if resp.status_code >= 500:
                        errors.append(f"{method} {path} {header}: {value[:40]!r}: "
                                      f"{resp.status_code} {resp.text[:200]}")
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:20])


@pytest.mark.parametrize("provider", sorted([*JSON_OPERATIONS, "stripe"]))
def test_no_provider_header_gets_a_server_error(payment_simulator: SimulatorServer,
                                                provider: str) -> None:
    """Credentials and idempotency keys of any bytes: the provider's 401 or 4xx."""
    if provider == "stripe":
        method, path = "POST", "/v1/payment_intents"
        body, kind = STRIPE_FORMS[path].encode(), "application/x-www-form-urlencoded"
        valid = {"Authorization": f"Bearer sk_test_{uuid.uuid4().hex}"}
    else:
        method, path, payload = JSON_OPERATIONS[provider][0]
        body, kind = json.dumps(payload).encode(), "application/json"
        valid = _auth(payment_simulator, provider)
    errors = []
    with requests.Session() as http:
        for header in ODD_HEADERS:
            if header == "Host":
                continue  # the providers answer whatever Host they are reached by
            for value in ODD_HEADER_VALUES:
                headers: dict[str, str | bytes] = {**valid, "Content-Type": kind,
                                                   header: value}
                resp = http.request(method, payment_simulator.url(provider) + path,
                                    data=body, headers=headers, timeout=10)
                if resp.status_code >= 500:
                    errors.append(f"{header}: {value[:40]!r}: {resp.status_code} "
                                  f"{resp.text[:200]}")
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:20])
    # What those requests left behind still renders through the admin API.
    assert len(payment_simulator.journal(provider=provider, limit=10_000)) >= len(
        ODD_HEADER_VALUES)
    payment_simulator.admin("GET", "/payments")


# -- nesting depth --------------------------------------------------------------------

#: Depths around every limit there is: ours, orjson's encoder (254) and decoder (1024),
#: and Python's recursion limit.
DEPTHS = (33, 64, 255, 300, 1000, 1023, 1100, 5000)


def _nested(depth: int) -> Any:
    """A value whose innermost scalar sits `depth` objects deep (the value itself is one)."""
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def _nested_text(depth: int, leaf: str = '"x"') -> str:
    """The same as JSON text, built without recursion (json.dumps would hit its own)."""
    return '{"a":' * depth + leaf + "}" * depth


def _nested_list_text(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _envelope_keys(resp: requests.Response) -> set[str]:
    try:
        doc = resp.json()
    except ValueError:
        return set()
    return set(doc) if isinstance(doc, dict) else set()


@pytest.mark.parametrize("provider", sorted(JSON_OPERATIONS))
def test_deep_json_gets_the_providers_own_4xx(payment_simulator: SimulatorServer,
                                              provider: str) -> None:
    """A body nested beyond the limit, in metadata, in a known field or as the whole
    body, with and without an idempotency key, is refused in the same envelope the
    provider uses for any malformed body."""
    errors = []
    with requests.Session() as http:
        for method, path, valid in JSON_OPERATIONS[provider]:
            url = payment_simulator.url(provider) + path
            headers = {**_auth(payment_simulator, provider), "Content-Type": "application/json"}
            reference = http.request(method, url, data="{", headers=headers, timeout=10)
            expected = _envelope_keys(reference)
            valid_text = json.dumps(valid)[1:-1]
            first_field = next(iter(valid))
            for depth in DEPTHS:
                bodies = {
                    "metadata": "{" + valid_text + ',"metadata":' + _nested_text(depth) + "}",
                    first_field: "{" + valid_text.replace(
                        json.dumps(first_field) + ":", '"__":', 1)
                    + "," + json.dumps(first_field) + ":" + _nested_text(depth) + "}",
                    "whole body": _nested_text(depth),
                    "lists": '{"items":' + _nested_list_text(depth) + "}",
                }
                for where, body in bodies.items():
                    for key in (None, uuid.uuid4().hex):
                        sent = dict(headers)
                        if key:
                            sent.update({"Idempotency-Key": key, "Cko-Idempotency-Key": key,
                                         "X-Idempotency-Key": key})
                        resp = http.request(method, url, data=body.encode(), headers=sent,
                                            timeout=30)
                        label = f"{method} {path} depth {depth} in {where}, key={bool(key)}"
                        if not 400 <= resp.status_code < 500:
                            errors.append(f"{label}: {resp.status_code} {resp.text[:200]}")
                        elif _envelope_keys(resp) != expected:
                            errors.append(f"{label}: envelope {sorted(_envelope_keys(resp))},"
                                          f" expected {sorted(expected)}")
    assert not errors, f"{len(errors)} wrong answers:\n" + "\n".join(errors[:20])


def test_deep_nesting_error_names_the_limit(payment_simulator: SimulatorServer) -> None:
    resp = requests.post(payment_simulator.url("mollie") + "/v2/payments",
                         data=_nested_text(300),
                         headers={**_auth(payment_simulator, "mollie"),
                                  "Content-Type": "application/json"}, timeout=10)
    assert resp.status_code == 400, resp.text
    assert "more than 32 levels deep" in resp.json()["detail"]


@pytest.mark.parametrize("depth", [33, 300, 1000, 3000])
def test_deep_stripe_form_gets_a_400(payment_simulator: SimulatorServer, depth: int) -> None:
    bodies = {
        "metadata": "amount=1000&currency=usd&metadata" + "[a]" * depth + "=1",
        "encoded brackets": "amount=1000&currency=usd&metadata" + "%5Ba%5D" * depth + "=1",
        "list": "amount=1000&currency=usd&payment_method_types" + "[]" * depth + "=card",
        "index": "amount=1000&currency=usd&payment_method_types" + "[0]" * depth + "=card",
    }
    errors = []
    with requests.Session() as http:
        for where, body in bodies.items():
            for key in (None, uuid.uuid4().hex):
                headers = {"Authorization": f"Bearer sk_test_{uuid.uuid4().hex}",
                           "Content-Type": "application/x-www-form-urlencoded"}
                if key:
                    headers["Idempotency-Key"] = key
                resp = http.post(payment_simulator.url("stripe") + "/v1/payment_intents",
                                 data=body, headers=headers, timeout=30)
                if resp.status_code != 400 or resp.json()["error"]["type"] != \
                        "invalid_request_error":
                    errors.append(f"{where} key={bool(key)}: {resp.status_code} "
                                  f"{resp.text[:200]}")
                resp = http.get(payment_simulator.url("stripe") + "/v1/payment_intents?"
                                + body, headers=headers, timeout=30)
                if resp.status_code != 400:
                    errors.append(f"query {where}: {resp.status_code} {resp.text[:200]}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("depth", [33, 300, 1000])
def test_deep_mollie_form_gets_a_4xx(payment_simulator: SimulatorServer, depth: int) -> None:
    valid = ("amount[currency]=EUR&amount[value]=10.00&description=Order&method=ideal"
             "&redirectUrl=http%3A%2F%2F127.0.0.1%3A9%2Fback")
    bodies = {
        "metadata form": valid + "&metadata" + "[a]" * depth + "=1",
        "metadata JSON": valid + "&metadata=" + requests.utils.quote(_nested_text(depth)),
        "amount": "amount" + "[a]" * depth + "=1&description=Order",
    }
    errors = []
    with requests.Session() as http:
        for where, body in bodies.items():
            for key in (None, uuid.uuid4().hex):
                headers = {**_auth(payment_simulator, "mollie"),
                           "Content-Type": "application/x-www-form-urlencoded"}
                if key:
                    headers["Idempotency-Key"] = key
                resp = http.post(payment_simulator.url("mollie") + "/v2/payments", data=body,
                                 headers=headers, timeout=30)
                if not 400 <= resp.status_code < 500 or "detail" not in resp.json():
                    errors.append(f"{where} key={bool(key)}: {resp.status_code} "
                                  f"{resp.text[:200]}")
    assert not errors, "\n".join(errors)


# -- headers ----------------------------------------------------------------------------

#: Header values that are not what anyone expects: UTF-8, bytes that are not UTF-8,
#: control-free junk, huge (just under aiohttp's 8190-byte line limit) and over it.
RAW_HEADER_VALUES: tuple[bytes, ...] = (
    "Bearer sk_test_é€😀".encode(), b"\xff\xfe\x80", "é".encode() * 2000, b"x" * 8000,
    b"x" * 9000, b"", b" ", b"Bearer", b"Basic \xc3\xa9=", b"Basic !!!!",
    b"Bearer " + b"a" * 7000)

#: Headers some provider reads: credentials, idempotency keys, content type, versions.
READ_HEADERS = ("Authorization", "X-API-Key", "Idempotency-Key", "Cko-Idempotency-Key",
                "X-Idempotency-Key", "X-Refund-Idempotency", "Content-Type", "Stripe-Version",
                "traceparent", "Host")


def _raw_request(port: int, method: str, path: str, headers: list[tuple[str, bytes]],
                 body: bytes) -> tuple[int, bytes]:
    """One request with headers exactly as given (repeated, non-ASCII), over a fresh
    connection, so nothing on the client side cleans them up."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=any(n.lower() == "host" for n, _ in headers),
                        skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _valid_request(server: SimulatorServer, provider: str
                   ) -> tuple[str, str, list[tuple[str, bytes]], bytes]:
    if provider == "stripe":
        return ("POST", "/stripe/v1/payment_intents",
                [("Authorization", f"Bearer sk_test_{uuid.uuid4().hex}".encode()),
                 ("Content-Type", b"application/x-www-form-urlencoded")],
                STRIPE_FORMS["/v1/payment_intents"].encode())
    method, path, body = JSON_OPERATIONS[provider][0]
    headers = [(k, v.encode()) for k, v in _auth(server, provider).items()]
    headers.append(("Content-Type", b"application/json"))
    return method, f"/{provider}{path}", headers, json.dumps(body).encode()


@pytest.mark.parametrize("provider", sorted([*JSON_OPERATIONS, "stripe"]))
def test_odd_headers_never_get_a_server_error(payment_simulator: SimulatorServer,
                                              provider: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    """Each header a provider reads, replaced by odd bytes, repeated with a valid and an
    odd value (both orders), or added when absent: never a 5xx and never a traceback in
    the log, and the server still answers a valid request afterwards."""
    errors = []
    method, path, valid_headers, body = _valid_request(payment_simulator, provider)
    valid = dict(valid_headers)
    for name in READ_HEADERS:
        for odd in RAW_HEADER_VALUES:
            rest = [(n, v) for n, v in valid_headers if n != name]
            variants = {"replaced": [*rest, (name, odd)]}
            if name in valid:
                variants["valid then odd"] = [*rest, (name, valid[name]), (name, odd)]
                variants["odd then valid"] = [*rest, (name, odd), (name, valid[name])]
            else:
                variants["twice"] = [*rest, (name, odd), (name, odd)]
            for how, headers in variants.items():
                if name == "Host" and how == "replaced":
                    headers = [*headers]
                status, answer = _raw_request(payment_simulator.port, method, path, headers,
                                              body)
                if status >= 500:
                    errors.append(f"{name} {how} {odd[:20]!r}: {status} {answer[:200]!r}")
    status, answer = _raw_request(payment_simulator.port, method, path, valid_headers, body)
    assert status < 400, answer
    assert not errors, f"{len(errors)} server errors:\n" + "\n".join(errors[:20])
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert not tracebacks, tracebacks[:3]
