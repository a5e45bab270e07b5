"""pytest plugin: a simulator in a background thread for the whole session.

    def test_checkout(payment_simulator):
        client = stripe.StripeClient("sk_test_123",
                                     base_addresses={"api": payment_simulator.url("stripe")})

`payment_simulator` is reset before each test that uses it (pytest-httpserver's
pattern): payments, events, deliveries and scenarios are gone, so tests never see each
other's. `@pytest.mark.payment_scenario("scenarios/acquirer-brownout.yaml")` loads a
scenario for one test; `payment_simulator.use_scenario(...)` does it from the test body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "payment_scenario(*files): load these scenario files (paths or YAML "
                   "text) into the payment simulator for this test")


@pytest.fixture
def payment_simulator(payment_simulator_server: SimulatorServer,
                      request: pytest.FixtureRequest) -> SimulatorServer:
    payment_simulator_server.reset()
    for marker in request.node.iter_markers("payment_scenario"):
        for scenario in marker.args:
            path = Path(scenario)
            if not path.is_absolute() and not path.exists():
                path = Path(str(request.node.fspath)).parent / scenario
            payment_simulator_server.use_scenario(path if path.exists() else scenario)
    return payment_simulator_server
