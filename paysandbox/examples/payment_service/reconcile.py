"""Reconciliation: what the acquirers report of our money, against our own books.

For each configured acquirer that publishes settlement data (Stripe's payouts and
balance transactions, Adyen's settlement details reports), the service reads what the
acquirer reports and compares it with what it expects from its own payments: every
capture and refund it made has one line, the line's amount is what the service charged
(converted at the service's own rates when the acquirer settles in another currency),
its fee is what the contracted pricing says, and each payout pays the net of its lines
and arrives when it should. Each difference is a discrepancy, named with a kind and the
acquirer's own id (balance transaction, pspReference, payout):

- `missing_line`: a capture or refund of ours with no line (its id is the payment's or
  refund's id at the acquirer: pi_…/re_…, the pspReference);
- `duplicated_line`: a line listed more than once;
- `fee_mismatch`: a line's fee is not what the pricing says;
- `fx_rounding`: a converted line's amount is not ours at our rates;
- `late_payout`: a payout that arrives (or is still in transit) after its expected
  arrival (its day plus `arrival_days`);
- `failed_payout`: a payout the bank refused;
- `partial_payout`: a payout whose amount is not the net of its lines (less the net of
  lines of ours missing from it).

Bounded: at most `max_lines` report lines (balance transactions, CSV rows) are read per
call (default 5,000); when the bound is hit the result says so (`truncated`).

The pricing and rates are the service's own configuration (by default the same numbers
as payments-sandbox's pricing.yaml and rates.yaml for Stripe and Adyen, copied here, not
imported: a real service has its contract's numbers).

LIMITATIONS: card payments only (fees of local methods are not priced); a chargeback's
lines are not expected from the books (they are listed as the acquirer reports them,
not compared); Adyen's settlement report has no payout status or arrival date, so late
and failed payouts are found at Stripe only.
"""

from __future__ import annotations

import base64
import csv
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import aiohttp

DAY = 86400
MAX_LINES = 5000
#: Currencies whose minor unit is not a hundredth (others: two decimals).
_EXPONENT = {"jpy": 0, "krw": 0, "clp": 0, "bhd": 3, "kwd": 3}


@dataclass(frozen=True)
class Pricing:
    """One acquirer's contract: `blended` (percent + fixed, more for foreign cards
    and conversions) or `interchange_plus_plus` (interchange by funding, scheme fee,
    markup, commission per transaction)."""

    model: str
    settlement_currency: str
    home_country: str
    percent: Decimal = Decimal(0)
    fixed: Mapping[str, int] = field(default_factory=dict)
    international_percent: Decimal = Decimal(0)
    fx_percent: Decimal = Decimal(0)
    interchange: Mapping[str, Decimal] = field(default_factory=dict)
    scheme_fee_percent: Decimal = Decimal(0)
    markup_percent: Decimal = Decimal(0)
    commission: Mapping[str, int] = field(default_factory=dict)
    delay_days: int = 2  # from a capture's day to the payout that pays it
    arrival_days: int = 1  # from a payout's day to the bank


