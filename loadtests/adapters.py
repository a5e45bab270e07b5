"""The payment service under test, as the checkout suite sees it.

A SUT adapter turns the suite's steps (create a payment, finish a 3DS challenge or an
asynchronous method, capture, refund) into calls to *your* service's API, through
Locust's client so every call is timed and named. The reference service's adapter ships
here; write yours by subclassing `SutAdapter` (see loadtests/README.md) and pass
`--sut-adapter mypackage.module:MyAdapter`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any

import gevent

from loadtests.admin import Admin
from loadtests.data import Order

SETTLED = ("authorized", "captured", "declined", "failed", "canceled", "refunded",
           "partially_refunded")


@dataclass(frozen=True)
class Payment:
    id: str
    status: str              # authorized captured requires_action pending declined failed …
    amount: int
    currency: str
    action_url: str | None = None
    provider: str | None = None
    provider_reference: str | None = None


class SutAdapter:
    """Subclass and implement the five steps for your service.

    `client` is the Locust user's HTTP client (`self.client` of a FastHttpUser); use
    `catch_response=True` and `name=` so that expected answers (a decline) count as
    successes and the stats group by step, not by URL.
    """

    def __init__(self, client: Any, admin: Admin | None) -> None:
        self.client, self.admin = client, admin

    def create_payment(self, order: Order) -> Payment | None:
        raise NotImplementedError

    def complete_action(self, payment: Payment, *, succeed: bool = True) -> Payment:
        """The shopper finishes a 3DS challenge / redirect."""
        raise NotImplementedError

    def complete_async(self, payment: Payment) -> Payment:
        """An asynchronous method (bank transfer, wallet) is paid by the shopper."""
        raise NotImplementedError

    def capture(self, payment: Payment) -> Payment:
        raise NotImplementedError

    def refund(self, payment: Payment, amount: int) -> Payment:
        raise NotImplementedError


def load(spec: str) -> type[SutAdapter]:
    module, _, name = spec.partition(":")
    found = getattr(importlib.import_module(module), name or "Adapter", None)
    if not (isinstance(found, type) and issubclass(found, SutAdapter)):
        raise SystemExit(f"--sut-adapter {spec}: expected module:Class of a SutAdapter "
                         "subclass, e.g. loadtests.adapters:ReferenceService")
    return found


class ReferenceService(SutAdapter):
    """examples/payment_service: POST /payments, /payments/{id}/capture|refund."""

    def _payment(self, body: dict[str, Any]) -> Payment:
        return Payment(id=body["id"], status=body["status"], amount=body["amount"],
                       currency=body["currency"], action_url=body.get("action_url"),
                       provider=body.get("provider"),
                       provider_reference=body.get("provider_reference"))

    def create_payment(self, order: Order) -> Payment | None:
        body = {"amount": order.amount, "currency": order.currency, "method": "card",
                "country": order.country, "capture": order.capture,
                "card": {"number": order.card_number, "exp_month": order.exp_month,
                         "exp_year": order.exp_year, "cvc": order.cvc, "holder": order.holder},
                "customer": {"email": order.email, "name": order.holder}}
        with self.client.post("/payments", json=body, name="POST /payments",
                              catch_response=True) as resp:
            if resp.status_code in (201, 402):  # 402: declined, an expected answer
                resp.success()
                return self._payment(resp.json())
            resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            return None

    def refresh(self, payment: Payment) -> Payment:
        with self.client.get(f"/payments/{payment.id}", name="GET /payments/{id}",
                             catch_response=True) as resp:
            if resp.status_code == 200:
                return self._payment(resp.json())
            resp.failure(f"HTTP {resp.status_code}")
            return payment

    def complete_action(self, payment: Payment, *, succeed: bool = True) -> Payment:
        if not payment.action_url:
            return payment
        verdict = "complete" if succeed else "fail"
        with self.client.post(f"{payment.action_url}/{verdict}", data=b"",
                              name="3DS challenge (hosted page)", allow_redirects=False,
                              catch_response=True) as resp:
            if resp.status_code in (200, 302, 303):
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}")
                return payment
        for _ in range(5):  # the provider's answer or webhook lands within moments
            payment = self.refresh(payment)
            if payment.status in SETTLED:
                break
            gevent.sleep(0.1)
        return payment

    def complete_async(self, payment: Payment) -> Payment:
        if self.admin is None or not payment.provider_reference:
            return payment
        url = f"{self.admin.base_url}/__admin/payments/{payment.provider_reference}/complete"
        with self.client.post(url, json={"outcome": "success"}, catch_response=True,
                              name="complete async payment (simulator admin)") as resp:
            if resp.status_code not in (200, 409):
                resp.failure(f"HTTP {resp.status_code}")
                return payment
            resp.success()
        return self.refresh(payment)

    def capture(self, payment: Payment) -> Payment:
        with self.client.post(f"/payments/{payment.id}/capture", json={},
                              name="POST /payments/{id}/capture", catch_response=True) as resp:
            if resp.status_code == 200:
                return self._payment(resp.json())
            resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            return payment

    def refund(self, payment: Payment, amount: int) -> Payment:
        with self.client.post(f"/payments/{payment.id}/refund", json={"amount": amount},
                              name="POST /payments/{id}/refund", catch_response=True) as resp:
            if resp.status_code == 200:
                return self._payment(resp.json())
            resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            return replace(payment)
