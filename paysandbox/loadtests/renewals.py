"""The `renewals` suite: customers saving cards, then their subscriptions renewing at
scale, through the reference payment service's API.

    paysandbox load --suite renewals --target http://127.0.0.1:8000 \
        --simulator http://127.0.0.1:12111 --scenario renewals -u 20 -t 60s

Each user is one customer: a first payment, present, that saves a card (`save_card`),
then a subscription on it renewing every `--renewal-interval` virtual seconds. The
simulator's virtual clock runs on in real time, so renewals fall due during the run;
each iteration asks the service to renew what is due (`POST /subscriptions/renew-due`,
the call a scheduler makes) and reads its own subscription. A subscription that needs
the customer (`needs_customer_action`) or a new card (`payment_method_invalid`) is
replaced the way the customer would: a new first payment and a new subscription. A
decline is an expected answer, not a failure; a 5xx or no answer is one.

Bounded: one live subscription per user; the service refuses saves and subscriptions
beyond its own caps (507, counted as failures).
"""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path
from typing import Any

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

try:
    import paysandbox.loadtests  # noqa: F401
except ImportError:  # `locust -f paysandbox/loadtests/….py` from a checkout, not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from paysandbox.loadtests import plugin
from paysandbox.loadtests.data import APPROVE
from paysandbox.loadtests.words import failure_text

_users = itertools.count()
#: The currencies renewals are charged in: dollars go to Stripe first, euros to Adyen.
CURRENCIES = ("usd", "usd", "eur")
#: The statuses after which the customer must come back (a new card, on session).
REPLACE = ("needs_customer_action", "payment_method_invalid")


class RenewalsUser(FastHttpUser):
    wait_time = between(0.2, 0.6)

    def __init__(self, environment: Any) -> None:
        self.network_timeout = self.connection_timeout = plugin.request_timeout(environment)
        super().__init__(environment)

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        index = next(_users)
        self.rng = random.Random(opts.seed * 100_003 + index)
        self.customer = f"load-customer-{opts.seed}-{index}"
        self.interval = float(opts.renewal_interval)
        self.subscription: str | None = None
        self.subscribe()

    def subscribe(self) -> None:
        """Save a card on a first payment, then subscribe with it."""
        currency = self.rng.choice(CURRENCIES)
        amount = self.rng.randrange(500, 5000)
        body = {"amount": amount, "currency": currency, "save_card": True,
                "customer": {"id": self.customer},
                "card": {"number": self.rng.choice(APPROVE[:2]), "exp_month": 12,
                         "exp_year": 2034, "cvc": "123"}}
        with self.client.post("/payments", json=body, name="POST /payments (save card)",
                              catch_response=True) as resp:
            saved = resp.json().get("saved_card") if resp.status_code == 201 else None
            if saved is None:
                resp.failure(failure_text(resp) if resp.status_code != 201 else
                             f"approved without a saved card: {resp.text[:200]}")
                return
        with self.client.post("/subscriptions", name="POST /subscriptions",
                              json={"card": saved, "amount": amount, "currency": currency,
                                    "interval_s": self.interval},
                              catch_response=True) as resp:
            if resp.status_code != 201:
                resp.failure(failure_text(resp))
                return
            self.subscription = resp.json()["id"]

    @task
    def renew(self) -> None:
        if self.subscription is None:
            self.subscribe()
            return
        with self.client.post("/subscriptions/renew-due", json={},
                              name="POST /subscriptions/renew-due",
                              catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(failure_text(resp))
        with self.client.get(f"/subscriptions/{self.subscription}",
                             name="GET /subscriptions/{id}", catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(failure_text(resp))
                return
            status = resp.json()["status"]
        if status in REPLACE:
            self.subscription = None  # the customer comes back with a card next time
