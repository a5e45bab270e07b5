"""The `checkout` suite: shoppers paying through a payment service's API.

    locust -f paysandbox/loadtests/checkout.py --host http://127.0.0.1:8000 \
        --simulator http://127.0.0.1:12111 --headless -u 20 -r 5 -t 60s

Each iteration is one order (Faker customer, currency mix, lognormal amount, a test
card or the local method shoppers in that market use: iDEAL, Bancontact, PIX, OXXO, UPI,
M-Pesa): pay; finish a 3DS challenge on the simulator's hosted page when asked; finish a
pending asynchronous payment as a tester would (Mollie's checkout page, Mercado Pago's
ticket page, or the simulator's admin API; mostly paid, some failed or expired) and poll
the service until the provider's webhook has settled it; capture the authorize-only
ones (--capture-ratio); refund some (--refund-ratio, half of them partially). Declines
are expected answers, not failures.
"""

from __future__ import annotations

import itertools
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
from paysandbox.loadtests.adapters import load as load_adapter
from paysandbox.loadtests.data import Orders

_users = itertools.count()
#: Methods the reference service does not refund (M-Pesa needs Daraja's Reversal API).
NO_REFUNDS = frozenset({"mpesa"})


class CheckoutUser(FastHttpUser):
    wait_time = between(0.05, 0.25)

    def __init__(self, environment: Any) -> None:
        # Before the client is made: it takes its timeouts from these.
        self.network_timeout = self.connection_timeout = plugin.request_timeout(environment)
        super().__init__(environment)

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        index = next(_users)
        self.orders = Orders(opts.seed * 100_003 + index, capture_ratio=opts.capture_ratio,
                             three_ds_ratio=opts.three_ds_ratio,
                             decline_ratio=opts.decline_ratio,
                             local_method_ratio=opts.local_method_ratio)
        self.refund_ratio = opts.refund_ratio
        self.sut = load_adapter(opts.sut_adapter)(self.client, plugin.admin(self.environment))

    @task
    def checkout(self) -> None:
        order = self.orders.next()
        payment = self.sut.create_payment(order)
        if payment is None:
            return
        if payment.status == "requires_action":
            payment = self.sut.complete_action(payment)
        elif payment.status == "pending":
            payment = self.sut.complete_async(payment, outcome=order.outcome)
        if payment.status == "authorized" and not order.capture:
            payment = self.sut.capture(payment)
        if order.method in NO_REFUNDS:
            return
        if payment.status == "captured" and self.orders.rng.random() < self.refund_ratio:
            partial = self.orders.rng.random() < 0.5
            self.sut.refund(payment, payment.amount // 2 if partial else payment.amount)
