"""Which acquirers may take a payment, in order of preference.

Rules are data: the first rule whose method, currency and country match gives the
ordered provider list; providers that are not configured are skipped, so the same table
works with one acquirer or three. The service then skips providers whose circuit is
open and fails over down the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EEA_CURRENCIES = frozenset({"eur", "gbp", "sek", "dkk", "nok", "pln", "chf", "czk", "huf"})


@dataclass(frozen=True)
class Rule:
    providers: tuple[str, ...]
    methods: frozenset[str] = frozenset()      # empty: any
    currencies: frozenset[str] = frozenset()   # lower-case ISO 4217; empty: any
    countries: frozenset[str] = frozenset()    # upper-case ISO 3166; empty: any

    def matches(self, method: str, currency: str, country: str | None) -> bool:
        return ((not self.methods or method in self.methods)
                and (not self.currencies or currency in self.currencies)
                and (not self.countries or (country or "") in self.countries))


#: A sensible default: each local method at the provider that offers it, in the currency
#: it settles in (iDEAL and Bancontact at Mollie in EUR, PIX and OXXO at Mercado Pago in
#: BRL and MXN, UPI at Razorpay in INR, M-Pesa at Daraja in KES); for cards, Stripe first
#: for dollars, the European acquirers first for European currencies, and every card
#: acquirer as a fallback.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(("mollie",), methods=frozenset({"ideal", "bancontact"}), currencies=frozenset({"eur"})),
    Rule(("mercadopago",), methods=frozenset({"pix"}), currencies=frozenset({"brl"})),
    Rule(("mercadopago",), methods=frozenset({"oxxo"}), currencies=frozenset({"mxn"})),
    Rule(("razorpay",), methods=frozenset({"upi"}), currencies=frozenset({"inr"})),
    Rule(("daraja",), methods=frozenset({"mpesa"}), currencies=frozenset({"kes"})),
    Rule(("adyen", "checkoutcom", "stripe"), methods=frozenset({"card"}),
         currencies=EEA_CURRENCIES),
    Rule(("stripe", "checkoutcom", "adyen"), methods=frozenset({"card"}),
         currencies=frozenset({"usd", "cad"})),
    Rule(("checkoutcom", "stripe", "adyen"), methods=frozenset({"card"})),
)


class NoRoute(Exception):
    """No configured provider takes this kind of payment."""


class Router:
    def __init__(self, available: Iterable[str], rules: Sequence[Rule] = DEFAULT_RULES) -> None:
        self.available = tuple(available)
        self.rules = tuple(rules)

    def candidates(self, method: str, currency: str, country: str | None = None
                   ) -> list[str]:
        method, currency = method.lower(), currency.lower()
        country = country.upper() if country else None
        for rule in self.rules:
            if rule.matches(method, currency, country):
                found = [p for p in rule.providers if p in self.available]
                if found:
                    return found
        raise NoRoute(f"no configured provider takes {method} payments in "
                      f"{currency.upper()}{f' from {country}' if country else ''}; "
                      f"configured: {', '.join(self.available) or 'none'}")
