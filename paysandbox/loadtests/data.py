"""Generated orders: customers from Faker, amounts, currencies, payment methods (test
cards, and the local methods shoppers in those markets use), all from one seed so two
runs with the same seed make the same orders in the same order (per user).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from faker import Faker

#: (currency, weight, the customers' countries, Faker locale)
CURRENCIES = (
    ("usd", 42, ("US",), "en_US"),
    ("eur", 22, ("DE", "FR", "NL", "NL", "BE", "ES", "IT"), "de_DE"),
    ("gbp", 8, ("GB",), "en_GB"),
    ("brl", 8, ("BR",), "pt_BR"),
    ("cad", 4, ("CA",), "en_CA"),
    ("mxn", 6, ("MX",), "es_MX"),
    ("inr", 6, ("IN",), "en_IN"),
    ("kes", 4, ("KE",), "en_KE"),
)
#: (currency, country or None for any, local method, share of those orders paying with
#: it): roughly what shoppers there use instead of a card. The rest pay by card.
LOCAL_METHODS = (
    ("eur", "NL", "ideal", 0.6),
    ("eur", "BE", "bancontact", 0.5),
    ("brl", None, "pix", 0.4),
    ("mxn", None, "oxxo", 0.2),
    ("inr", None, "upi", 0.7),
    ("kes", None, "mpesa", 0.9),
)
#: How a tester finishes an asynchronous payment: (outcome, weight).
ASYNC_OUTCOMES = (("success", 85), ("failure", 10), ("expired", 5))
#: Approved on every imitated card acquirer (documented test numbers).
APPROVE = ("4242424242424242", "5555555555554444", "378282246310005", "6011111111111117")
#: Stripe's "authentication required" card: a 3DS challenge on Stripe.
THREE_DS = ("4000002760003184",)
#: Stripe's declining cards (insufficient funds, generic decline).
DECLINE = ("4000000000009995", "4000000000000002")
_MEDIAN = {"usd": 4500, "eur": 4000, "gbp": 3500, "brl": 18000, "cad": 5500, "mxn": 80000,
           "inr": 250000, "kes": 300000}
#: Currencies whose payments are made in whole units (M-Pesa takes whole shillings).
_WHOLE = {"kes"}
#: Amounts Checkout.com's sandbox declines whatever the card, in two-decimal currencies
#: ("Response code testing": the last two digits 05, 12, 14, 33, 51, 54, 62, 63, and a
#: few whole amounts). A card order keeps clear of them, so that an order meant to be
#: approved is approved at every acquirer.
_DECLINING_CENTS = frozenset({5, 12, 14, 33, 51, 54, 62, 63})
_DECLINING_AMOUNTS = frozenset({2011, 2013, 4001, 4008, 6510, 6520, 6530, 6540, 9998})


def _clear_of_decline_amounts(amount: int) -> int:
    while amount % 100 in _DECLINING_CENTS or amount in _DECLINING_AMOUNTS:
        amount += 1
    return amount


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
    kind: str          # approve | three_ds | decline | async
    method: str = "card"        # card, or a local method (ideal, pix, upi, mpesa, …)
    phone: str | None = None    # UPI contact, the M-Pesa handset
    vpa: str | None = None      # the UPI id a collect request goes to
    outcome: str = "success"    # how the tester finishes an asynchronous payment


class Orders:
    def __init__(self, seed: int, *, capture_ratio: float = 0.3, three_ds_ratio: float = 0.1,
                 decline_ratio: float = 0.05, local_method_ratio: float | None = None) -> None:
        """`local_method_ratio`: None for each market's own share of local methods
        (LOCAL_METHODS); else that share of all orders pays with one of them, evenly."""
        self.rng = random.Random(seed)
        self.local_method_ratio = local_method_ratio
        self._turn = seed
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
        if self.local_method_ratio is not None and rng.random() < self.local_method_ratio:
            return self._any_local_method()
        currency, _, countries, locale = rng.choices(CURRENCIES,
                                                     weights=[c[1] for c in CURRENCIES])[0]
        fake = self._faker(locale)
        # Basket sizes are roughly lognormal: many small orders, a long tail of big ones.
        amount = max(100, int(_MEDIAN[currency] * math.exp(rng.gauss(0, 0.8))))
        if currency in _WHOLE:
            amount -= amount % 100
        country = rng.choice(countries)
        method = self._local_method(currency, country)
        if method is not None:
            return self._async_order(method, amount, currency, country, fake)
        if currency not in _WHOLE:
            amount = _clear_of_decline_amounts(amount)
        draw = rng.random()
        if draw < self.decline_ratio:
            kind, number = "decline", rng.choice(DECLINE)
        elif draw < self.decline_ratio + self.three_ds_ratio:
            kind, number = "three_ds", rng.choice(THREE_DS)
        else:
            kind, number = "approve", rng.choice(APPROVE)
        return Order(amount=amount, currency=currency, country=country,
                     card_number=number, exp_month=rng.randint(1, 12),
                     exp_year=rng.randint(2030, 2034),
                     cvc="7373" if number.startswith("37") else "737",
                     holder=fake.name(), email=fake.email(),
                     capture=rng.random() >= self.capture_ratio, kind=kind)

    def _local_method(self, currency: str, country: str) -> str | None:
        if self.local_method_ratio is not None:
            return None  # the ratio decides, in next()
        for cur, where, method, share in LOCAL_METHODS:
            if cur == currency and where in (None, country):
                return method if self.rng.random() < share else None
        return None

    def _any_local_method(self) -> Order:
        # In turn, starting where the seed says: a few users cover every method at once.
        currency, where, method, _ = LOCAL_METHODS[self._turn % len(LOCAL_METHODS)]
        self._turn += 1
        _, _, countries, locale = next(c for c in CURRENCIES if c[0] == currency)
        amount = max(100, int(_MEDIAN[currency] * math.exp(self.rng.gauss(0, 0.8))))
        if currency in _WHOLE:
            amount -= amount % 100
        return self._async_order(method, amount, currency, where or countries[0],
                                 self._faker(locale))

    def _async_order(self, method: str, amount: int, currency: str, country: str,
                     fake: Faker) -> Order:
        rng = self.rng
        outcome = rng.choices([o for o, _ in ASYNC_OUTCOMES],
                              weights=[w for _, w in ASYNC_OUTCOMES])[0]
        name = fake.name()
        phone = vpa = None
        if method == "mpesa":
            phone = f"2547{rng.randint(10_000_000, 99_999_999)}"
        elif method == "upi":
            phone = f"9{rng.randint(100_000_000, 999_999_999)}"
            handle = "".join(c for c in name.lower() if c.isascii() and c.isalnum())[:12]
            vpa = f"{handle or 'shopper'}{rng.randint(1, 999)}@okhdfcbank"
        return Order(amount=amount, currency=currency, country=country, card_number="",
                     exp_month=0, exp_year=0, cvc="", holder=name, email=fake.email(),
                     capture=True, kind="async", method=method, phone=phone, vpa=vpa,
                     outcome=outcome)
