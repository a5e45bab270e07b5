"""Currencies and amounts in minor units, backed by the ISO 4217 table.

Every provider API we imitate carries amounts as integers in the currency's
minor unit (cents, yen, fils), so the exponent of each currency decides how an
amount reads to a person. The table comes from the ``iso4217`` package so it
follows ISO updates instead of a hand-maintained copy.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal

from iso4217 import Currency as _Iso

__all__ = [
    "Currency",
    "InvalidAmount",
    "UnknownCurrency",
    "currency",
    "format_amount",
    "is_currency",
    "to_major",
    "validate_amount",
]


@dataclass(frozen=True, slots=True)
class Currency:
    """A payable ISO 4217 currency."""

    code: str  # upper-case ISO code, e.g. "USD"
    minor_units: int  # decimal exponent: 2 for USD, 0 for JPY, 3 for KWD
    name: str


def _build_table() -> dict[str, Currency]:
    # Codes without a minor unit (gold, SDR, the test code XTS...) cannot be
    # charged, so they are left out rather than given a made-up exponent.
    table: dict[str, Currency] = {}
    for iso in _Iso:
        if iso.exponent is None:
            continue
        table[iso.code.lower()] = Currency(iso.code.upper(), iso.exponent, iso.currency_name)
    return table


_TABLE: dict[str, Currency] = _build_table()

# Breaks ties between equally close suggestions in favour of the currencies
# people actually type, so "usx" suggests usd rather than the USN funds code.
_COMMON = ("usd", "eur", "gbp", "jpy", "cad", "aud", "chf", "cny", "inr", "sek", "nzd", "mxn")


class UnknownCurrency(ValueError):
    """Raised for a currency code that is not a payable ISO 4217 currency."""

    def __init__(self, code: object) -> None:
        self.code: str = code if isinstance(code, str) else repr(code)
        if isinstance(code, str):
            message = (
                f"Unknown currency {code!r}. "
                "Use a three-letter ISO 4217 code, for example usd or eur."
            )
            suggestion = _suggest(code)
            if suggestion is not None:
                message += f" Did you mean {suggestion!r}?"
        else:
            message = (
                f"Unknown currency {code!r} (a {type(code).__name__}). "
                "Use a three-letter ISO 4217 code string, for example usd or eur."
            )
        super().__init__(message)


def _suggest(code: str) -> str | None:
    needle = code.strip().lower()
    if not needle:
        return None
    scored: list[tuple[float, int, str]] = []
    for candidate in _TABLE:
        ratio = difflib.SequenceMatcher(None, needle, candidate).ratio()
        if ratio >= 0.6:
            rank = _COMMON.index(candidate) if candidate in _COMMON else len(_COMMON)
            scored.append((-ratio, rank, candidate))
    return min(scored)[2] if scored else None


def currency(code: str) -> Currency:
    """Look up a currency by code, ignoring case and surrounding whitespace."""
    if not isinstance(code, str):
        raise UnknownCurrency(code)
    found = _TABLE.get(code.strip().lower())
    if found is None:
        raise UnknownCurrency(code)
    return found


def is_currency(code: str) -> bool:
    """Whether ``code`` names a payable currency (never raises)."""
    return isinstance(code, str) and code.strip().lower() in _TABLE


class InvalidAmount(ValueError):
    """Raised for an amount that is not a whole number of minor units."""

    def __init__(self, value: object, message: str) -> None:
        self.value: object = value
        super().__init__(message)


_EXAMPLE = "(e.g. 1050 for 10.50 USD)"


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"{value!r} (a boolean)"
    if isinstance(value, float):
        return f"{value!r} (a float; send whole minor units, not a decimal amount)"
    if isinstance(value, int):
        return repr(value)
    return f"{value!r} (a {type(value).__name__})"


def validate_amount(amount: object, *, minimum: int = 0) -> int:
    """Return ``amount`` if it is an int (not bool) of at least ``minimum``.

    Floats and numeric strings are refused on purpose: the real APIs take
    integers in the minor unit, and accepting ``10.5`` would hide the most
    common integration bug (sending major units).
    """
    if minimum == 0:
        expected = "a non-negative integer"
    elif minimum == 1:
        expected = "a positive integer"
    else:
        expected = f"an integer of at least {minimum}"
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < minimum:
        raise InvalidAmount(
            amount,
            f"Amount must be {expected} in the currency's minor unit {_EXAMPLE}, "
            f"got {_describe(amount)}",
        )
    return amount


def _require_int(amount_minor: object) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise InvalidAmount(
            amount_minor,
            f"Amount must be an integer in the currency's minor unit {_EXAMPLE}, "
            f"got {_describe(amount_minor)}",
        )
    return amount_minor


def to_major(amount_minor: int, code: str) -> Decimal:
    """Convert minor units to an exact Decimal in major units.

    The result keeps the currency's exponent (1000 USD -> ``10.00``), so it
    prints the way the currency is written. Negative amounts are allowed.
    """
    amount = _require_int(amount_minor)
    exponent = currency(code).minor_units
    # Built from a string so no Decimal context precision can round huge values.
    return Decimal(f"{amount}E-{exponent}")


def format_amount(amount_minor: int, code: str) -> str:
    """Render an amount for humans and logs, e.g. ``"10.50 USD"``."""
    cur = currency(code)
    return f"{to_major(amount_minor, cur.code):f} {cur.code}"
