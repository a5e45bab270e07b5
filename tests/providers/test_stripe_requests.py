"""Idempotency keys, authentication and tenancy, as a Stripe integration relies on them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable

import pytest
import requests
import stripe

from paysandbox.testing.server import SimulatorServer

Make = Callable[..., stripe.StripeClient]
BODY = {"amount": "2000", "currency": "usd", "confirm": "true", "payment_method": "pm_card_visa"}


def test_same_idempotency_key_replays_the_first_response(client: stripe.StripeClient):
    key = str(uuid.uuid4())
    params = {"amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    second = client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    assert first.id == second.id
    assert len(client.v1.payment_intents.list().data) == 1


def test_replay_is_marked_and_identical(payment_simulator: SimulatorServer, stripe_key: str):
    url = payment_simulator.url("stripe") + "/v1/payment_intents"
    headers = {"Authorization": f"Bearer {stripe_key}", "Idempotency-Key": "order-42"}
    first = requests.post(url, data=BODY, headers=headers, timeout=10)
    again = requests.post(url, data=BODY, headers=headers, timeout=10)
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Request-Id"] == first.headers["Request-Id"]


def test_declines_are_replayed_too(client: stripe.StripeClient):
    key = str(uuid.uuid4())
    params = {"amount": 2000, "currency": "usd", "confirm": True,
              "payment_method": "pm_card_chargeDeclined"}
    with pytest.raises(stripe.CardError) as first:
        client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    with pytest.raises(stripe.CardError) as second:
        client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    assert first.value.error.payment_intent.id == second.value.error.payment_intent.id


def test_same_key_other_parameters_is_an_idempotency_error(client: stripe.StripeClient):
    key = str(uuid.uuid4())
    client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"},
                                     options={"idempotency_key": key})
    with pytest.raises(stripe.IdempotencyError) as err:
        client.v1.payment_intents.create(params={"amount": 200, "currency": "usd"},
                                         options={"idempotency_key": key})
    assert key in err.value.user_message


def test_a_rejected_request_does_not_burn_its_key(client: stripe.StripeClient):
    key = str(uuid.uuid4())
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(params={"amount": -1, "currency": "usd"},
                                         options={"idempotency_key": key})
    pi = client.v1.payment_intents.create(params={"amount": -1 + 101, "currency": "usd"},
                                          options={"idempotency_key": key})
    assert pi.amount == 100


def test_sdk_retries_with_its_own_key_do_not_double_charge(make_stripe: Make, stripe_key: str):
    client = make_stripe(stripe_key, max_network_retries=2)
    pi = client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"


@pytest.mark.parametrize("key", ["sk_live_123456789012345", "pk_test_123", "nonsense", ""])
def test_anything_but_a_test_secret_key_is_a_401(make_stripe: Make, key: str):
    with pytest.raises(stripe.AuthenticationError) as err:
        make_stripe(key or "x").v1.payment_intents.list()
    assert err.value.http_status == 401


def test_missing_authorization_is_stripes_401(payment_simulator: SimulatorServer):
    resp = requests.get(payment_simulator.url("stripe") + "/v1/payment_intents", timeout=10)
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "Authorization: Bearer sk_test_123" in error["message"]


def test_basic_auth_with_the_key_as_user_works(payment_simulator: SimulatorServer,
                                               stripe_key: str):
    token = base64.b64encode(f"{stripe_key}:".encode()).decode()
    resp = requests.post(payment_simulator.url("stripe") + "/v1/payment_intents", data=BODY,
                         headers={"Authorization": f"Basic {token}"}, timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Request-Id"].startswith("req_")
    assert resp.json()["status"] == "succeeded"


def test_two_keys_never_see_each_others_payments(make_stripe: Make):
    alice, bob = make_stripe(), make_stripe()
    pi = alice.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as err:
        bob.v1.payment_intents.retrieve(pi.id)
    assert err.value.http_status == 404 and err.value.code == "resource_missing"
    assert bob.v1.payment_intents.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        bob.v1.payment_intents.capture(pi.id)


def test_reset_of_one_namespace_leaves_the_other(make_stripe: Make,
                                                 payment_simulator: SimulatorServer):
    a_key, b_key = f"sk_test_{uuid.uuid4().hex}", f"sk_test_{uuid.uuid4().hex}"
    a, b = make_stripe(a_key), make_stripe(b_key)
    pa = a.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    pb = b.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    payment_simulator.admin("POST", "/reset", {"namespace": a_key})
    with pytest.raises(stripe.InvalidRequestError):
        a.v1.payment_intents.retrieve(pa.id)
    assert b.v1.payment_intents.retrieve(pb.id).id == pb.id


def test_same_parameters_in_another_order_replay(payment_simulator: SimulatorServer,
                                                 stripe_key: str):
    url = payment_simulator.url("stripe") + "/v1/payment_intents"
    headers = {"Authorization": f"Bearer {stripe_key}", "Idempotency-Key": "reordered",
               "Content-Type": "application/x-www-form-urlencoded"}
    first = requests.post(url, data="amount=100&currency=usd", headers=headers, timeout=10)
    again = requests.post(url, data="currency=usd&amount=100", headers=headers, timeout=10)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
