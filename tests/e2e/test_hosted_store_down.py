"""A hosted page whose store is away answers a page that says so (503), never a 500 with
a traceback: the shopper's browser can simply retry."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import stripe

from paysandbox.app import ENGINE
from paysandbox.store.base import StoreUnavailable
from paysandbox.testing.server import SimulatorServer


def test_a_challenge_page_with_the_store_away_is_a_503_page(
        payment_simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    client = stripe.StripeClient("sk_test_store_down",
                                 base_addresses={"api": payment_simulator.url("stripe")})
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "eur", "confirm": True, "return_url": "https://shop/x",
        "payment_method": "pm_card_threeDSecure2Required"})
    assert pi.next_action is not None and pi.next_action.redirect_to_url is not None
    page = pi.next_action.redirect_to_url.url
    assert requests.get(page, timeout=10).status_code == 200

    assert payment_simulator.app is not None
    store = payment_simulator.app[ENGINE].store

    async def away(*_args: Any, **_kwargs: Any) -> Any:
        raise StoreUnavailable("the simulator's store (Redis at redis://…) is unreachable")

    monkeypatch.setattr(store, "get_object", away)
    down = requests.get(page, timeout=10)
    assert down.status_code == 503
    assert "cannot be shown right now" in down.text and "unreachable" in down.text
    assert not [r for r in caplog.records if r.exc_info]
    monkeypatch.undo()
    assert requests.get(page, timeout=10).status_code == 200
