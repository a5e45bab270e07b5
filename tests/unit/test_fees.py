"""Fees and exchange rates: the arithmetic every settlement report is made of."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paysandbox.core.fees import (
    Blended,
    Charged,
    InterchangePlusPlus,
    MethodPrice,
    PerMethod,
    Rates,
)
from paysandbox.core.ledger import DAY, Settlement, available_day, balance, charge_entry

STRIPE = Blended(Decimal("2.9"), {"usd": 30, "eur": 25}, Decimal("1.5"), Decimal("1"))
ADYEN = InterchangePlusPlus({"credit": Decimal("0.3"), "debit": Decimal("0.2"),
                             "international": Decimal("1.5")},
                            Decimal("0.1"), Decimal("0.6"), {"eur": 11, "usd": 12})
MOLLIE = PerMethod({"ideal": MethodPrice({"eur": 29}),
                    "creditcard": MethodPrice({"eur": 25}, Decimal("1.8"))})
RATES = Rates("eur", {"eur": Decimal(1), "usd": Decimal("1.08"), "jpy": Decimal("161.5"),
                      "kwd": Decimal("0.331")})


def test_blended_pricing_is_a_rate_plus_a_fixed_fee_and_more_for_foreign_cards() -> None:
    assert [f.amount for f in STRIPE.fee(Charged(10_000, "usd"))] == [320]
    lines = STRIPE.fee(Charged(10_000, "usd", foreign=True, converted=True))
    assert [(f.kind, f.amount) for f in lines] == [("processing", 320),
                                                   ("international", 150), ("fx", 100)]


def test_interchange_plus_plus_shows_each_part() -> None:
    lines = ADYEN.fee(Charged(10_000, "eur", funding="debit"))
    assert [(f.kind, f.amount) for f in lines] == [
        ("interchange", 20), ("scheme_fee", 10), ("markup", 60), ("commission", 11)]
    assert ADYEN.fee(Charged(10_000, "eur", foreign=True))[0].amount == 150


def test_per_method_pricing_and_a_method_it_does_not_price() -> None:
    assert MOLLIE.fee(Charged(5_000, "eur", "ideal"))[0].amount == 29
    assert MOLLIE.fee(Charged(5_000, "eur", "creditcard"))[0].amount == 90 + 25
    with pytest.raises(LookupError, match="bancontact"):
        MOLLIE.fee(Charged(5_000, "eur", "bancontact"))


def test_fees_round_half_up_per_line() -> None:
    # 2.9% of 1,050 is 30.45 -> 30; of 1,051 it is 30.479 -> 30; of 1,069, 31.001 -> 31
    assert STRIPE.fee(Charged(1_050, "usd"))[0].amount == 30 + 30
    assert STRIPE.fee(Charged(1_069, "usd"))[0].amount == 31 + 30
    # 0.5 exactly rounds up: 2.9% of 1,500 is 43.5
    assert STRIPE.fee(Charged(1_500, "usd"))[0].amount == 44 + 30


def test_conversion_rounds_to_the_target_currency_minor_units() -> None:
    assert RATES.convert(1_000, "eur", "usd") == (1_080, Decimal("1.080000"))
    amount, rate = RATES.convert(1_000, "usd", "eur")  # 925.925... cents
    assert amount == 926 and rate == Decimal("0.925926")
    assert RATES.convert(1_000, "eur", "jpy")[0] == 1_615  # 10 EUR, yen have no minor units
    assert RATES.convert(1_000, "eur", "kwd")[0] == 3_310  # three minor units
    with pytest.raises(LookupError, match="GBP"):
        RATES.convert(1_000, "gbp", "eur")


def test_a_charge_is_available_after_the_settlement_delay_and_shows_its_conversion() -> None:
    created = 20_000 * DAY + 3_600 * 13  # 13:00 UTC
    e = charge_entry("txn_1", account="ns", provider="stripe", payment_id="pi_1",
                     amount=10_000, currency="usd", method="card", funding="credit",
                     card_country="DE", created=created, pricing=STRIPE,
                     settlement=Settlement("eur", 2, "DE"), rates=RATES)
    assert (e.currency, e.original_currency, e.original_amount) == ("eur", "usd", 10_000)
    assert e.amount == 9_259 and e.exchange_rate == Decimal("0.925926")
    assert [f.kind for f in e.fees] == ["processing", "fx"]
    assert e.net == e.amount - e.fee
    assert e.available_on == available_day(created, 2) == 20_002 * DAY
    assert balance([e], e.available_on - 1).pending == {"eur": e.net}
    assert balance([e], e.available_on).available == {"eur": e.net}
