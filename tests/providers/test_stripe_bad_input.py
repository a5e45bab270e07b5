"""Bad input gets Stripe's own 4xx envelope naming the problem: never a 500 or a trace."""

from __future__ import annotations

import pytest
import requests
import stripe

from paysandbox.testing.server import SimulatorServer

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def post(payment_simulator: SimulatorServer, stripe_key: str):
    def send(path: str, body: bytes | str, content_type: str = FORM,
             method: str = "POST") -> requests.Response:
        return requests.request(method, payment_simulator.url("stripe") + path, data=body,
                                headers={"Authorization": f"Bearer {stripe_key}",
                                         "Content-Type": content_type}, timeout=10)
    return send


# (path, body, content type, status, param, code, words in the message)
CASES = [
    ("/v1/payment_intents", "currency=usd", FORM, 400, "amount", "parameter_missing",
     "Missing required param: amount"),
    ("/v1/payment_intents", "amount=2000", FORM, 400, "currency", "parameter_missing",
     "currency"),
    ("/v1/payment_intents", "amount=abc&currency=usd", FORM, 400, "amount",
     "parameter_invalid_integer", "Invalid integer: abc"),
    ("/v1/payment_intents", "amount=10.50&currency=usd", FORM, 400, "amount",
     "parameter_invalid_integer", "10.50"),
    ("/v1/payment_intents", "amount=-5&currency=usd", FORM, 400, "amount",
     "parameter_invalid_integer", "greater than or equal to 1"),
    ("/v1/payment_intents", "amount=0&currency=usd", FORM, 400, "amount",
     "parameter_invalid_integer", "greater than or equal to 1"),
    ("/v1/payment_intents", "amount=100&currency=xyz", FORM, 400, "currency",
     "parameter_invalid_string", "Invalid currency: xyz"),
    ("/v1/payment_intents", "amount=100&currency=usd&colour=red", FORM, 400, "colour",
     "parameter_unknown", "Received unknown parameter: colour"),
    ("/v1/payment_intents", "amount=100&currency=usd&metadata[a][b]=1", FORM, 400,
     "metadata[a]", "parameter_invalid_string", "Invalid string"),
    ("/v1/payment_intents", "amount=100&currency=usd&capture_method=later", FORM, 400,
     "capture_method", "parameter_invalid_string", "must be one of automatic"),
    ("/v1/payment_intents", "amount=100&currency=usd&confirm=maybe", FORM, 400, "confirm",
     "parameter_invalid_boolean", "Invalid boolean: maybe"),
    ("/v1/payment_intents", "amount=100&amount[x]=1&currency=usd", FORM, 400, "amount[x]",
     None, "Invalid hash"),
    ("/v1/payment_intents", '{"amount": 100, "currency": "usd"}', "application/json", 400,
     None, None, "form-encoded"),
    ("/v1/payment_intents", b"amount=100&currency=\xff\xfe", FORM, 400, None, None, "UTF-8"),
    ("/v1/payment_intents", "amount=100&currency=usd&expand[]=customer", FORM, 400, "expand",
     None, "cannot be expanded (customer)"),
    ("/v1/payment_intents/pi_nope", "amount=100", FORM, 404, "intent", "resource_missing",
     "No such payment_intent: 'pi_nope'"),
    ("/v1/payment_intents/pi_nope/capture", "", FORM, 404, "intent", "resource_missing",
     "pi_nope"),
    ("/v1/refunds", "payment_intent=pi_nope", FORM, 404, "payment_intent", "resource_missing",
     "pi_nope"),
    ("/v1/payment_intents", "amount=100&currency=usd&confirm=true&payment_method=pm_nope", FORM,
     404, "payment_method", "resource_missing", "No such PaymentMethod"),
    ("/v1/payment_intents", "amount=100&currency=usd&confirm=true&payment_method_data[type]=card"
     "&payment_method_data[card][exp_month]=12&payment_method_data[card][exp_year]=2034", FORM,
     400, "payment_method_data[card][number]", "parameter_missing", "number"),
    ("/v1/webhook_endpoints", "url=ftp://x&enabled_events[]=*", FORM, 400, "url", "url_invalid",
     "Invalid URL"),
    ("/v1/charges/ch_nope", "", FORM, 404, "id", "resource_missing", "No such charge"),
]


@pytest.mark.parametrize(("path", "body", "ctype", "status", "param", "code", "words"), CASES)
def test_bad_requests_get_stripes_envelope(post, path, body, ctype, status, param, code, words):
    resp = post(path, body, ctype, "GET" if path.startswith("/v1/charges/") else "POST")
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert words in error["message"]
    assert error.get("param") == param
    assert error.get("code") == code


def test_body_over_the_limit_is_a_413_in_stripes_envelope(post):
    resp = post("/v1/payment_intents", "amount=100&currency=usd&description=" + "x" * (2 << 20))
    assert resp.status_code == 413
    assert "exceeds the limit" in resp.json()["error"]["message"]


def test_unknown_route_names_the_closest(post):
    resp = post("/v1/payment_intent", "amount=1")
    assert resp.status_code == 404
    message = resp.json()["error"]["message"]
    assert "Unrecognized request URL (POST: /v1/payment_intent)" in message
    assert "POST /v1/payment_intents" in message


def test_unknown_provider_prefix_is_a_plain_json_404(payment_simulator: SimulatorServer):
    resp = requests.get(payment_simulator.base_url + "/strpe/v1/payment_intents", timeout=10)
    assert resp.status_code == 404
    assert "Did you mean /stripe?" in resp.json()["error"]["message"]


@pytest.mark.parametrize(("params", "param"), [
    ({"amount": "abc", "currency": "usd"}, "amount"),
    ({"amount": 100, "currency": "zzz"}, "currency"),
    ({"amount": 100, "currency": "usd", "not_a_param": "1"}, "not_a_param"),
    ({"amount": 100, "currency": "usd", "metadata": {"k": {"nested": "x"}}}, "metadata[k]"),
])
def test_the_sdk_raises_invalid_request_error_naming_the_param(client: stripe.StripeClient,
                                                                params, param):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.create(params=params)
    assert err.value.http_status == 400
    assert err.value.param == param


def test_an_amount_beyond_64_bits_is_refused_and_journaled(client: stripe.StripeClient,
                                                            payment_simulator: SimulatorServer):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.create(params={"amount": 10**30, "currency": "usd"})
    assert err.value.param == "amount"

    (entry,) = payment_simulator.admin("GET", "/journal?provider=stripe")["entries"]
    (violation,) = entry["contract_violations"]
    assert (violation["field"], violation["value"]) == ("amount", str(10**30))


def test_invalid_transition_is_a_400_with_the_payment(client: stripe.StripeClient):
    pi = client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.payment_intents.capture(pi.id)
    assert err.value.http_status == 400
    assert err.value.error.payment_intent.id == pi.id
