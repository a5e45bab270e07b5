"""Challenge links that Adyen and Checkout.com answer are built from `--public-url` (the
address shoppers' browsers reach the simulator at, behind a proxy or in compose), not
from the Host header the merchant's server happened to call with; the page answers
under that path."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer

PUBLIC = "http://simulator.test:8080"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    server = SimulatorServer(Settings(public_url=PUBLIC))
    server.start()
    yield server
    server.stop()


def _page_answers(sim: SimulatorServer, link: str) -> None:
    assert link.startswith(f"{PUBLIC}/__hosted/3ds/"), link
    page = requests.get(sim.base_url + urlsplit(link).path, timeout=10)
    assert page.status_code == 200 and "/complete" in page.text


def test_adyen_redirect_action_is_on_the_public_url(sim: SimulatorServer) -> None:
    got = requests.post(f"{sim.url('adyen')}/checkout/v71/payments", timeout=10,
                        headers={"X-API-Key": "AQE_public_url"}, json={
                            "amount": {"currency": "EUR", "value": 1000},
                            "merchantAccount": "TestMerchantECOM", "reference": "pub-1",
                            "returnUrl": "https://shop.example/back",
                            "paymentMethod": {"type": "scheme",
                                              "number": "4212345678910006",
                                              "expiryMonth": "03", "expiryYear": "2030"}})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["resultCode"] == "RedirectShopper"
    _page_answers(sim, body["action"]["url"])


def test_checkoutcom_redirect_is_on_the_public_url(sim: SimulatorServer) -> None:
    got = requests.post(f"{sim.url('checkoutcom')}/payments", timeout=10,
                        headers={"Authorization": "Bearer sk_sbox_public_url"}, json={
                            "source": {"type": "card", "number": "4242424242424242",
                                       "expiry_month": 12, "expiry_year": 2035},
                            "amount": 1000, "currency": "USD", "3ds": {"enabled": True}})
    assert got.status_code == 202, got.text
    link = got.json()["_links"]["redirect"]["href"]
    assert link.startswith(f"{PUBLIC}/__hosted/3ds/sid_")
    _page_answers(sim, link)
