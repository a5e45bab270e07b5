"""Card numbers: Luhn, brand detection, masking and expiry.

Masking lives here so that nothing downstream (logs, admin views, reprs)
ever needs to handle a full PAN: callers reach for ``Card.masked`` or
``redact_pans`` instead of formatting numbers themselves.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = [
    "PAN_PATTERN",
    "Brand",
    "Card",
    "card_fingerprint",
    "detect_brand",
    "digits_only",
    "is_expired",
    "luhn_valid",
    "mask",
    "redact_pans",
]


class Brand(StrEnum):
    """Card network, with values as Stripe spells them."""

    VISA = "visa"
    MASTERCARD = "mastercard"
    AMEX = "amex"
    DISCOVER = "discover"
    JCB = "jcb"
    DINERS = "diners"
    UNIONPAY = "unionpay"
    MAESTRO = "maestro"
    UNKNOWN = "unknown"


_DIGITS = re.compile(r"[0-9]+")
_SEPARATORS = str.maketrans("", "", " -")


def digits_only(number: str) -> str:
    """Strip spaces and dashes; return "" if anything else is not an ASCII digit."""
    if not isinstance(number, str):
        return ""
    stripped = number.translate(_SEPARATORS)
    return stripped if _DIGITS.fullmatch(stripped) else ""


def _luhn_sum_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_valid(number: str) -> bool:
    """Whether ``number`` is 12-19 digits and passes the Luhn (mod 10) check."""
    digits = digits_only(number)
    return 12 <= len(digits) <= 19 and _luhn_sum_ok(digits)


# (first prefix, last prefix, brand); all prefixes in one row share a length.
# Ranges follow the networks' published IIN tables. 622126-622925 is listed by
# Discover too, but those cards are issued by UnionPay (Discover only accepts
# them on its network) and Stripe reports them as unionpay, so the plain
# UnionPay "62" prefix is left to decide them.
_RANGES: tuple[tuple[str, str, Brand], ...] = (
    ("4", "4", Brand.VISA),
    ("51", "55", Brand.MASTERCARD),
    ("2221", "2720", Brand.MASTERCARD),
    ("34", "34", Brand.AMEX),
    ("37", "37", Brand.AMEX),
    ("6011", "6011", Brand.DISCOVER),
    ("644", "649", Brand.DISCOVER),
    ("65", "65", Brand.DISCOVER),
    ("3528", "3589", Brand.JCB),
    ("300", "305", Brand.DINERS),
    ("3095", "3095", Brand.DINERS),
    ("36", "36", Brand.DINERS),
    ("38", "39", Brand.DINERS),
    ("62", "62", Brand.UNIONPAY),
    ("81", "81", Brand.UNIONPAY),
    ("50", "50", Brand.MAESTRO),
    ("56", "58", Brand.MAESTRO),
    ("6304", "6304", Brand.MAESTRO),
    ("6759", "6759", Brand.MAESTRO),
    ("6761", "6763", Brand.MAESTRO),
    ("676770", "676770", Brand.MAESTRO),
    ("676774", "676774", Brand.MAESTRO),
)

# Longest prefixes first, so the first hit is the most specific one.
_BY_LENGTH: tuple[tuple[int, int, int, Brand], ...] = tuple(
    sorted(
        ((len(lo), int(lo), int(hi), brand) for lo, hi, brand in _RANGES),
        key=lambda row: -row[0],
    )
)


def detect_brand(number: str) -> Brand:
    """Brand from the IIN ranges; longest matching prefix wins.

    Works on a bare BIN (6 or 8 digits) as well as a full number; input too
    short to decide returns ``Brand.UNKNOWN``.
    """
    digits = digits_only(number)
    for length, low, high, brand in _BY_LENGTH:
        if len(digits) >= length and low <= int(digits[:length]) <= high:
            return brand
    return Brand.UNKNOWN


def mask(number: str) -> str:
    """Hide a card number, keeping at most the first 6 and last 4 digits.

    Numbers of 13+ digits keep BIN and last4 (the PCI DSS display limit);
    anything shorter keeps only the last 4.
    """
    text = digits_only(number) or (number if isinstance(number, str) else "")
    if len(text) >= 13:
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    return "*" * max(0, len(text) - 4) + text[-4:]


PAN_PATTERN: re.Pattern[str] = re.compile(r"\b[0-9]{13,19}\b")

#: A run of digits in groups joined by single separators, as a shopper types a card
#: number and the providers accept it: spaces, dashes, and in a form body `+` or `%20`.
_GROUPED_DIGITS = re.compile(r"(?<![0-9A-Za-z_])[0-9]+(?:(?:[ +-]|%20)[0-9]+)*(?![0-9A-Za-z_])")
_SEPARATOR = re.compile(r"([ +-]|%20)")


def redact_pans(text: str) -> str:
    """Mask every card number in ``text``: 13-19 digits passing Luhn, written as one
    run or in groups with spaces or dashes between them (``4242 4242 4242 4242``).

    Digits failing Luhn (ids, timestamps, amounts) are left alone so redacted logs stay
    readable.
    """
    if len(text) < 13:
        return text
    return _GROUPED_DIGITS.sub(_redact_run, text)


def _redact_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if len(run) < 13:
        return run
    if run.isdigit():
        return mask(run) if len(run) <= 19 and _luhn_sum_ok(run) else run
    parts = _SEPARATOR.split(run)  # digits, separator, digits, …
    groups, separators = parts[0::2], parts[1::2]
    out: list[str] = []
    i = 0
    while i < len(groups):
        digits, end = groups[i], -1
        for j in range(i, len(groups)):
            if j > i:
                digits += groups[j]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _luhn_sum_ok(digits):
                end = j
                break
        if end < 0:
            out.append(groups[i])
            end = i
        else:
            out.append(mask(digits))
        if end < len(separators):
            out.append(separators[end])
        i = end + 1
    return "".join(out)


def card_fingerprint(number: str, key: bytes, length: int = 16) -> str:
    """A stable id of a card number that cannot be turned back into it: an HMAC keyed
    with the install's own key (paysandbox.store `secret`), never a bare hash, which
    BIN and last4 beside it would let anyone reverse in a second."""
    return hmac.new(key, digits_only(number).encode(), hashlib.sha256).hexdigest()[:length]


def is_expired(exp_month: int, exp_year: int, now: datetime) -> bool:
    """Whether the card has expired at ``now``.

    A card is valid through the last day of its expiry month; two-digit
    years mean 20YY. The month is compared in ``now``'s own time zone.
    Raises ValueError for a month outside 1-12 or a negative year, since that
    is malformed input rather than an expired card.
    """
    if isinstance(exp_month, bool) or not isinstance(exp_month, int) or not 1 <= exp_month <= 12:
        raise ValueError(f"Expiry month must be an integer from 1 to 12, got {exp_month!r}")
    if isinstance(exp_year, bool) or not isinstance(exp_year, int) or exp_year < 0:
        raise ValueError(
            f"Expiry year must be a non-negative integer (e.g. 2030 or 30), got {exp_year!r}"
        )
    year = 2000 + exp_year if exp_year < 100 else exp_year
    return (now.year, now.month) > (year, exp_month)


@dataclass(frozen=True, slots=True, repr=False)
class Card:
    """Card details as submitted; the repr never shows the PAN or the CVC."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str | None = None

    @property
    def brand(self) -> Brand:
        return detect_brand(self.number)

    @property
    def last4(self) -> str:
        return digits_only(self.number)[-4:]

    @property
    def bin(self) -> str:
        return digits_only(self.number)[:6]

    @property
    def masked(self) -> str:
        return mask(self.number)

    def __repr__(self) -> str:
        return (
            f"Card(number={self.masked!r}, exp_month={self.exp_month!r}, "
            f"exp_year={self.exp_year!r}, brand={self.brand.value!r})"
        )
