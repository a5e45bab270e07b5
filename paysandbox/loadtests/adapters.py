"""The payment service under test, as the checkout suite sees it.

A SUT adapter turns the suite's steps (create a payment, finish a 3DS challenge or an
asynchronous method, capture, refund) into calls to *your* service's API, through
Locust's client so every call is timed and named. The reference service's adapter ships
here; write yours by subclassing `SutAdapter` (see paysandbox/loadtests/README.md) and pass
`--sut-adapter mypackage.module:MyAdapter`.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, replace
from typing import Any

import gevent

from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.data import Order
from paysandbox.loadtests.words import failure_text

SETTLED = ("authorized", "captured", "declined", "failed", "canceled", "expired",
           "refunded", "partially_refunded")
#: How long a shopper's asynchronous payment may take to reach its final status after
#: the tester finished it (the provider's webhook, or a re-read, must tell by then).
ASYNC_SETTLE_S = 5.0


@dataclass(frozen=True)
class Payment:
    id: str
    status: str              # authorized captured requires_action pending declined failed …
    amount: int
    currency: str
    action_url: str | None = None
    provider: str | None = None
    provider_reference: str | None = None
    method: str = "card"
    next_action: dict[str, Any] | None = None  # an async method: what the shopper needs


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

    def complete_async(self, payment: Payment, *, outcome: str = "success") -> Payment:
        """An asynchronous method (iDEAL, PIX, OXXO, UPI, M-Pesa…) is finished the way a
        tester would: paid (`success`), `failure` or `expired`; then wait for the
        service to report the final status."""
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
                         "subclass, e.g. paysandbox.loadtests.adapters:ReferenceService")
    return found


_MOLLIE_CHOICE = {"success": "paid", "failure": "failed", "expired": "expired",
                  "canceled": "canceled"}


class ReferenceService(SutAdapter):
    """paysandbox/examples/payment_service: POST /payments, /payments/{id}/capture|refund."""

    def _payment(self, body: dict[str, Any]) -> Payment:
        return Payment(id=body["id"], status=body["status"], amount=body["amount"],
                       currency=body["currency"], action_url=body.get("action_url"),
                       provider=body.get("provider"),
                       provider_reference=body.get("provider_reference"),
                       method=body.get("method") or "card",
                       next_action=body.get("next_action"))

    def create_payment(self, order: Order) -> Payment | None:
        body: dict[str, Any] = {
            "amount": order.amount, "currency": order.currency, "method": order.method,
            "country": order.country, "capture": order.capture,
            "customer": {"email": order.email, "name": order.holder}}
        if order.method == "card":
            body["card"] = {"number": order.card_number, "exp_month": order.exp_month,
                            "exp_year": order.exp_year, "cvc": order.cvc,
                            "holder": order.holder}
        if order.phone:
            body["customer"]["phone"] = order.phone
        if order.vpa:
            body["upi"] = {"vpa": order.vpa}
        with self.client.post("/payments", json=body, name="POST /payments",
                              catch_response=True) as resp:
            if resp.status_code in (201, 402):  # 402: declined, an expected answer
                resp.success()
                return self._payment(resp.json())
            resp.failure(failure_text(resp))
            return None

    def refresh(self, payment: Payment, name: str = "GET /payments/{id}") -> Payment:
        with self.client.get(f"/payments/{payment.id}", name=name,
                             catch_response=True) as resp:
            if resp.status_code == 200:
                return self._payment(resp.json())
            resp.failure(failure_text(resp))
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
                resp.failure(failure_text(resp))
                return payment
        for _ in range(5):  # the provider's answer or webhook lands within moments
            payment = self.refresh(payment)
            if payment.status in SETTLED:
                break
            gevent.sleep(0.1)
        return payment

    def complete_async(self, payment: Payment, *, outcome: str = "success") -> Payment:
        method = payment.method
        page = (payment.next_action or {}).get("url") or payment.action_url
        if payment.provider == "mollie" and page:
            # Mollie's test checkout: the tester clicks Paid, Failed or Expired.
            done = self._post(page, f"{method}: finish on the checkout page",
                              data=f"status={_MOLLIE_CHOICE[outcome]}".encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        elif payment.provider == "mercadopago" and page and outcome == "success":
            done = self._post(f"{page}/pay", f"{method}: simulate payment (ticket page)",
                              data=b"")
        elif self.admin is not None and payment.provider_reference:
            url = (f"{self.admin.base_url}/__admin/payments/{payment.provider_reference}"
                   "/complete")
            token = {"Authorization": f"Bearer {self.admin.token}"} if self.admin.token else {}
            done = self._post(url, f"{method}: complete (simulator admin)",
                              json={"outcome": outcome}, ok=(200, 409), headers=token)
        else:
            return payment
        if not done:
            return payment
        return self.wait_final(payment)

    def _post(self, url: str, name: str, *, ok: tuple[int, ...] = (200, 302, 303),
              **kwargs: Any) -> bool:
        """409: the payment had already moved on (a handset answering by itself)."""
        with self.client.post(url, name=name, allow_redirects=False, catch_response=True,
                              **kwargs) as resp:
            if resp.status_code in ok:
                resp.success()
                return True
            resp.failure(failure_text(resp))
            return False

    def wait_final(self, payment: Payment) -> Payment:
        """Poll the service until the provider's webhook has settled the payment."""
        name = f"{payment.method}: status until final"
        deadline = time.monotonic() + ASYNC_SETTLE_S
        while True:
            payment = self.refresh(payment, name)
            if payment.status in SETTLED or time.monotonic() > deadline:
                break
            gevent.sleep(0.1)
        if payment.status not in SETTLED:
            with self.client.get(f"/payments/{payment.id}", name=name,
                                 catch_response=True) as resp:
                resp.failure(f"still {payment.status} {ASYNC_SETTLE_S:.0f} s after the "
                             "shopper finished: no webhook reached the service")
        return payment

    def capture(self, payment: Payment) -> Payment:
        with self.client.post(f"/payments/{payment.id}/capture", json={},
                              name="POST /payments/{id}/capture", catch_response=True) as resp:
            if resp.status_code == 200:
                return self._payment(resp.json())
            resp.failure(failure_text(resp))
            return payment

    def refund(self, payment: Payment, amount: int) -> Payment:
        with self.client.post(f"/payments/{payment.id}/refund", json={"amount": amount},
                              name="POST /payments/{id}/refund", catch_response=True) as resp:
            if resp.status_code == 200:
                return self._payment(resp.json())
            resp.failure(failure_text(resp))
            return replace(payment)
