"""Adyen test helpers: the official SDK pointed at the simulator, a notification receiver
that acknowledges with `[accepted]` as Adyen requires, and request builders."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import Adyen
import pytest

from paysandbox.testing.server import SimulatorServer
from tests.conftest import Received, WebhookReceiver, receiving

VERSION = "v71"
RETURN_URL = "http://127.0.0.1:9/checkout/return"


@dataclass
class Checkout:
    """One merchant's view of the Checkout API through the official SDK."""

    key: str
    merchant: str
    sdk: Adyen.Adyen

    @property
    def payments(self) -> Any:
        return self.sdk.checkout.payments_api

    @property
    def modifications(self) -> Any:
        return self.sdk.checkout.modifications_api

    def pay(self, method: dict[str, Any] | None = None, *, value: int = 1000,
            currency: str = "EUR", **extra: Any) -> dict[str, Any]:
        body = {"amount": {"currency": currency, "value": value},
                "reference": extra.pop("reference", f"order-{uuid.uuid4().hex[:8]}"),
                "merchantAccount": self.merchant, "returnUrl": RETURN_URL,
                "paymentMethod": method or card(), **extra}
        result: dict[str, Any] = self.payments.payments(body).message
        return result

    def held(self, **extra: Any) -> dict[str, Any]:
        """An authorised payment waiting for manual capture."""
        return self.pay(additionalData={"manualCapture": "true"}, **extra)


def card(number: str = "4111111111111111", *, month: str = "03", year: str = "2030",
         cvc: str = "737", holder: str | None = None) -> dict[str, Any]:
    method = {"type": "scheme", "number": number, "expiryMonth": month,
              "expiryYear": year, "cvc": cvc}
    if holder is not None:
        method["holderName"] = holder
    return method


def make_checkout(simulator: SimulatorServer, key: str | None = None,
                  merchant: str = "TestMerchantECOM", version: str = VERSION) -> Checkout:
    sdk = Adyen.Adyen(xapikey=key or f"AQE_test_{uuid.uuid4().hex}", platform="test")
    base = simulator.url("adyen") + f"/checkout/{version}"
    sdk.checkout.payments_api.baseUrl = base
    sdk.checkout.modifications_api.baseUrl = base
    return Checkout(sdk.client.xapikey, merchant, sdk)


@pytest.fixture
def adyen(payment_simulator: SimulatorServer) -> Checkout:
    return make_checkout(payment_simulator)


class Notification(Received):
    @property
    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = self.json()["notificationItems"][0]["NotificationRequestItem"]
        return item


@dataclass
class Receiver(WebhookReceiver):
    """A merchant's notification endpoint: it answers `[accepted]`, as Adyen wants."""

    reply: bytes = b"[accepted]"
    record: ClassVar[type[Received]] = Notification  # so `received` holds Notifications

    def items(self, event_code: str | None = None) -> list[dict[str, Any]]:
        return [n.item for n in self.received
                if event_code is None or n.item["eventCode"] == event_code]

    def one(self, event_code: str, psp: str | None = None, timeout: float = 10
            ) -> dict[str, Any]:
        def found(got: list[Notification]) -> bool:
            return any(n.item["eventCode"] == event_code and
                       psp in (None, n.item["pspReference"]) for n in got)
        assert self.wait_for(found, timeout), (event_code, self.items())
        return next(i for i in self.items(event_code) if psp in (None, i["pspReference"]))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(lambda base: Receiver(base + "/adyen/notifications")) as rx:
        yield rx


#: An HMAC key as the Customer Area generates them: 64 hex digits.
HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


@pytest.fixture
def notifications(payment_simulator: SimulatorServer, receiver: Receiver
                  ) -> Iterator[Receiver]:
    """The receiver configured as the Adyen webhook, as one would in the Customer Area."""
    payment_simulator.admin("PUT", "/webhooks/adyen", {"url": receiver.url,
                                                       "secret": HMAC_KEY})
    try:
        yield receiver
    finally:
        payment_simulator.admin("DELETE", "/webhooks/adyen")

