"""The ledger read from payments: charges priced and converted, refunds, chargebacks and
their reinstatement, balances on the virtual clock, and pricing files checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from paysandbox.core import disputes, payments
from paysandbox.core.disputes import DisputeReason, DisputeStatus
from paysandbox.core.drift import Drift
from paysandbox.core.ledger import DAY, EntryType, balance
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import CardDetails, Payment
from paysandbox.ledger import BooksError, account_books, entries, ledger_json, load_books

BOOKS = load_books()
T0 = 20_000 * DAY + 9 * 3600  # 09:00 UTC
US_VISA = CardDetails("visa", "4242", "424242", 12, 2034, "credit", "US")


def _captured(provider: str = "stripe", currency: str = "USD", amount: int = 10_000,
              manual: bool = False) -> Payment:
    p = Payment("pay_1", "sk_test_1", provider, amount, currency, T0, card=US_VISA,
                capture_manual=manual)
    return payments.attempt(p, Outcome.approve(), T0)


def test_a_captured_charge_is_priced_and_available_after_the_settlement_delay() -> None:
    (charge,) = entries(_captured(), BOOKS)
    assert charge.type is EntryType.CHARGE and charge.payment_id == "pay_1"
    assert (charge.currency, charge.amount, charge.fee) == ("usd", 10_000, 290 + 30)
    assert charge.available_on == 20_002 * DAY  # Stripe: two days, at 00:00 UTC
    assert balance([charge], T0).pending == {"usd": 9_680}
    assert balance([charge], 20_002 * DAY).available == {"usd": 9_680}


def test_an_authorization_is_not_money_until_it_is_captured_in_parts() -> None:
    held = _captured(manual=True)
    assert entries(held, BOOKS) == []
    captured = payments.capture(held, 6_000, T0 + 60)
    (charge,) = entries(captured, BOOKS)
    assert charge.amount == 6_000 and charge.created == T0 + 60


def test_a_charge_in_another_currency_is_converted_and_shows_the_rate() -> None:
    (charge,) = entries(_captured("adyen", "USD"), BOOKS)  # Adyen settles in EUR
    assert (charge.original_amount, charge.original_currency) == (10_000, "usd")
    assert charge.currency == "eur" and charge.amount == 9_259  # 100 USD at 1.08
    assert [f.kind for f in charge.fees] == ["interchange", "scheme_fee", "markup",
                                             "commission"]
    assert charge.fee == sum(f.amount for f in charge.fees)


def test_refunds_and_a_won_chargeback_move_funds_out_and_back() -> None:
    p = payments.refund(_captured(), "re_1", 2_500, T0 + 3600)
    p = disputes.open_dispute(p, "dp_1", T0 + 7200, reason=DisputeReason.FRAUDULENT)
    found = entries(p, BOOKS)
    assert [(e.type, e.amount, e.fee) for e in found] == [
        (EntryType.CHARGE, 10_000, 320), (EntryType.REFUND, -2_500, 0),
        (EntryType.CHARGEBACK, -7_500, 1_500)]
    assert found[1].available_on == found[1].created  # debits leave at once
    p = disputes.update_evidence(p, "dp_1", T0 + 8000, evidence={"note": "x"}, submit=True)
    p = disputes.resolve(p, "dp_1", T0 + 9000, DisputeStatus.WON)
    reversal = entries(p, BOOKS)[-1]
    assert (reversal.type, reversal.amount, reversal.created) == \
        (EntryType.CHARGEBACK_REVERSAL, 7_500, T0 + 9000)
    # ids are the same each time the ledger is read
    assert [e.id for e in entries(p, BOOKS)] == [e.id for e in entries(p, BOOKS)]


def test_the_ledger_sums_accounts_and_keeps_the_newest_entries() -> None:
    p = payments.refund(_captured(), "re_1", 1_000, T0 + 60)
    doc = ledger_json([p], BOOKS, T0 + 120, limit=1)
    (account,) = doc["accounts"]
    assert account["provider"] == "stripe" and account["entries"] == 2
    assert account["pending"] == {"usd": 9_680} and account["available"] == {"usd": -1_000}
    assert account["payouts"] == []
    assert [e["type"] for e in doc["entries"]] == ["refund"] and doc["total_entries"] == 2


def test_each_day_that_adds_up_to_more_than_nothing_is_paid_out() -> None:
    first = payments.refund(_captured(), "re_1", 1_000, T0 + 60)  # -1,000 at once
    second = _captured(amount=5_000)  # same day: available with the first charge
    books = account_books([first, second], BOOKS, T0 + 60)
    assert books.payouts == [] and books.balance.available == {"usd": -1_000}
    later = account_books([first, second], BOOKS, 20_002 * DAY + 1)
    (payout,) = later.payouts
    assert payout.amount == 9_680 + 4_825 - 1_000  # the refund's day was carried over
    assert payout.created == 20_002 * DAY and payout.status(20_002 * DAY + 1) == "in_transit"
    assert payout.status(20_003 * DAY) == "paid"
    assert set(payout.entries) == {e.id for e in later.entries}
    assert later.balance.available == {"usd": 0} and later.balance.pending == {}


def test_a_bad_pricing_file_names_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "pricing.yaml"
    bad.write_text("stripe: {model: blended, percent: 120, settlement: {currency: usd}}\n"
                   "adyen: {model: flat, settlement: {currency: zzz, delay_days: 2}}\n")
    with pytest.raises(BooksError) as err:
        load_books(bad)
    message = str(err.value)
    assert "$.stripe" in message and "$.adyen" in message
    rates = tmp_path / "rates.yaml"
    rates.write_text("base: eur\nrates: {eur: 1}\n")
    with pytest.raises(BooksError, match="usd has no rate"):
        load_books(None, rates)


def test_drift_is_deterministic_and_says_what_it_changed() -> None:
    p = _captured("adyen", "USD")  # converted: EUR books
    found = [p, payments.attempt(Payment("pay_2", "sk_test_1", "adyen", 5_000, "EUR", T0,
                                         card=US_VISA), Outcome.approve(), T0)]
    truth = account_books(found, BOOKS, 20_003 * DAY)
    drift = Drift.compile({"duplicated_line": 1, "fx_rounding": {"share": 1, "by": 1},
                           "late_payout": {"share": 1, "by": 2 * DAY},
                           "partial_payout": {"share": 1, "paid": 0.5}}, 7)
    reported = account_books(found, BOOKS, 20_003 * DAY, drift)
    assert [e.id for e in reported.entries] == [e.id for e in truth.entries for _ in (1, 2)]
    converted = next(e for e in reported.entries if e.exchange_rate is not None)
    assert converted.amount == next(e.amount for e in truth.entries
                                    if e.id == converted.id) + 1
    (paid,), (true_payout,) = reported.payouts, truth.payouts
    assert paid.amount == (true_payout.amount + 1) // 2
    assert paid.arrival == true_payout.arrival + 2 * DAY
    assert paid.status(20_003 * DAY) == "in_transit" and true_payout.status(20_003 * DAY) \
        == "paid"
    assert sorted(i.kind for i in reported.injected) == [
        "duplicated_line", "duplicated_line", "fx_rounding", "late_payout", "partial_payout"]
    assert reported.injected == account_books(found, BOOKS, 20_003 * DAY, drift).injected


def test_a_trigger_names_the_lines_of_an_amount_and_the_nth_payout() -> None:
    """QA's deterministic form: the charge of 13.13 missing, the second payout failed,
    without a rate (and the same lines with a rate of 0 and no trigger: none)."""
    found = [payments.attempt(Payment(f"pay_{day}", "sk_test_1", "stripe", amount, "USD",
                                      T0 + day * DAY, card=US_VISA),
                              Outcome.approve(), T0 + day * DAY)
             for day, amount in enumerate((1_313, 2_000, 1_313))]  # one payout a day
    now = 20_010 * DAY
    truth = account_books(found, BOOKS, now)
    assert len(truth.payouts) == 3
    drift = Drift.compile({"missing_line": {"amount": 1_313},
                           "failed_payout": {"payout": 2},
                           "late_payout": {"share": 0, "payout": 3, "by": DAY}}, 7)
    reported = account_books(found, BOOKS, now, drift)
    by_amount = {e.id: e.amount for e in truth.entries}
    assert [by_amount[e.id] for e in reported.entries] == [2_000]
    assert [p.failed for p in reported.payouts] == [False, True, False]
    assert reported.payouts[2].arrival == truth.payouts[2].arrival + DAY
    assert sorted((i.kind, i.id) for i in reported.injected) == sorted(
        [("missing_line", e.id) for e in truth.entries if e.amount == 1_313]
        + [("failed_payout", truth.payouts[1].id), ("late_payout", truth.payouts[2].id)])
    none = Drift.compile({"missing_line": 0, "failed_payout": {"share": 0}}, 7)
    assert account_books(found, BOOKS, now, none).injected == ()
