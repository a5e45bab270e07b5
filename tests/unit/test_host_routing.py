"""Routing by Host: a request that names a provider's real hostname is served on the
provider's own paths, without the prefix, on either port; the prefix keeps working."""

from __future__ import annotations

import pytest
import requests

from paysandbox.providers import base
from paysandbox.testing.server import SimulatorServer


def _send(sim: SimulatorServer, method: str, path: str, host: str, *,
          headers: dict[str, str] | None = None, **kwargs: object) -> requests.Response:
    return requests.request(method, sim.base_url + path,
                            headers={"Host": host, **(headers or {})}, timeout=10,
                            **kwargs)  # type: ignore[arg-type]


def test_one_path_two_providers_told_apart_by_host(payment_simulator: SimulatorServer) -> None:
    """GET /v1/payments/{id} is Razorpay's and Mercado Pago's: each answers in its own
    envelope on its own host, and the simulator's address keeps its own 404."""
    razorpay = _send(payment_simulator, "GET", "/v1/payments/pay_missing", "api.razorpay.com",
                     auth=("rzp_test_routing", "secret"))
    assert razorpay.status_code == 400
    assert razorpay.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    mercadopago = _send(payment_simulator, "GET", "/v1/payments/123", "api.mercadopago.com",
                        headers={"Authorization": "Bearer TEST-1-2-3-4"})
    assert mercadopago.status_code == 404
    assert mercadopago.json()["error"] == "not_found"
    plain = _send(payment_simulator, "GET", "/v1/payments/123", "127.0.0.1")
    assert plain.status_code == 404
    assert "No provider is mounted at /v1" in plain.json()["error"]["message"]


def test_a_host_with_its_port_a_wildcard_and_the_prefix(
        payment_simulator: SimulatorServer) -> None:
    created = _send(payment_simulator, "POST", "/v1/payment_intents", "API.Stripe.com:12112",
                    auth=("sk_test_routing", ""), data={"amount": 100, "currency": "usd"})
    assert created.status_code == 200, created.text
    listed = _send(payment_simulator, "GET", "/stripe/v1/payment_intents", "api.stripe.com",
                   auth=("sk_test_routing", ""))
    assert [pi["id"] for pi in listed.json()["data"]] == [created.json()["id"]]
    checkout = _send(payment_simulator, "GET", "/payments/pay_missing",
                     "m1.api.sandbox.checkout.com",
                     headers={"Authorization": "Bearer sk_sbox_routing"})
    assert checkout.status_code == 404  # Checkout.com's own 404: an empty body


def test_an_unknown_path_on_a_provider_host_gets_the_providers_404(
        payment_simulator: SimulatorServer) -> None:
    missing = _send(payment_simulator, "POST", "/v71/paymentz", "checkout-test.adyen.com",
                    headers={"X-API-Key": "routing"}, json={})
    assert missing.status_code == 404
    body = missing.json()
    assert body["errorCode"] == "000"
    assert "POST /checkout/v{version}/payments" in body["message"]


@pytest.mark.parametrize(("pattern", "host", "matches"), [
    ("api.stripe.com", "api.stripe.com", True),
    ("api.stripe.com", "files.stripe.com", False),
    ("*.api.sandbox.checkout.com", "m1.api.sandbox.checkout.com", True),
    ("*.api.sandbox.checkout.com", "api.sandbox.checkout.com", False),
    ("*.api.sandbox.checkout.com", "a.b.api.sandbox.checkout.com", False),
    ("*.adyenpayments.com", "abc-checkout-live.adyenpayments.com", True),
])
def test_wildcards_cover_one_label_as_tls_clients_read_them(pattern: str, host: str,
                                                            matches: bool) -> None:
    assert base.host_matches(pattern, host) is matches


@pytest.mark.parametrize(("header", "host"), [
    ("api.stripe.com", "api.stripe.com"), ("API.stripe.com:443", "api.stripe.com"),
    ("[::1]:12112", "::1"), ("::1", "::1"), ("api.stripe.com.", "api.stripe.com"),
])
def test_bare_host(header: str, host: str) -> None:
    assert base.bare_host(header) == host


def test_every_provider_declares_its_hostnames() -> None:
    for provider in base.load():
        assert base.hostnames(provider), f"{provider.name} declares no hostnames"