def _pct(amount: int, rate: Decimal) -> int:
    return int((Decimal(amount) * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fee(p: Pricing, gross: int, *, foreign: bool, converted: bool,
        funding: str = "credit") -> int:
    """The fee of a charge of `gross` (settlement currency, minor units); each part
    rounded half up to a minor unit, as the acquirers' reports show them."""
    cur = p.settlement_currency
    if p.model == "blended":
        total = _pct(gross, p.percent) + p.fixed.get(cur, 0)
        if foreign:
            total += _pct(gross, p.international_percent)
        if converted:
            total += _pct(gross, p.fx_percent)
        return total
    band = "international" if foreign and "international" in p.interchange else funding
    rate = p.interchange.get(band, p.interchange.get("credit", Decimal(0)))
    return (_pct(gross, rate) + _pct(gross, p.scheme_fee_percent)
            + _pct(gross, p.markup_percent) + p.commission.get(cur, 0))


#: Units of each currency per euro (the service's treasury table).
RATES: Mapping[str, Decimal] = {k: Decimal(v) for k, v in {
    "eur": "1", "usd": "1.08", "gbp": "0.85", "brl": "5.9", "mxn": "18.5", "inr": "90.5",
    "kes": "140", "jpy": "161.5", "cad": "1.47", "aud": "1.65", "chf": "0.95",
    "sek": "11.4", "nok": "11.6", "dkk": "7.46", "pln": "4.3", "czk": "25.2"}.items()}

#: The contracted pricing, per acquirer.
PRICING: Mapping[str, Pricing] = {
    "stripe": Pricing("blended", "usd", "US", percent=Decimal("2.9"), fixed={"usd": 30},
                      international_percent=Decimal("1.5"), fx_percent=Decimal("1")),
    "adyen": Pricing("interchange_plus_plus", "eur", "NL",
                     interchange={"credit": Decimal("0.3"), "debit": Decimal("0.2"),
                                  "prepaid": Decimal("0.2"), "commercial": Decimal("1.5"),
                                  "international": Decimal("1.8")},
                     scheme_fee_percent=Decimal("0.1"), markup_percent=Decimal("0.6"),
                     commission={"eur": 13}),
}


def convert(amount: int, source: str, target: str,
            rates: Mapping[str, Decimal] = RATES) -> int:
    """`amount` minor units of `source` in minor units of `target`, half up."""
    source, target = source.lower(), target.lower()
    if source == target:
        return amount
    shift = _EXPONENT.get(target, 2) - _EXPONENT.get(source, 2)
    value = Decimal(amount) * rates[target] / rates[source] * Decimal(10) ** shift
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- what we expect, what they report ---------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """A capture or refund of ours that the acquirer should report as one line. `key`
    is how its line names it (a charge id, a pspReference, a refund id)."""

    key: str
    kind: str  # charge | refund
    provider_id: str  # what a missing line is reported by
    payment: str  # our payment id
    amount: int  # minor units of `currency`, positive
    currency: str
    card_country: str | None = None
    card_funding: str = "credit"
    at: int | None = None  # when it was made (unix), where the acquirer said


@dataclass(frozen=True)
class Line:
    """A line of the acquirer's report, in the settlement currency (signed)."""

    id: str  # the acquirer's id of the line
    key: str  # what it names of ours (see Expected.key)
    kind: str  # charge | refund | other
    amount: int
    fee: int
    net: int
    currency: str


@dataclass(frozen=True)
class ReportedPayout:
    id: str
    amount: int
    currency: str
    created: int
    arrival: int | None  # None where the report has no arrival date (Adyen)
    status: str  # in_transit | paid | failed | unknown
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    id: str
    provider: str
    detail: str
    payment: str | None = None


@dataclass
class Report:
    """What an acquirer reported (its lines, each once per listing) and its payouts."""

    lines: list[Line] = field(default_factory=list)
    payouts: list[ReportedPayout] = field(default_factory=list)
    read: int = 0
    truncated: bool = False


def compare(provider: str, expected: Sequence[Expected], report: Report, pricing: Pricing,
            now: int, *, rates: Mapping[str, Decimal] = RATES) -> list[Discrepancy]:
    """Every discrepancy between our books and an acquirer's report."""
    out: list[Discrepancy] = []
    seen = Counter(line.id for line in report.lines)
    for line_id, n in seen.items():
        if n > 1:
            out.append(Discrepancy("duplicated_line", line_id, provider,
                                   f"listed {n} times"))
    by_key: dict[str, Line] = {}
    for line in report.lines:
        by_key.setdefault(f"{line.kind}:{line.key}", line)
    target = pricing.settlement_currency
    missing: list[tuple[Expected, int]] = []  # and its expected net
    for e in expected:
        converted = e.currency.lower() != target
        gross = convert(e.amount, e.currency, target, rates)
        want_fee = fee(pricing, gross, converted=converted, funding=e.card_funding,
                       foreign=e.card_country is not None
                       and e.card_country.upper() != pricing.home_country) \
            if e.kind == "charge" else 0
        sign = 1 if e.kind == "charge" else -1
        line = by_key.get(f"{e.kind}:{e.key}")
        if line is None:
            out.append(Discrepancy("missing_line", e.provider_id, provider,
                                   f"our {e.kind} of {e.amount} {e.currency.upper()} "
                                   "has no line", e.payment))
            missing.append((e, sign * gross - want_fee))
            continue
        if line.amount != sign * gross:
            kind = "fx_rounding" if converted else "amount_mismatch"
            out.append(Discrepancy(kind, line.id, provider,
                                   f"amount {line.amount}, expected {sign * gross} "
                                   f"{target.upper()}", e.payment))
        if e.kind == "charge" and line.fee != want_fee:
            out.append(Discrepancy("fee_mismatch", line.id, provider,
                                   f"fee {line.fee}, expected {want_fee}", e.payment))
    out += _payouts(provider, report.payouts, missing, pricing, now)
    return out


def _payday(e: Expected, pricing: Pricing) -> int | None:
    """00:00 UTC of the day a capture (after the settlement delay) or a refund (at
    once) is paid out, when we know when it was made."""
    if e.at is None:
        return None
    return (e.at // DAY + (pricing.delay_days if e.kind == "charge" else 0)) * DAY


def _payouts(provider: str, payouts: Sequence[ReportedPayout],
             missing: list[tuple[Expected, int]], pricing: Pricing,
             now: int) -> list[Discrepancy]:
    """Payouts failed, late, or paying other than their lines' net. A line of ours
    missing from the report still moved money: its net is owed to the payout of its
    day (when we know when it was made), else to a payout short of exactly it."""
    out: list[Discrepancy] = []
    owed: dict[str, int] = {}
    unplaced: list[int] = []
    days = sorted((p.created, p.id) for p in payouts)
    for e, net in missing:
        day = _payday(e, pricing)
        payout = next((pid for created, pid in days if day is not None and created >= day),
                      None)
        if payout is None:
            unplaced.append(net)
        else:
            owed[payout] = owed.get(payout, 0) + net
    for p in payouts:
        if p.status == "failed":
            out.append(Discrepancy("failed_payout", p.id, provider,
                                   f"payout of {p.amount} {p.currency.upper()} failed"))
        due = p.created + pricing.arrival_days * DAY
        if p.arrival is not None and (p.arrival > due or (p.status == "in_transit"
                                                          and now > due)):
            out.append(Discrepancy("late_payout", p.id, provider,
                                   f"arrives at {p.arrival}, expected by {due}"))
        unique = {line.id: line for line in p.lines}
        short = sum(line.net for line in unique.values()) + owed.get(p.id, 0) - p.amount
        if short == 0:
            continue
        placed = _subset(unplaced, short)  # lines of ours it paid but does not list
        if placed is None:
            out.append(Discrepancy("partial_payout", p.id, provider,
                                   f"paid {p.amount}, its lines' net is {p.amount + short}"))
        else:
            for i in sorted(placed, reverse=True):
                del unplaced[i]
    return out


#: The sums `_subset` keeps at most while it looks for one.
SUBSET_STATES = 100_000


def _subset(values: Sequence[int], total: int) -> tuple[int, ...] | None:
    """Indexes of some of `values` adding up to -`total` (missing lines a payout paid
    leave its listed lines short by their net), or None; bounded by SUBSET_STATES."""
    reachable: dict[int, tuple[int, ...]] = {0: ()}
    for i, value in enumerate(values):
        for made, pick in list(reachable.items()):
            if len(reachable) >= SUBSET_STATES:
                break
            reachable.setdefault(made + value, (*pick, i))
        if -total in reachable:
            return reachable[-total] or None
    return reachable.get(-total) or None


# -- reading the acquirers --------------------------------------------------------------

class ReadError(Exception):
    """An acquirer's report could not be read."""


async def read_stripe(session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                      max_lines: int = MAX_LINES, timeout: float = 10.0) -> Report:
    """Stripe: every balance transaction (`GET /v1/balance_transactions`), every payout
    (`GET /v1/payouts`) and each payout's transactions (`?payout=po_…`), 100 a page."""
    headers = {"Authorization": f"Bearer {api_key}"}
    report = Report()

    async def listing(path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after: str | None = None
        while report.read < max_lines:
            query = {**params, "limit": "100", **({"starting_after": after} if after else {})}
            async with session.get(f"{base_url}{path}", params=query, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                body = await r.json(content_type=None)
                if r.status != 200:
                    raise ReadError(f"stripe GET {path}: {r.status} {body}")
            data = body["data"]
            found += data
            report.read += len(data)
            if not body.get("has_more") or not data:
                return found
            after = data[-1]["id"]
        report.truncated = True
        return found

    def line(t: Mapping[str, Any]) -> Line:
        kind = t["type"] if t["type"] in ("charge", "refund") else "other"
        return Line(t["id"], str(t.get("source") or ""), kind, int(t["amount"]),
                    int(t["fee"]), int(t["net"]), t["currency"])

    def funds(t: Mapping[str, Any]) -> bool:
        """Not the payouts' own transactions (payout, payout_failure, payout_cancel…)."""
        return not str(t["type"]).startswith("payout")

    report.lines = [line(t) for t in await listing("/v1/balance_transactions", {})
                    if funds(t)]
    for p in await listing("/v1/payouts", {}):
        lines = [line(t) for t in await listing("/v1/balance_transactions",
                                                {"payout": p["id"]}) if funds(t)]
        report.payouts.append(ReportedPayout(p["id"], int(p["amount"]), p["currency"],
                                             int(p["created"]), int(p["arrival_date"]),
                                             p["status"], tuple(lines)))
    report.payouts.sort(key=lambda p: p.created)
    return report


def _minor(value: str, code: str) -> int:
    if not value:
        return 0
    exponent = _EXPONENT.get(code.lower(), 2)
    try:
        return int((Decimal(value) * Decimal(10) ** exponent).quantize(Decimal(1)))
    except ArithmeticError:
        raise ReadError(f"not an amount in a settlement report: {value!r}") from None


_ADYEN_KINDS = {"Settled": "charge", "Refunded": "refund"}
_ADYEN_FEES = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")


def parse_settlement_detail_report(text: str, batch: int) -> ReportedPayout:
    """One batch of Adyen's Settlement details report (CSV with a header row): its
    transaction lines, and the MerchantPayout line as the payout. A Settled line is
    keyed by its Psp Reference (the payment's), a Refunded line by its Modification
    Reference (the refund's pspReference)."""
    lines: list[Line] = []
    paid, currency, created = 0, "", 0
    for row in csv.DictReader(io.StringIO(text)):
        kind = row.get("Type", "")
        code = row.get("Net Currency", "")
        net = _minor(row.get("Net Credit (NC)", ""), code) \
            - _minor(row.get("Net Debit (NC)", ""), code)
        if kind == "MerchantPayout":
            paid, currency = -net, code.lower()
            continue
        gross_code = row.get("Gross Currency", "") or code
        if gross_code.upper() == code.upper():
            gross = _minor(row.get("Gross Credit (GC)", ""), code) \
                - _minor(row.get("Gross Debit (GC)", ""), code)
        else:  # converted: the net currency's gross is net plus the fees
            gross = 0
        fees = sum(_minor(row.get(c, ""), code) for c in _ADYEN_FEES)
        if gross == 0:
            gross = net + fees
        which = _ADYEN_KINDS.get(kind, "other")
        psp, modification = row.get("Psp Reference", ""), row.get("Modification Reference", "")
        key = modification if which == "refund" else psp
        lines.append(Line(key, key, which, gross, fees, net, code.lower()))
    return ReportedPayout(f"batch_{batch}", paid, currency, created, None, "unknown",
                          tuple(lines))


async def read_adyen(session: aiohttp.ClientSession, reports_url: str, merchant: str,
                     user: str, password: str, *, max_lines: int = MAX_LINES,
                     timeout: float = 10.0) -> Report:
    """Adyen: settlement_detail_report_batch_1.csv, 2, … until one is not there (404)."""
    report = Report()
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    batch = 1
    while report.read < max_lines:
        url = f"{reports_url}/MerchantAccount/{merchant}/" \
              f"settlement_detail_report_batch_{batch}.csv"
        async with session.get(url, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            if r.status == 404:
                return report
            text = await r.text()
            if r.status != 200:
                raise ReadError(f"adyen report batch {batch}: {r.status} {text[:200]}")
        payout = parse_settlement_detail_report(text, batch)
        report.payouts.append(payout)
        report.lines += payout.lines
        report.read += len(payout.lines) + 1
        batch += 1
    report.truncated = True
    return report


def view(provider: str, found: Sequence[Discrepancy], report: Report) -> dict[str, Any]:
    return {"provider": provider, "lines_read": report.read, "truncated": report.truncated,
            "payouts": len(report.payouts),
            "discrepancies": [asdict(d) for d in found]}
