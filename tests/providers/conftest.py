"""Fixtures the provider tests share."""

from __future__ import annotations

import mercadopago
import pytest

from paysandbox.testing.server import SimulatorServer
from tests.providers.mercadopago_sdk import sdk


@pytest.fixture
def mp(payment_simulator: SimulatorServer) -> mercadopago.SDK:
    """The Mercado Pago SDK with a fresh access token (its own namespace)."""
    return sdk(payment_simulator.url("mercadopago"))
