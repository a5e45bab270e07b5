from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paysandbox.core.money import (
    Currency,
    InvalidAmount,
    UnknownCurrency,
    currency,
    format_amount,
    is_currency,
    to_major,
    validate_amount,
)


@pytest.mark.parametrize(
    ("code", "minor_units"),
    [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("BHD", 3), ("CLP", 0), ("KRW", 0)],
)
def test_minor_units_follow_iso_4217(code: str, minor_units: int) -> None:
    assert currency(code).minor_units == minor_units


def test_lookup_is_case_insensitive_and_returns_upper_case_code() -> None:
    usd = currency("usd")
    assert usd == currency("USD") == currency(" Usd ")
    assert usd == Currency("USD", 2, "US Dollar")


def test_lookup_is_cached() -> None:
    assert currency("eur") is currency("EUR")


@pytest.mark.parametrize("code", ["XAU", "xts", "XXX", "XDR"])
def test_codes_without_minor_unit_are_not_payable(code: str) -> None:
    assert not is_currency(code)
    with pytest.raises(UnknownCurrency):
        currency(code)


def test_unknown_currency_message_and_suggestion() -> None:
    with pytest.raises(UnknownCurrency) as info:
        currency("usx")
    assert info.value.code == "usx"
    assert str(info.value) == (
        "Unknown currency 'usx'. Use a three-letter ISO 4217 code, for example usd or eur."
        " Did you mean 'usd'?"
    )


def test_unknown_currency_without_close_match_has_no_suggestion() -> None:
    with pytest.raises(UnknownCurrency) as info:
        currency("XYZ")
    assert info.value.code == "XYZ"
    assert "Did you mean" not in str(info.value)
    assert "ISO 4217" in str(info.value)


@pytest.mark.parametrize(("typo", "meant"), [("eru", "eur"), ("jyp", "jpy"), ("gpb", "gbp")])
def test_transposed_letters_suggest_the_intended_code(typo: str, meant: str) -> None:
    with pytest.raises(UnknownCurrency, match=f"Did you mean '{meant}'"):
        currency(typo)


@pytest.mark.parametrize("bad", ["", "   ", None, 840, b"usd"])
def test_empty_or_non_string_codes_are_unknown(bad: object) -> None:
    with pytest.raises(UnknownCurrency):
        currency(bad)  # type: ignore[arg-type]
    assert not is_currency(bad)  # type: ignore[arg-type]


def test_unknown_currency_is_a_value_error() -> None:
    assert issubclass(UnknownCurrency, ValueError)


@pytest.mark.parametrize(
    ("amount", "code", "expected"),
    [
        (1050, "usd", Decimal("10.50")),
        (1050, "JPY", Decimal("1050")),
        (1050, "kwd", Decimal("1.050")),
        (5, "usd", Decimal("0.05")),
        (0, "usd", Decimal("0.00")),
        (-250, "eur", Decimal("-2.50")),
    ],
)
def test_to_major(amount: int, code: str, expected: Decimal) -> None:
    result = to_major(amount, code)
    assert result == expected
    # The exponent is kept so the value prints like the currency is written.
    assert str(result) == str(expected)


def test_to_major_is_exact_for_huge_amounts() -> None:
    assert str(to_major(10**40 + 1, "usd")) == f"{10**38}.01"


@pytest.mark.parametrize(
    ("amount", "code", "expected"),
    [
        (1050, "usd", "10.50 USD"),
        (1050, "jpy", "1050 JPY"),
        (1050, "KWD", "1.050 KWD"),
        (100000000, "usd", "1000000.00 USD"),
        (1, "bhd", "0.001 BHD"),
    ],
)
def test_format_amount(amount: int, code: str, expected: str) -> None:
    assert format_amount(amount, code) == expected


def test_format_amount_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency):
        format_amount(100, "abc")


@pytest.mark.parametrize("bad", [10.5, True, "1050", None])
def test_to_major_rejects_non_integers(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        to_major(bad, "usd")  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**30), max_value=10**30), st.sampled_from(["usd", "jpy", "kwd"]))
def test_to_major_round_trips(amount: int, code: str) -> None:
    sign, digits, exponent = to_major(amount, code).as_tuple()
    assert exponent == -currency(code).minor_units
    assert (-1 if sign else 1) * int("".join(map(str, digits))) == amount


def test_validate_amount_accepts_ints() -> None:
    assert validate_amount(0) == 0
    assert validate_amount(1050) == 1050
    assert validate_amount(50, minimum=50) == 50


def test_validate_amount_negative_message() -> None:
    with pytest.raises(InvalidAmount) as info:
        validate_amount(-5)
    assert info.value.value == -5
    assert str(info.value) == (
        "Amount must be a non-negative integer in the currency's minor unit "
        "(e.g. 1050 for 10.50 USD), got -5"
    )


def test_validate_amount_below_minimum_names_the_minimum() -> None:
    with pytest.raises(InvalidAmount, match="at least 50") as info:
        validate_amount(49, minimum=50)
    assert info.value.value == 49
    with pytest.raises(InvalidAmount, match="positive integer"):
        validate_amount(0, minimum=1)


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        (True, "boolean"),
        (10.5, "float"),
        ("1050", "str"),
        (None, "NoneType"),
        (Decimal(1), "Decimal"),
    ],
)
def test_validate_amount_rejects_non_ints_and_says_why(bad: object, hint: str) -> None:
    with pytest.raises(InvalidAmount, match=hint) as info:
        validate_amount(bad)
    assert info.value.value is bad
    assert isinstance(info.value, ValueError)
