"""Mollie's documented test-mode behaviour, as data.

Mollie's test mode has no magic amounts or card numbers that decide an outcome: every
payment starts `open`, and the hosted test checkout lets the tester pick the final
status (paid, failed, canceled, expired). The simulator does the same on
`/__hosted/mollie/checkout/{token}`. What is here: the methods it accepts, with their
documented lifetimes and currencies, the currencies Mollie takes and their decimals,
and the iDEAL issuers.

Sources:
- Expiry times: https://docs.mollie.com/payments/status-changes ("When does a payment
  expire?"): iDEAL and paysafecard 15 minutes, credit card 30 minutes, Bancontact, EPS,
  KBC, Belfius and other bank buttons 1 hour, PayPal 3 hours, bank transfer 12 days
  (one or two more when the 12th day is a weekend), `dueDate` overriding it.
- Currencies and decimals: https://docs.mollie.com/payments/multicurrency.
- Cancelable payments: https://docs.mollie.com/reference/v2/payments-api/cancel-payment
  (only open bank transfer and direct debit payments can be canceled by the merchant).
- iDEAL issuers: https://docs.mollie.com/reference/v2/methods-api/get-method
  (`include=issuers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from paysandbox.core.payments import CardDetails

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Method:
    id: str
    title: str
    lifetime: float  # seconds an open payment lives before it expires
    currencies: frozenset[str] | None = None  # None: every currency Mollie takes
    cancelable: bool = False  # the merchant may cancel it while open

    def accepts(self, currency: str) -> bool:
        return self.currencies is None or currency in self.currencies


_EUR = frozenset({"EUR"})

#: Currencies Mollie takes and their decimals (its multicurrency table).
CURRENCIES: dict[str, int] = {
    "AED": 2, "AUD": 2, "BGN": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CZK": 2, "DKK": 2,
    "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "ILS": 2, "ISK": 0, "JPY": 0, "MXN": 2,
    "MYR": 2, "NOK": 2, "NZD": 2, "PHP": 2, "PLN": 2, "RON": 2, "RUB": 2, "SEK": 2,
    "SGD": 2, "THB": 2, "TWD": 2, "USD": 2, "ZAR": 2,
}

_CARD_CURRENCIES = frozenset({
    "AED", "AUD", "BGN", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS",
    "ISK", "JPY", "NOK", "NZD", "PHP", "PLN", "RON", "RUB", "SEK", "SGD", "USD", "ZAR"})
_PAYPAL_CURRENCIES = frozenset({
    "AUD", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY",
    "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RUB", "SEK", "SGD", "THB", "TWD", "USD"})

METHODS: dict[str, Method] = {m.id: m for m in (
    Method("ideal", "iDEAL", 15 * MINUTE, _EUR),
    Method("paysafecard", "paysafecard", 15 * MINUTE, _EUR),
    Method("creditcard", "Card", 30 * MINUTE, _CARD_CURRENCIES),
    Method("bancontact", "Bancontact", HOUR, _EUR),
    Method("belfius", "Belfius Pay Button", HOUR, _EUR),
    Method("eps", "eps", HOUR, _EUR),
    Method("kbc", "KBC/CBC Payment Button", HOUR, _EUR),
    Method("przelewy24", "Przelewy24", HOUR, frozenset({"EUR", "PLN"})),
    Method("paypal", "PayPal", 3 * HOUR, _PAYPAL_CURRENCIES),
    Method("banktransfer", "Bank transfer", 12 * DAY, _EUR, cancelable=True),
)}

#: A payment created without a method waits on the method selection screen; it lives
#: as long as the shortest-lived method (iDEAL's 15 minutes).
NO_METHOD_LIFETIME = 15 * MINUTE

#: iDEAL issuers (`GET /v2/methods/ideal?include=issuers`).
IDEAL_ISSUERS: dict[str, str] = {
    "ideal_ABNANL2A": "ABN AMRO",
    "ideal_ASNBNL21": "ASN Bank",
    "ideal_BUNQNL2A": "bunq",
    "ideal_HANDNL2A": "Handelsbanken",
    "ideal_INGBNL2A": "ING",
    "ideal_KNABNL2H": "Knab",
    "ideal_RABONL2U": "Rabobank",
    "ideal_RBRBNL21": "RegioBank",
    "ideal_REVOLT21": "Revolut",
    "ideal_SNSBNL2A": "SNS Bank",
    "ideal_TRIONL2U": "Triodos Bank",
    "ideal_FVLBNL22": "Van Lanschot Kempen",
    "ideal_YOURNL2A": "Yoursafe",
}

#: What the hosted test checkout offers, in Mollie's words.
PAGE_CHOICES = ("paid", "failed", "canceled", "expired")


def expires_at(method: str | None, created: float, due_date: date | None = None) -> float:
    """When an open payment created at `created` expires (virtual epoch seconds)."""
    if due_date is not None:  # bank transfer: end of the due date
        end = datetime.combine(due_date + timedelta(days=1), datetime.min.time(), UTC)
        return end.timestamp()
    found = METHODS.get(method or "")
    if found is None:
        return created + NO_METHOD_LIFETIME
    at = created + found.lifetime
    if found.id == "banktransfer":  # a 12th day on a weekend moves to Monday
        weekday = datetime.fromtimestamp(at, UTC).weekday()
        at += {5: 2 * DAY, 6: DAY}.get(weekday, 0.0)
    return at


# -- recurring payments ------------------------------------------------------------------

#: Methods a first payment (`sequenceType: first`) may use, and the mandate its payment
#: leaves (https://docs.mollie.com/payments/recurring: cards give a card mandate, PayPal a
#: PayPal one, the bank methods a SEPA Direct Debit mandate on the paying account).
FIRST_PAYMENT_MANDATES: dict[str, str] = {
    "creditcard": "creditcard", "paypal": "paypal", "ideal": "directdebit",
    "bancontact": "directdebit", "belfius": "directdebit", "eps": "directdebit",
    "kbc": "directdebit",
}

#: The card a first card payment is paid with at the test checkout (Mollie shows the
#: last four digits and the label; the rest stands in for what its vault keeps).
TEST_CARD_BIN, TEST_CARD_LAST4, TEST_CARD_BRAND = "411111", "6787", "visa"
#: The test card expires at the end of the month this many years after the payment, so
#: a test can advance the clock past it and see the card's recurring payments fail.
TEST_CARD_YEARS = 2


def test_card(created: float) -> CardDetails:
    """The card of a first card payment made at `created`."""
    made = datetime.fromtimestamp(created, UTC)
    return CardDetails(brand=TEST_CARD_BRAND, last4=TEST_CARD_LAST4, bin=TEST_CARD_BIN,
                       exp_month=made.month, exp_year=made.year + TEST_CARD_YEARS,
                       country="NL")
