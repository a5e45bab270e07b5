"""Razorpay SDK clients pointed at the simulator: a pytest plugin the Razorpay test
modules load with `pytest_plugins`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import razorpay

from paysandbox.testing.server import SimulatorServer
from tests.providers.razorpay_helpers import new_key_id


@pytest.fixture
def make_razorpay(payment_simulator: SimulatorServer) -> Callable[..., razorpay.Client]:
    """A Razorpay SDK client pointed at the simulator (the SDK appends /v1 itself)."""
    def make(key_id: str | None = None) -> razorpay.Client:
        return razorpay.Client(auth=(key_id or new_key_id(), "test_secret"),
                               base_url=payment_simulator.url("razorpay"))
    return make


@pytest.fixture
def rzp(make_razorpay: Callable[..., razorpay.Client]) -> razorpay.Client:
    return make_razorpay()
