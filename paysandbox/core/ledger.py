"""The money a provider owes a merchant account: one ledger, in the core, that every
provider's balance, payout and settlement surface renders.

Each movement of funds is an `Entry` per account (a namespace, and within it the
sub-account a provider settles separately, such as an Adyen merchant account) and
settlement currency:
a captured charge (gross, less its fees), a refund, a chargeback's debit and its
reinstatement. An entry becomes available on a day after it was made (each provider's
usual settlement delay, on the virtual clock, at 00:00 UTC as providers date it); each
day's available funds are one `Payout` (see `payouts`), which names the entries it pays.

Pure data and arithmetic: what a charge's entry is, what the payouts and the balance
are. Reading entries from payments is paysandbox/ledger's; announcing payouts on the
clock is the engine's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from paysandbox.core.fees import Charged, FeeLine, Pricing, Rates

__all__ = ["Balance", "Entry", "EntryType", "Payout", "Settlement",
           "available_day", "balance", "charge_entry", "payouts"]

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
    negative when money leaves the balance). `source` is what made it (a capture,
    refund or dispute step); a converted one keeps what was charged and the
    rate. `sub_account` is the part of the account (a namespace) that settles it on
    its own, as the provider names it (an Adyen merchant account); "" for the whole."""

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
    sub_account: str = ""

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
                 settlement: Settlement, rates: Rates, sub_account: str = "") -> Entry:
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
                 rate, sub_account)


@dataclass(frozen=True, slots=True)
class Payout:
    """What an account is paid for one day: the funds that became available that day
    (its charges, less fees, refunds and chargebacks, plus what earlier days left
    owing), sent on that day and arriving `arrival_days` later. `entries` are the
    entries it pays out; `sub_account` the part of the account it pays (see Entry)."""

    id: str
    account: str
    provider: str
    currency: str
    amount: int
    created: float
    arrival: float
    entries: tuple[str, ...]
    failed: bool = False  # the bank refused it: its amount is back in the balance
    sub_account: str = ""

    def status(self, now: float) -> str:
        if self.failed:
            return "failed"
        return "paid" if self.arrival <= now else "in_transit"


def _payout_id(account: str, sub_account: str, provider: str, currency: str,
               day: float) -> str:
    key = f"{account}:{provider}:{currency}:{day}"
    if sub_account:
        key += f":{sub_account}"
    digest = hashlib.blake2b(key.encode(), digest_size=12)
    return "po_" + digest.hexdigest()


def payouts(entries: Iterable[Entry], now: float, *, arrival_days: int = 1) -> list[Payout]:
    """The daily payouts of one account's entries up to `now`, oldest first, one per
    sub-account and currency a day: each day whose funds (with what earlier days left)
    add up to more than nothing is paid out at 00:00 UTC; a day that adds up to nothing
    or less is carried to the next."""
    by_day: dict[tuple[str, str, str, str, float], list[Entry]] = {}
    for e in entries:
        if e.available_on <= now:
            day = e.available_on // DAY * DAY
            by_day.setdefault((e.account, e.sub_account, e.provider, e.currency, day),
                              []).append(e)
    out: list[Payout] = []
    carried: dict[tuple[str, str, str, str], tuple[int, list[str]]] = {}
    for key in sorted(by_day, key=lambda k: (k[4], k[1], k[3])):
        account, sub, provider, currency, day = key
        found = by_day[key]
        owed, ids = carried.get(key[:4], (0, []))
        owed += sum(e.net for e in found)
        ids = [*ids, *(e.id for e in found)]
        if owed > 0:
            out.append(Payout(_payout_id(account, sub, provider, currency, day), account,
                              provider, currency, owed, day, day + arrival_days * DAY,
                              tuple(ids), sub_account=sub))
            owed, ids = 0, []
        carried[key[:4]] = (owed, ids)
    return out


@dataclass(frozen=True, slots=True)
class Balance:
    """Per currency: what is available now (not yet paid out: what the daily payouts
    left owing) and what is still pending."""

    available: Mapping[str, int]
    pending: Mapping[str, int]


def balance(entries: Iterable[Entry], now: float, *, paid: Iterable[Payout] = ()) -> Balance:
    """An account's balance at `now`, less the payouts `paid` (see `payouts`)."""
    available: dict[str, int] = {}
    pending: dict[str, int] = {}
    for e in entries:
        into = available if e.available_on <= now else pending
        into[e.currency] = into.get(e.currency, 0) + e.net
    for p in paid:
        if not p.failed:
            available[p.currency] = available.get(p.currency, 0) - p.amount
    return Balance(available, pending)
