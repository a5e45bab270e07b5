"""pytest plugin: a simulator in a background thread for the whole session.

    def test_checkout(payment_simulator):
        client = stripe.StripeClient("sk_test_123",
                                     base_addresses={"api": payment_simulator.url("stripe")})

`payment_simulator` is reset before each test that uses it (pytest-httpserver's
pattern): payments, events, deliveries and scenarios are gone, so tests never see each
other's. `@pytest.mark.payment_scenario("acquirer-brownout")` loads a ready-made scenario
(or a file, or YAML text) for one test; `payment_simulator.use_scenario(...)` does it from
the test body. `webhook_receiver` is a local receiver registered as every provider's
webhook endpoint for one test, verifying each provider's signature (receiver.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paysandbox.scenarios.loader import locate
from paysandbox.settings import Settings
from paysandbox.testing.receiver import WebhookReceiver
from paysandbox.testing.server import SimulatorServer


@pytest.fixture(scope="session")
def payment_simulator_server() -> Iterator[SimulatorServer]:
    """Configured by the PAYSANDBOX_* variables, as `paysandbox serve` is (on a free
    port whatever PAYSANDBOX_PORT says)."""
    server = SimulatorServer(Settings.from_env())
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
            payment_simulator_server.use_scenario(
                _scenario_source(scenario, Path(str(request.node.fspath)).parent))
    return payment_simulator_server


@pytest.fixture
def webhook_receiver(payment_simulator: SimulatorServer) -> Iterator[WebhookReceiver]:
    """Every provider's webhooks, for this test, to a local receiver that verifies and
    records them (`.wait_for("stripe", "payment_intent.succeeded")`, `.received()`). Give
    `webhook_receiver.url("mollie")` where a provider's API takes the URL (Mollie's
    `webhookUrl`, Mercado Pago's `notification_url`, Daraja's `CallBackURL`). The next
    test's reset restores the endpoints configured at start-up."""
    with WebhookReceiver().serving() as receiver:
        for provider in payment_simulator.admin("GET", "/health")["providers"]:
            payment_simulator.admin("PUT", f"/webhooks/{provider}", {
                "url": receiver.url(provider), "secret": receiver.secret(provider)})
        yield receiver


def _scenario_source(scenario: Any, test_dir: Path) -> Any:
    """A dict or YAML text as it is; a path relative to the working directory or to the
    test's own folder; a ready-made scenario's name; a clear error when it is none."""
    if not isinstance(scenario, str | Path) or (isinstance(scenario, str) and "\n" in scenario):
        return scenario
    for candidate in (Path(scenario), test_dir / scenario):
        if candidate.is_file():
            return candidate
    try:
        return locate(scenario).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"payment_scenario: {exc} (files are looked for in "
                                f"{Path.cwd()} and {test_dir}); give a path, a name or the "
                                "YAML text.") from None
