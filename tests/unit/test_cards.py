from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paysandbox.core.cards import (
    PAN_PATTERN,
    Brand,
    Card,
    card_fingerprint,
    detect_brand,
    digits_only,
    is_expired,
    luhn_valid,
    mask,
    redact_pans,
)

# Stripe's documented test card numbers.
STRIPE_TEST_CARDS = [
    ("4242424242424242", Brand.VISA),
    ("4000056655665556", Brand.VISA),
    ("5555555555554444", Brand.MASTERCARD),
    ("2223003122003222", Brand.MASTERCARD),
    ("5200828282828210", Brand.MASTERCARD),
    ("378282246310005", Brand.AMEX),
    ("371449635398431", Brand.AMEX),
    ("6011111111111117", Brand.DISCOVER),
    ("6011000990139424", Brand.DISCOVER),
    ("3056930009020004", Brand.DINERS),
    ("36227206271667", Brand.DINERS),
    ("3566002020360505", Brand.JCB),
    ("6200000000000005", Brand.UNIONPAY),
]


def _check_digit(payload: str) -> str:
    total = 0
    for position, char in enumerate(reversed(payload)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


@pytest.mark.parametrize(("number", "brand"), STRIPE_TEST_CARDS)
def test_stripe_test_cards(number: str, brand: Brand) -> None:
    assert luhn_valid(number)
    assert detect_brand(number) is brand


def test_luhn_rejects_wrong_check_digit() -> None:
    assert not luhn_valid("4242424242424241")


@pytest.mark.parametrize(
    "number",
    ["", "abc", "4242x42424242424242", "42424242424", "42424242424242424242", "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"],
)
def test_luhn_rejects_non_digits_and_bad_lengths(number: str) -> None:
    assert not luhn_valid(number)


def test_luhn_ignores_spaces_and_dashes() -> None:
    assert luhn_valid("4242 4242 4242 4242")
    assert luhn_valid("4242-4242-4242-4242")


@given(st.text(alphabet="0123456789", min_size=11, max_size=18))
def test_appending_check_digit_makes_number_valid(payload: str) -> None:
    number = payload + _check_digit(payload)
    assert luhn_valid(number)
    wrong = str((int(number[-1]) + 1) % 10)
    assert not luhn_valid(number[:-1] + wrong)


def test_digits_only() -> None:
    assert digits_only("4242 4242-4242 4242") == "4242424242424242"
    assert digits_only("4242.4242") == ""
    assert digits_only("") == ""
    assert digits_only("١٢٣") == ""  # non-ASCII digits are not card digits


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4", Brand.VISA),
        ("510000", Brand.MASTERCARD),
        ("222100", Brand.MASTERCARD),
        ("272099", Brand.MASTERCARD),
        ("272100", Brand.UNKNOWN),
        ("222000", Brand.UNKNOWN),
        ("340000", Brand.AMEX),
        ("644000", Brand.DISCOVER),
        ("650000", Brand.DISCOVER),
        ("352800", Brand.JCB),
        ("358999", Brand.JCB),
        ("352799", Brand.UNKNOWN),
        ("300000", Brand.DINERS),
        ("305999", Brand.DINERS),
        ("306000", Brand.UNKNOWN),
        ("309500", Brand.DINERS),
        ("380000", Brand.DINERS),
        ("390000", Brand.DINERS),
        ("810000", Brand.UNIONPAY),
        ("622126", Brand.UNIONPAY),  # co-branded range: reported as UnionPay
        ("622925", Brand.UNIONPAY),
        ("500000", Brand.MAESTRO),
        ("560000", Brand.MAESTRO),
        ("589999", Brand.MAESTRO),
        ("630400", Brand.MAESTRO),
        ("675900", Brand.MAESTRO),
        ("676100", Brand.MAESTRO),
        ("676300", Brand.MAESTRO),
        ("676770", Brand.MAESTRO),
        ("676774", Brand.MAESTRO),
        ("676771", Brand.UNKNOWN),
        ("601100", Brand.DISCOVER),
        ("601200", Brand.UNKNOWN),
        ("12345678", Brand.UNKNOWN),
        ("", Brand.UNKNOWN),
        ("5", Brand.UNKNOWN),  # too short to tell Mastercard from Maestro
        ("not a number", Brand.UNKNOWN),
    ],
)
def test_detect_brand_ranges(number: str, brand: Brand) -> None:
    assert detect_brand(number) is brand


def test_detect_brand_accepts_8_digit_bin_and_formatted_number() -> None:
    assert detect_brand("22230031") is Brand.MASTERCARD
    assert detect_brand("3782 822463 10005") is Brand.AMEX


def test_brand_values_are_stripe_spellings() -> None:
    assert Brand("amex") is Brand.AMEX
    assert f"{Brand.DINERS}" == "diners"
    assert {b.value for b in Brand} == {
        "visa",
        "mastercard",
        "amex",
        "discover",
        "jcb",
        "diners",
        "unionpay",
        "maestro",
        "unknown",
    }


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("4242424242424242", "424242******4242"),
        ("378282246310005", "378282*****0005"),
        ("36227206271667", "362272****1667"),
        ("4222222222222", "422222***2222"),
        ("4242 4242 4242 4242", "424242******4242"),
        ("424242424242", "********4242"),
        ("12345", "*2345"),
        ("1234", "1234"),
        ("", ""),
    ],
)
def test_mask(number: str, masked: str) -> None:
    assert mask(number) == masked


@given(st.text(alphabet="0123456789", min_size=1, max_size=19))
def test_mask_never_reveals_more_than_ten_digits(number: str) -> None:
    masked = mask(number)
    assert len(masked) == len(number)
    assert sum(c.isdigit() for c in masked) <= 10
    assert masked.endswith(number[-4:])


