"""The `providers` suite: users that speak the provider APIs directly, to capacity-test
the simulator itself or to drive a provider-facing component (a gateway, a proxy).

    locust -f paysandbox/loadtests/providers.py --host http://127.0.0.1:12111 --headless \
        -u 50 -r 10 -t 60s [StripeUser AdyenUser CheckoutcomUser]

The host is the simulator's base URL (or your component's, if it exposes the same
paths). Each user keeps its own API key, hence its own namespace in the simulator.
One iteration is a payment's life on that provider's real wire API: authorize, then
capture (or captured at once), sometimes a refund, sometimes a read.
"""

from __future__ import annotations

import itertools
import random
import sys
import uuid
from pathlib import Path
from typing import Any

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

try:
    import paysandbox.loadtests  # noqa: F401
except ImportError:  # `locust -f paysandbox/loadtests/….py` from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from paysandbox.loadtests import plugin  # (registers options and hooks)
from paysandbox.loadtests.words import failure_text

_users = itertools.count()


class _ProviderUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        # Before the client is made: it takes its timeouts from these.
        self.network_timeout = self.connection_timeout = plugin.request_timeout(environment)
        super().__init__(environment)

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        n = next(_users)
        self.rng = random.Random((opts.seed if opts else 1) * 7919 + n)
        self.key_suffix = f"load{n}_{uuid.uuid4().hex[:8]}"

    def _ok(self, resp: Any, *codes: int) -> Any:
        if resp.status_code in codes:
            resp.success()
            try:
                return resp.json()
            except ValueError:
                resp.failure("the body is not JSON")
                return None
        resp.failure(failure_text(resp))
        return None

    def amount(self) -> int:
        return self.rng.randint(100, 50_000)


class StripeUser(_ProviderUser):
    """POST /v1/payment_intents (confirm), capture, refund, retrieve."""

    def on_start(self) -> None:
        super().on_start()
        self.headers = {"Authorization": f"Bearer sk_test_{self.key_suffix}"}

    @task
    def payment(self) -> None:
        manual = self.rng.random() < 0.5
        form = {"amount": str(self.amount()), "currency": "usd", "confirm": "true",
                "payment_method": "pm_card_visa",
                "capture_method": "manual" if manual else "automatic"}
        with self.client.post("/stripe/v1/payment_intents", data=form, headers={
                **self.headers, "Idempotency-Key": uuid.uuid4().hex},
                name="stripe: create+confirm", catch_response=True) as resp:
            pi = self._ok(resp, 200)
        if not pi:
            return
        if manual:
            with self.client.post(f"/stripe/v1/payment_intents/{pi['id']}/capture",
                                  data={}, headers=self.headers, name="stripe: capture",
                                  catch_response=True) as resp:
                self._ok(resp, 200)
        if self.rng.random() < 0.2:
            with self.client.post("/stripe/v1/refunds", data={"payment_intent": pi["id"]},
                                  headers=self.headers, name="stripe: refund",
                                  catch_response=True) as resp:
                self._ok(resp, 200)
        if self.rng.random() < 0.2:
            with self.client.get(f"/stripe/v1/payment_intents/{pi['id']}",
                                 headers=self.headers, name="stripe: retrieve",
                                 catch_response=True) as resp:
                self._ok(resp, 200)


class AdyenUser(_ProviderUser):
    """POST /v71/payments, /payments/{psp}/captures and /refunds."""

    def on_start(self) -> None:
        super().on_start()
        self.headers = {"X-API-Key": f"AQE_{self.key_suffix}"}
        self.account = "PaysandboxLoadECOM"

    @task
    def payment(self) -> None:
        amount = {"value": self.amount(), "currency": "EUR"}
        body = {"merchantAccount": self.account, "reference": uuid.uuid4().hex,
                "amount": amount, "returnUrl": "https://shop.example/return",
                "paymentMethod": {"type": "scheme", "number": "4111111145551142",
                                  "expiryMonth": "03", "expiryYear": "2030", "cvc": "737",
                                  "holderName": "Load Test"},
                "additionalData": {"manualCapture": "true"}}
        with self.client.post("/adyen/checkout/v71/payments", json=body, headers={
                **self.headers, "Idempotency-Key": uuid.uuid4().hex},
                name="adyen: payments", catch_response=True) as resp:
            res = self._ok(resp, 200)
        if not res or res.get("resultCode") != "Authorised":
            return
        psp = res["pspReference"]
        mod = {"merchantAccount": self.account, "amount": amount}
        with self.client.post(f"/adyen/checkout/v71/payments/{psp}/captures", json=mod,
                              headers=self.headers, name="adyen: captures",
                              catch_response=True) as resp:
            self._ok(resp, 201)
        if self.rng.random() < 0.2:
            with self.client.post(f"/adyen/checkout/v71/payments/{psp}/refunds", json=mod,
                                  headers=self.headers, name="adyen: refunds",
                                  catch_response=True) as resp:
                self._ok(resp, 201)


class CheckoutcomUser(_ProviderUser):
    """POST /payments, /payments/{id}/captures and /refunds, GET /payments/{id}."""

    def on_start(self) -> None:
        super().on_start()
        self.headers = {"Authorization": f"Bearer sk_sbox_{self.key_suffix}"}

    @task
    def payment(self) -> None:
        body = {"source": {"type": "card", "number": "4242424242424242", "expiry_month": 6,
                           "expiry_year": 2030, "cvv": "100"},
                "amount": self.amount(), "currency": "GBP", "capture": False,
                "reference": uuid.uuid4().hex}
        with self.client.post("/checkoutcom/payments", json=body, headers={
                **self.headers, "Cko-Idempotency-Key": uuid.uuid4().hex},
                name="checkoutcom: payments", catch_response=True) as resp:
            res = self._ok(resp, 201, 202)
        if not res or not res.get("approved"):
            return
        with self.client.post(f"/checkoutcom/payments/{res['id']}/captures", json={},
                              headers=self.headers, name="checkoutcom: captures",
                              catch_response=True) as resp:
            self._ok(resp, 202)
        if self.rng.random() < 0.2:
            with self.client.get(f"/checkoutcom/payments/{res['id']}", headers=self.headers,
                                 name="checkoutcom: get", catch_response=True) as resp:
                self._ok(resp, 200)


#: user class names by the simulator provider they need
BY_PROVIDER = {"stripe": "StripeUser", "adyen": "AdyenUser", "checkoutcom": "CheckoutcomUser"}
