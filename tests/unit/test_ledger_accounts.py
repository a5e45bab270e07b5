"""A pricing file's `accounts:` settle an API key, or a sub-account a provider settles
apart (an Adyen merchant account), in its own currency and delay; the books keep each
sub-account's payouts apart; a bad override is named with the file's other problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from paysandbox.core import payments
from paysandbox.core.ledger import DAY
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import CardDetails, Payment
from paysandbox.ledger import Books, BooksError, account_books, entries, ledger_json, load_books

T0 = 20_000 * DAY + 9 * 3600  # 09:00 UTC
NL_VISA = CardDetails("visa", "1111", "411111", 3, 2030, "credit", "NL")

PRICING = """\
adyen:
  model: interchange_plus_plus
  interchange: {credit: 0.3, debit: 0.2}
  scheme_fee_percent: 0.1
  markup_percent: 0.6
  commission: {eur: 13, gbp: 11}
  settlement: {currency: eur, delay_days: 2, country: NL}
  accounts:
    ShopUK_ECOM: {currency: gbp}
    AQE_uk_key: {currency: gbp, delay_days: 3}
stripe:
  model: blended
  percent: 2.9
  fixed: {usd: 30, eur: 25}
  settlement: {currency: usd, delay_days: 2}
  accounts:
    sk_test_eu: {currency: eur, delay_days: 5}
"""


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Books:
    path = tmp_path_factory.mktemp("pricing") / "pricing.yaml"
    path.write_text(PRICING)
    return load_books(path)


def _paid(pid: str, merchant: str, amount: int = 10_000, currency: str = "EUR", *,
          key: str = "AQE_key", provider: str = "adyen") -> Payment:
    p = Payment(pid, key, provider, amount, currency, T0, card=NL_VISA,
                extra={"merchantAccount": merchant})
    return payments.attempt(p, Outcome.approve(), T0)


def _merchant(p: Payment) -> str:
    return str(p.extra["merchantAccount"])


def test_a_merchant_account_settles_in_its_own_currency_at_the_rates(books: Books) -> None:
    (uk,) = entries(_paid("psp_uk", "ShopUK_ECOM"), books, "ShopUK_ECOM")
    # 100.00 EUR at 0.85 GBP per EUR; interchange++ on the converted amount
    assert (uk.currency, uk.amount, uk.original_currency, uk.original_amount) == \
        ("gbp", 8_500, "eur", 10_000)
    assert str(uk.exchange_rate) == "0.850000" and uk.sub_account == "ShopUK_ECOM"
    assert {f.kind: f.amount for f in uk.fees} == {
        "interchange": 26, "scheme_fee": 9, "markup": 51, "commission": 11}
    assert uk.available_on == 20_002 * DAY  # the provider's delay: none of its own
    # 10.01 USD -> 1001 * 0.85 / 1.08 = 787.81 pence, rounded to 788
    (usd,) = entries(_paid("psp_usd", "ShopUK_ECOM", 1_001, "USD"), books, "ShopUK_ECOM")
    assert (usd.currency, usd.amount) == ("gbp", 788)
    (nl,) = entries(_paid("psp_nl", "ShopNL_ECOM"), books, "ShopNL_ECOM")
    assert (nl.currency, nl.amount, nl.original_amount) == ("eur", 10_000, None)
    assert {f.kind: f.amount for f in nl.fees}["commission"] == 13


def test_an_api_key_settles_in_its_own_currency_and_delay(books: Books) -> None:
    (eu,) = entries(_paid("pi_eu", "", 10_800, "USD", key="sk_test_eu", provider="stripe"),
                    books)
    assert (eu.currency, eu.amount, eu.available_on) == ("eur", 10_000, 20_005 * DAY)
    (us,) = entries(_paid("pi_us", "", 10_800, "USD", key="sk_test_us", provider="stripe"),
                    books)
    assert (us.currency, us.amount, us.available_on) == ("usd", 10_800, 20_002 * DAY)
    # A key's own terms serve its merchant accounts that have none of their own
    (keyed,) = entries(_paid("psp_k", "Other", key="AQE_uk_key"), books, "Other")
    assert (keyed.currency, keyed.available_on) == ("gbp", 20_003 * DAY)
    empty = account_books([], books, T0, provider="stripe", namespace="sk_test_eu")
    assert empty.currency == "eur" and empty.payouts == []


def test_each_merchant_account_is_paid_out_apart(books: Books) -> None:
    found = [_paid("psp_uk", "ShopUK_ECOM"), _paid("psp_nl1", "ShopNL_ECOM", 2_000),
             _paid("psp_nl2", "ShopNL_ECOM", 3_000)]
    whole = account_books(found, books, 20_002 * DAY, provider="adyen",
                          namespace="AQE_key", sub_account=_merchant)
    by_account = {p.sub_account: p for p in whole.payouts}
    assert sorted(by_account) == ["ShopNL_ECOM", "ShopUK_ECOM"]
    assert by_account["ShopUK_ECOM"].currency == "gbp"
    assert len(by_account["ShopNL_ECOM"].entries) == 2
    assert by_account["ShopUK_ECOM"].id != by_account["ShopNL_ECOM"].id
    assert whole.balance.available == {"gbp": 0, "eur": 0}
    assert [p.id for p in whole.payments] == ["psp_uk", "psp_nl1", "psp_nl2"]

    doc = ledger_json(found, books, 20_002 * DAY, limit=10,
                      sub_accounts={"adyen": _merchant})
    accounts = {a["sub_account"]: a for a in doc["accounts"]}
    assert sorted(accounts) == ["ShopNL_ECOM", "ShopUK_ECOM"]
    assert [p["currency"] for p in accounts["ShopUK_ECOM"]["payouts"]] == ["gbp"]
    assert {e["sub_account"] for e in doc["entries"]} == {"ShopNL_ECOM", "ShopUK_ECOM"}


def test_a_bad_account_is_named_with_every_other_problem(tmp_path: Path) -> None:
    bad = tmp_path / "pricing.yaml"
    bad.write_text("""\
adyen:
  model: interchange_plus_plus
  interchange: {credit: 0.3}
  scheme_fee_percent: 0.1
  markup_percent: 0.6
  commission: {eur: 13}
  settlement: {currency: eur, delay_days: 2}
  accounts:
    ShopUK_ECOM: {currency: gbp}
    ShopXX_ECOM: {currency: xxx}
    ShopBad: {currency: EUR, delay: 1}
stripe: {model: blended, percent: 120, fixed: {usd: 30}, settlement: {currency: usd,
         delay_days: 2}}
""")
    with pytest.raises(BooksError) as err:
        load_books(bad)
    lines = str(err.value).splitlines()
    assert any("$.adyen.accounts.ShopBad" in line for line in lines)
    assert any(": $.stripe:" in line for line in lines)
    bad.write_text(bad.read_text().replace("    ShopBad: {currency: EUR, delay: 1}\n", "")
                   .replace("percent: 120", "percent: 2.9"))
    with pytest.raises(BooksError) as err:
        load_books(bad)
    lines = str(err.value).splitlines()
    assert len(lines) == 3, lines
    assert "$.adyen.accounts.ShopUK_ECOM.currency: gbp has no commission (it has: eur)" \
        in lines[0]
    assert "$.adyen.accounts.ShopXX_ECOM.currency: xxx has no rate" in lines[1]
    assert "$.adyen.accounts.ShopXX_ECOM.currency: xxx has no commission" in lines[2]
