"""Generated orders: customers from Faker, amounts, currencies and test cards, all from
one seed so two runs with the same seed make the same orders in the same order (per user).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from faker import Faker

#: (currency, weight, the customers' countries, Faker locale)
CURRENCIES = (
    ("usd", 50, ("US",), "en_US"),
    ("eur", 22, ("DE", "FR", "NL", "ES", "IT"), "de_DE"),
    ("gbp", 10, ("GB",), "en_GB"),
    ("brl", 8, ("BR",), "pt_BR"),
    ("cad", 5, ("CA",), "en_CA"),
    ("mxn", 5, ("MX",), "es_MX"),
)
#: Approved on every imitated card acquirer (documented test numbers).
APPROVE = ("4242424242424242", "5555555555554444", "378282246310005", "6011111111111117")
#: Stripe's "authentication required" card: a 3DS challenge on Stripe.
THREE_DS = ("4000002760003184",)
#: Stripe's declining cards (insufficient funds, generic decline).
DECLINE = ("4000000000009995", "4000000000000002")
_MEDIAN = {"usd": 4500, "eur": 4000, "gbp": 3500, "brl": 18000, "cad": 5500, "mxn": 80000}


@dataclass(frozen=True)
class Order:
    amount: int
    currency: str
    country: str
    card_number: str
    exp_month: int
    exp_year: int
    cvc: str
    holder: str
    email: str
    capture: bool      # capture at once, or authorize now and capture later
    kind: str          # approve | three_ds | decline


class Orders:
    def __init__(self, seed: int, *, capture_ratio: float = 0.3, three_ds_ratio: float = 0.1,
                 decline_ratio: float = 0.05) -> None:
        self.rng = random.Random(seed)
        self.capture_ratio = capture_ratio
        self.three_ds_ratio, self.decline_ratio = three_ds_ratio, decline_ratio
        self._fakers: dict[str, Faker] = {}
        self._seed = seed

    def _faker(self, locale: str) -> Faker:
        if locale not in self._fakers:
            fake = Faker(locale)
            fake.seed_instance(self._seed)
            self._fakers[locale] = fake
        return self._fakers[locale]

    def next(self) -> Order:
        rng = self.rng
        currency, _, countries, locale = rng.choices(CURRENCIES,
                                                     weights=[c[1] for c in CURRENCIES])[0]
        fake = self._faker(locale)
        # Basket sizes are roughly lognormal: many small orders, a long tail of big ones.
        amount = max(100, int(_MEDIAN[currency] * math.exp(rng.gauss(0, 0.8))))
        draw = rng.random()
        if draw < self.decline_ratio:
            kind, number = "decline", rng.choice(DECLINE)
        elif draw < self.decline_ratio + self.three_ds_ratio:
            kind, number = "three_ds", rng.choice(THREE_DS)
        else:
            kind, number = "approve", rng.choice(APPROVE)
        return Order(amount=amount, currency=currency, country=rng.choice(countries),
                     card_number=number, exp_month=rng.randint(1, 12),
                     exp_year=rng.randint(2030, 2034),
                     cvc="7373" if number.startswith("37") else "737",
                     holder=fake.name(), email=fake.email(),
                     capture=rng.random() >= self.capture_ratio, kind=kind)