def test_pan_pattern_matches_whole_13_to_19_digit_runs() -> None:
    text = "a 123456789012 b 1234567890123 c 12345678901234567890 d x1234567890123456"
    assert PAN_PATTERN.findall(text) == ["1234567890123"]
    assert isinstance(PAN_PATTERN, re.Pattern)


def test_redact_pans_masks_only_luhn_valid_runs() -> None:
    text = (
        'card=4242424242424242 "number":"378282246310005", '
        "order 4242424242424241 ts 16999999999999 long 42424242424242424242"
    )
    assert redact_pans(text) == (
        'card=424242******4242 "number":"378282*****0005", '
        "order 4242424242424241 ts 16999999999999 long 42424242424242424242"
    )


@given(st.text(alphabet="0123456789", min_size=12, max_size=18), st.text(max_size=20))
def test_redacted_text_never_contains_the_pan(payload: str, noise: str) -> None:
    pan = payload + _check_digit(payload)
    text = f"{noise} pan={pan} {noise}"
    assert pan not in redact_pans(text) or len(pan) < 13


@pytest.mark.parametrize(("written", "shown"), [
    ("4242 4242 4242 4242", "424242******4242"),
    ("4242-4242-4242-4242", "424242******4242"),
    ("card[number]=4242+4242+4242+4242&cvc=1", "card[number]=424242******4242&cvc=1"),
    ("number=4242%204242%204242%204242", "number=424242******4242"),
    ("3782 822463 10005 exp 12 2030", "378282*****0005 exp 12 2030"),
    ("4242 4242 4242 4242 12 2030", "424242******4242 12 2030"),
    ("call 0800 123 4567 or 020-7946-0018", "call 0800 123 4567 or 020-7946-0018"),
])
def test_card_numbers_written_in_groups_are_masked(written: str, shown: str) -> None:
    """Providers accept numbers as shoppers type them, with spaces or dashes (and a form
    body encodes the spaces): masked all the same; phone numbers stay readable."""
    assert redact_pans(written) == shown


@given(st.sampled_from(["4242424242424242", "5555555555554444", "378282246310005",
                        "6011111111111117", "4000002500003155"]),
       st.lists(st.integers(1, 5), min_size=1, max_size=8),
       st.sampled_from([" ", "-", "+", "%20"]), st.text(max_size=12))
def test_a_card_number_in_groups_never_survives_redaction(
        pan: str, sizes: list[int], separator: str, noise: str) -> None:
    groups, rest = [], pan
    for size in sizes:
        if rest:
            groups.append(rest[:size])
            rest = rest[size:]
    if rest:
        groups.append(rest)
    written = separator.join(groups)
    out = redact_pans(f"{noise} n={written} {noise}")
    assert written not in out and pan not in out


def test_card_fingerprints_are_keyed() -> None:
    one, two = b"k" * 32, b"q" * 32
    assert card_fingerprint("4242 4242 4242 4242", one) == card_fingerprint("4242424242424242",
                                                                            one)
    assert card_fingerprint("4242424242424242", one) != card_fingerprint("4242424242424242", two)
    assert len(card_fingerprint("4242424242424242", one, 64)) == 64


@pytest.mark.parametrize(
    ("month", "year", "now", "expired"),
    [
        (12, 2030, datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC), False),
        (12, 2030, datetime(2031, 1, 1, tzinfo=UTC), True),
        (6, 2025, datetime(2025, 6, 1, tzinfo=UTC), False),
        (6, 2025, datetime(2025, 7, 1, tzinfo=UTC), True),
        (5, 2025, datetime(2025, 6, 15, tzinfo=UTC), True),
        (1, 2026, datetime(2025, 12, 31, tzinfo=UTC), False),
        (12, 34, datetime(2034, 12, 15, tzinfo=UTC), False),
        (12, 24, datetime(2025, 1, 1, tzinfo=UTC), True),
        (2, 28, datetime(2028, 2, 29), False),  # naive datetimes compare by their fields
    ],
)
def test_is_expired(month: int, year: int, now: datetime, expired: bool) -> None:
    assert is_expired(month, year, now) is expired


def test_is_expired_uses_the_given_time_zone() -> None:
    # 2031-01-01 00:30 in UTC+1 is still 2030-12-31 in UTC; the local month is used.
    now = datetime(2031, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert is_expired(12, 2030, now)
    assert not is_expired(12, 2030, now.astimezone(UTC))


@pytest.mark.parametrize(("month", "year"), [(0, 2030), (13, 2030), (1, -1)])
def test_is_expired_rejects_malformed_dates(month: int, year: int) -> None:
    with pytest.raises(ValueError):
        is_expired(month, year, datetime(2025, 1, 1, tzinfo=UTC))


def test_card_properties() -> None:
    card = Card("4242 4242 4242 4242", 12, 2034, "123")
    assert card.brand is Brand.VISA
    assert card.last4 == "4242"
    assert card.bin == "424242"
    assert card.masked == "424242******4242"


def test_card_repr_hides_number_and_cvc() -> None:
    card = Card("5555555555554444", 1, 30, cvc="987")
    for text in (repr(card), str(card), f"{card}", repr([card])):
        assert "5555555555554444" not in text
        assert "987" not in text
        assert "555555******4444" in text


def test_card_is_frozen_and_hashable() -> None:
    card = Card("4242424242424242", 12, 2034)
    with pytest.raises(AttributeError):
        card.number = "4000000000000002"  # type: ignore[misc]
    assert card == Card("4242424242424242", 12, 2034)
    assert len({card, Card("4242424242424242", 12, 2034)}) == 1
