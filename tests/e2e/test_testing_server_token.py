"""The pytest plugin's server honours an admin token (PAYSANDBOX_ADMIN_TOKEN): its own
admin calls carry it, and a call without it is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer


@pytest.fixture
def guarded() -> Iterator[SimulatorServer]:
    server = SimulatorServer(Settings(admin_token="a-token-for-this-test"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_fixture_s_admin_calls_carry_the_token(guarded: SimulatorServer) -> None:
    guarded.reset()  # the admin client: reset and unload scenarios
    assert guarded.admin("GET", "/health")["status"] == "ok"
    assert guarded.use_scenario("happy-path") == "happy-path"
    refused = requests.get(guarded.base_url + "/__admin/health", timeout=5)
    assert refused.status_code == 401
