"""What a provider charges for a payment, and what a currency is worth in another.

Three pricing models, as the imitated providers price cards and local methods:

- `Blended`: one rate for every card, plus a fixed fee per currency (Stripe's standard
  pricing), more for a card from another country, more again when the charge is
  converted to the account's settlement currency;
- `InterchangePlusPlus`: the issuer's interchange (by the card's funding and whether it
  is from another region), the scheme's fee, the acquirer's markup and a fixed
  commission per currency, each shown apart (Adyen's pricing);
- `PerMethod`: a fixed fee (and, for some methods, a rate) per payment method and
  currency (Mollie's pricing).

Each model may add a tax on its fees (`tax_percent`: India's 18% GST on Razorpay's
fees), a fee line of its own. Rates are percentages as Decimals; every fee is rounded
to the settlement currency's minor units, half up, per fee line, so a report's lines
add up to its total exactly.
`Rates` converts between currencies from a table the user can replace (units of each
currency per one unit of the base currency): deterministic, never fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from paysandbox.core.money import currency

__all__ = ["Blended", "Charged", "FeeLine", "InterchangePlusPlus", "PerMethod", "Pricing",
           "Rates", "round_minor"]

_HUNDRED = Decimal(100)


def round_minor(amount: Decimal) -> int:
    """An amount already in minor units, rounded half up to a whole one."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class FeeLine:
    """One part of a fee, in the settlement currency's minor units."""

    kind: str  # processing, interchange, scheme_fee, markup, commission, fx, international
    amount: int
    description: str


@dataclass(frozen=True, slots=True)
class Charged:
    """What a payment is priced on: its amount in the settlement currency (minor
    units), its method, the card's funding and whether the card is foreign (issued in
    another country than the account's), and whether it was converted."""

    amount: int
    currency: str
    method: str = "card"
    funding: str = "credit"
    foreign: bool = False
    converted: bool = False


def _percent(amount: int, rate: Decimal) -> int:
    return round_minor(Decimal(amount) * rate / _HUNDRED)


def _taxed(lines: list[FeeLine], tax_percent: Decimal) -> tuple[FeeLine, ...]:
    """The fee lines, and the tax on their sum as one more line when there is one."""
    if tax_percent:
        lines.append(FeeLine("tax", _percent(sum(f.amount for f in lines), tax_percent),
                             f"{tax_percent}% tax on fees"))
    return tuple(lines)


def _fixed(table: Mapping[str, int], code: str, what: str) -> int:
    try:
        return table[code.lower()]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise LookupError(f"the pricing has no {what} for {code.upper()} (it has: "
                          f"{known})") from None


@dataclass(frozen=True, slots=True)
class Blended:
    percent: Decimal
    fixed: Mapping[str, int]
    international_percent: Decimal = Decimal(0)
    fx_percent: Decimal = Decimal(0)
    tax_percent: Decimal = Decimal(0)

    def fee(self, c: Charged) -> tuple[FeeLine, ...]:
        lines = [FeeLine("processing", _percent(c.amount, self.percent)
                         + _fixed(self.fixed, c.currency, "fixed fee"),
                         f"{self.percent}% + fixed per charge")]
        if c.foreign and self.international_percent:
            lines.append(FeeLine("international", _percent(c.amount,
                                                           self.international_percent),
                                 f"{self.international_percent}% for an international card"))
        if c.converted and self.fx_percent:
            lines.append(FeeLine("fx", _percent(c.amount, self.fx_percent),
                                 f"{self.fx_percent}% currency conversion"))
        return _taxed(lines, self.tax_percent)


@dataclass(frozen=True, slots=True)
class InterchangePlusPlus:
    #: Interchange by the card's funding (credit, debit, prepaid, commercial);
    #: `international` replaces it for a card from another region.
    interchange: Mapping[str, Decimal]
    scheme_fee_percent: Decimal
    markup_percent: Decimal
    commission: Mapping[str, int]
    tax_percent: Decimal = Decimal(0)

    def fee(self, c: Charged) -> tuple[FeeLine, ...]:
        funding = "international" if c.foreign and "international" in self.interchange \
            else c.funding
        rate = self.interchange.get(funding, self.interchange.get("credit", Decimal(0)))
        return _taxed([
            FeeLine("interchange", _percent(c.amount, rate),
                    f"interchange {rate}% ({funding})"),
            FeeLine("scheme_fee", _percent(c.amount, self.scheme_fee_percent),
                    f"scheme fee {self.scheme_fee_percent}%"),
            FeeLine("markup", _percent(c.amount, self.markup_percent),
                    f"markup {self.markup_percent}%"),
            FeeLine("commission", _fixed(self.commission, c.currency, "commission"),
                    "commission per transaction"),
        ], self.tax_percent)


@dataclass(frozen=True, slots=True)
class MethodPrice:
    fixed: Mapping[str, int] = field(default_factory=dict)
    percent: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class PerMethod:
    methods: Mapping[str, MethodPrice]
    tax_percent: Decimal = Decimal(0)

    def fee(self, c: Charged) -> tuple[FeeLine, ...]:
        price = self.methods.get(c.method) or self.methods.get("default")
        if price is None:
            raise LookupError(f"the pricing has no price for the method {c.method!r} "
                              f"(it has: {', '.join(sorted(self.methods))})")
        amount = _percent(c.amount, price.percent) if price.percent else 0
        if price.fixed:
            amount += _fixed(price.fixed, c.currency, f"fixed fee for {c.method}")
        return _taxed([FeeLine("processing", amount, f"{c.method}: fixed per payment"
                               + (f" + {price.percent}%" if price.percent else ""))],
                      self.tax_percent)


Pricing = Blended | InterchangePlusPlus | PerMethod


@dataclass(frozen=True, slots=True)
class Rates:
    """Units of each currency per one unit of `base` (lower-case codes)."""

    base: str
    per_base: Mapping[str, Decimal]

    def rate(self, source: str, target: str) -> Decimal:
        """Units of `target` one unit of `source` buys."""
        source, target = source.lower(), target.lower()
        if source == target:
            return Decimal(1)
        try:
            return self.per_base[target] / self.per_base[source]
        except KeyError as exc:
            raise LookupError(f"the exchange rates have no rate for "
                              f"{str(exc.args[0]).upper()} (base {self.base.upper()})") \
                from None

    def convert(self, amount: int, source: str, target: str) -> tuple[int, Decimal]:
        """`amount` (minor units of `source`) in minor units of `target`, rounded half
        up to `target`'s minor units, and the rate used (rounded to 6 places, as
        reports show it; the conversion uses it unrounded)."""
        rate = self.rate(source, target)
        shift = currency(target).minor_units - currency(source).minor_units
        value = Decimal(amount) * rate * Decimal(10) ** shift
        return round_minor(value), rate.quantize(Decimal("0.000001"),
                                                 rounding=ROUND_HALF_UP)
