"""The money a provider owes a merchant account: one ledger, in the core, that every
provider's balance, payout and settlement surface renders.

Each movement of funds is an `Entry` per account (a namespace) and settlement currency:
a captured charge (gross, less its fees), a refund, a chargeback's debit and its
reinstatement, a payout and a failed payout's return. An entry becomes available on a
day after it was made (each provider's usual settlement delay, on the virtual clock, at
00:00 UTC as providers date it); a payout takes what is available.

Pure data and arithmetic: what the entries are for a state change, what a balance is,
what a payout takes. Keeping entries (the store) and scheduling payouts (the clock) are
the engine's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from paysandbox.core.fees import Charged, FeeLine, Pricing, Rates

__all__ = ["Balance", "Entry", "EntryType", "Settlement", "available_day", "balance",
           "charge_entry", "payout_entry"]

DAY = 86400.0


class EntryType(StrEnum):
    CHARGE = "charge"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSAL = "chargeback_reversal"
    PAYOUT = "payout"
    PAYOUT_FAILURE = "payout_failure"


@dataclass(frozen=True, slots=True)
class Entry:
    """One movement of funds, in the account's settlement currency (minor units;
    negative when money leaves the balance). `source` is what made it (a payment,
    refund, dispute or payout id); a converted one keeps what was charged and the
    rate."""

    id: str
    account: str
    provider: str
    type: EntryType
    source: str
    payment_id: str | None
    currency: str
    amount: int  # gross
    fees: tuple[FeeLine, ...]
    created: float
    available_on: float
    original_amount: int | None = None
    original_currency: str | None = None
    exchange_rate: Decimal | None = None
    payout: str | None = None  # the payout that took it

    @property
    def fee(self) -> int:
        return sum(f.amount for f in self.fees)

    @property
    def net(self) -> int:
        return self.amount - self.fee


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a provider settles an account: the settlement currency, the days before a
    charge is available, and the country whose cards are domestic."""

    currency: str
    delay_days: int
    country: str = "US"


def available_day(created: float, delay_days: int) -> float:
    """00:00 UTC of the day `delay_days` after `created`'s day."""
    return (created // DAY + delay_days) * DAY


def charge_entry(entry_id: str, *, account: str, provider: str, payment_id: str,
                 amount: int, currency: str, method: str, funding: str,
                 card_country: str | None, created: float, pricing: Pricing,
                 settlement: Settlement, rates: Rates) -> Entry:
    """A captured charge: converted to the settlement currency if need be, priced."""
    target = settlement.currency.lower()
    converted = currency.lower() != target
    gross, rate = (rates.convert(amount, currency, target) if converted
                   else (amount, None))
    foreign = card_country is not None and card_country.upper() != settlement.country
    fees = pricing.fee(Charged(gross, target, method, funding, foreign, converted))
    return Entry(entry_id, account, provider, EntryType.CHARGE, payment_id, payment_id,
                 target, gross, fees, created,
                 available_day(created, settlement.delay_days),
                 amount if converted else None, currency.lower() if converted else None,
                 rate)


def payout_entry(entry_id: str, *, account: str, provider: str, currency: str,
                 amount: int, created: float) -> Entry:
    """A payout of `amount` (what was available) to the account's bank."""
    return Entry(entry_id, account, provider, EntryType.PAYOUT, entry_id, None, currency,
                 -amount, (), created, created, payout=entry_id)


@dataclass(frozen=True, slots=True)
class Balance:
    """Per currency: what is available now and what is still pending."""

    available: Mapping[str, int]
    pending: Mapping[str, int]


def balance(entries: Iterable[Entry], now: float) -> Balance:
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    for e in entries:
        into = available if e.available_on <= now else pending
        into[e.currency] = into.get(e.currency, 0) + e.net
    return Balance(available, pending)
