"""Boleto bancário numbers: the 44-digit barcode and its 47-digit digitable line.

FEBRABAN layout: bank (3), currency 9 (1), general check digit (1, mod 11), due-date
factor (4), amount in cents (10), free field (25). The digitable line regroups the
barcode into five fields, the first three each closed by a mod-10 check digit.
The due-date factor counts days from 1997-10-07; having reached 9999 on 2025-02-21 it
starts again at 1000 on 2025-02-22 (FEBRABAN's factor reset).
"""

from __future__ import annotations

from datetime import date

BASE = date(1997, 10, 7)
BRADESCO = "237"
MAX_CENTS = 9_999_999_999


def due_factor(due: date) -> int:
    days = (due - BASE).days
    if days < 1000:
        raise ValueError(f"{due} is before the first valid due date factor")
    if days <= 9999:
        return days
    return (days - 10000) % 9000 + 1000


def mod10(digits: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n // 10 + n % 10
    return (10 - total % 10) % 10


def mod11(digits: str) -> int:
    """The barcode's general check digit: weights 2..9 from the right; 0, 10, 11 -> 1."""
    total = sum(int(ch) * (2 + i % 8) for i, ch in enumerate(reversed(digits)))
    dv = 11 - total % 11
    return 1 if dv in (0, 10, 11) else dv


def barcode(*, cents: int, due: date, free_field: str, bank: str = BRADESCO) -> str:
    if not 0 <= cents <= MAX_CENTS:
        raise ValueError("a boleto carries at most 99,999,999.99")
    if len(free_field) != 25 or not free_field.isdigit():
        raise ValueError("the free field is 25 digits")
    body = f"{bank}9{due_factor(due):04d}{cents:010d}{free_field}"
    return body[:4] + str(mod11(body)) + body[4:]


def digitable_line(code: str) -> str:
    """The 47 digits a payer types, from a 44-digit barcode."""
    if len(code) != 44 or not code.isdigit():
        raise ValueError("a boleto barcode is 44 digits")
    f1 = code[0:4] + code[19:24]
    f2 = code[24:34]
    f3 = code[34:44]
    return (f1 + str(mod10(f1)) + f2 + str(mod10(f2)) + f3 + str(mod10(f3))
            + code[4] + code[5:19])


def formatted(line: str) -> str:
    """`23790.12345 60000.000003 ...` as printed on the slip."""
    return (f"{line[0:5]}.{line[5:10]} {line[10:15]}.{line[15:21]} "
            f"{line[21:26]}.{line[26:32]} {line[32]} {line[33:]}")


def bradesco_free_field(our_number: int) -> str:
    """Agency (4), portfolio (2), our number (11), account (7), zero (1)."""
    return f"3381{9:02d}{our_number % 10**11:011d}{1234567:07d}0"
