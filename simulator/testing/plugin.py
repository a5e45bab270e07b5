"""pytest plugin: a simulator in a background thread for the whole session.

    def test_checkout(payment_simulator):
        client = stripe.StripeClient("sk_test_123",
                                     base_addresses={"api": payment_simulator.url("stripe")})

`payment_simulator` is reset before each test that uses it (pytest-httpserver's
pattern), so tests never see each other's payments.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.testing.server import SimulatorServer


@pytest.fixture(scope="session")
def payment_simulator_server() -> Iterator[SimulatorServer]:
    server = SimulatorServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def payment_simulator(payment_simulator_server: SimulatorServer) -> SimulatorServer:
    payment_simulator_server.reset()
    return payment_simulator_server
