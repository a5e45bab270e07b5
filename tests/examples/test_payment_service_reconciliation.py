"""The reference service's reconciliation, on hand-made acquirer data: each kind of
discrepancy found once, with the acquirer's id, and clean books finding none. Expected
fees are worked out here from the numbers in the simulator's pricing.yaml, not from the
service's code."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paysandbox.examples.payment_service import reconcile as recon
from paysandbox.examples.payment_service.app import (
    SERVICE,
    PaymentService,
    errors,
    get_reconciliation,
    run_reconciliation,
)
from paysandbox.examples.payment_service.config import for_simulator

DAY = 86400
T0 = 1_780_000_000 // DAY * DAY  # a day's 00:00 UTC
PRICING = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("pricing.yaml")
                         .read_text("utf-8"))
RATES = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("rates.yaml")
                       .read_text("utf-8"))["rates"]


def half_up(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def stripe_fee(gross: int, *, converted: bool = False, foreign: bool = False) -> int:
    s = PRICING["stripe"]
    fee = half_up(Decimal(gross) * Decimal(str(s["percent"])) / 100) + s["fixed"]["usd"]
    if foreign:
        fee += half_up(Decimal(gross) * Decimal(str(s["international_percent"])) / 100)
    if converted:
        fee += half_up(Decimal(gross) * Decimal(str(s["fx_percent"])) / 100)
    return fee


def adyen_fee(gross: int) -> int:
    a = PRICING["adyen"]
    parts = (a["interchange"]["credit"], a["scheme_fee_percent"], a["markup_percent"])
    return sum(half_up(Decimal(gross) * Decimal(str(p)) / 100) for p in parts) \
        + a["commission"]["eur"]


def eur_to_usd(cents: int) -> int:
    return half_up(Decimal(cents) * Decimal(str(RATES["usd"])) / Decimal(str(RATES["eur"])))


def txn(id: str, source: str, kind: str, amount: int, fee: int) -> recon.Line:
    return recon.Line(id, source, kind, amount, fee, amount - fee, "usd")


def books() -> tuple[list[recon.Expected], list[recon.Line]]:
    """Three of our payments at Stripe (a domestic dollar charge, a euro charge settled
    in dollars, a refund) and the lines a correct report has for them."""
    expected = [
        recon.Expected("ch_1", "charge", "pi_1", "pay_1", 2000, "usd", "US"),
        recon.Expected("ch_2", "charge", "pi_2", "pay_2", 1000, "eur", "US"),
        recon.Expected("re_1", "refund", "re_1", "pay_1", 500, "usd"),
    ]
    lines = [txn("txn_1", "ch_1", "charge", 2000, stripe_fee(2000)),
             txn("txn_2", "ch_2", "charge", eur_to_usd(1000),
                 stripe_fee(eur_to_usd(1000), converted=True)),
             txn("txn_3", "re_1", "refund", -500, 0)]
    return expected, lines


def payout(lines: list[recon.Line], *, amount: int | None = None, status: str = "paid",
           arrival_days: int = 1, id: str = "po_1") -> recon.ReportedPayout:
    net = sum(line.net for line in {line.id: line for line in lines}.values())
    return recon.ReportedPayout(id, net if amount is None else amount, "usd", T0,
                                T0 + arrival_days * DAY, status, tuple(lines))


def found(expected: list[recon.Expected], lines: list[recon.Line],
          payouts: list[recon.ReportedPayout], now: int = T0 + 3 * DAY
          ) -> list[tuple[str, str]]:
    report = recon.Report(lines, payouts)
    return sorted((d.kind, d.id) for d in recon.compare("stripe", expected, report,
                                                        recon.PRICING["stripe"], now))


def test_the_service_prices_as_the_simulators_pricing_file_says() -> None:
    assert stripe_fee(2000) == 88  # 2.9% of 20.00 is 0.58, plus 0.30
    assert recon.fee(recon.PRICING["stripe"], 2000, foreign=False, converted=False) == 88
    assert recon.fee(recon.PRICING["stripe"], 1080, foreign=True, converted=True) == \
        stripe_fee(1080, foreign=True, converted=True)
    assert recon.fee(recon.PRICING["adyen"], 10000, foreign=False, converted=False) == \
        adyen_fee(10000) == 30 + 10 + 60 + 13
    assert recon.convert(1000, "eur", "usd") == eur_to_usd(1000) == 1080
    for code, per_eur in RATES.items():
        if code in recon.RATES:
            assert recon.RATES[code] == Decimal(str(per_eur)), code


def test_books_that_match_the_report_have_no_discrepancy() -> None:
    expected, lines = books()
    assert found(expected, lines, [payout(lines)]) == []


def test_each_line_discrepancy_is_named_with_the_acquirers_id() -> None:
    expected, _ = books()
    fee_over = txn("txn_1", "ch_1", "charge", 2000, stripe_fee(2000) + 7)
    fx_off = txn("txn_2", "ch_2", "charge", eur_to_usd(1000) + 1,
                 stripe_fee(eur_to_usd(1000), converted=True))
    reported = [fee_over, fx_off, fx_off]  # the refund's line missing, one listed twice
    assert found(expected, reported, [payout(reported)]) == [
        ("duplicated_line", "txn_2"), ("fee_mismatch", "txn_1"), ("fx_rounding", "txn_2"),
        ("missing_line", "re_1")]


def test_a_payout_short_of_a_missing_lines_net_is_not_a_partial_payout() -> None:
    expected, lines = books()
    listed = lines[:2]  # the refund (net -500) was paid but is not listed
    paid = sum(line.net for line in lines)
    assert found(expected, listed, [payout(listed, amount=paid)]) == [
        ("missing_line", "re_1")]


def test_lines_missing_from_a_payout_are_owed_to_the_payout_of_their_day() -> None:
    """Four of our charges of a day missing from its payout; the day before, one
    missing from a payout paid in part."""
    charges = [recon.Expected(f"ch_{n}", "charge", f"pi_{n}", f"pay_{n}", 1000 + n, "usd",
                              "US", at=T0 - 2 * DAY + (0 if n < 5 else DAY))
               for n in range(8)]  # paid out on T0 (0-4) and on T0 + 1 day (5-7)
    lines = [txn(f"txn_{n}", f"ch_{n}", "charge", 1000 + n, stripe_fee(1000 + n))
             for n in range(8)]
    first, second = lines[:5], lines[5:]
    payouts = [recon.ReportedPayout("po_first", sum(x.net for x in first) // 2, "usd", T0,
                                    T0 + DAY, "paid", tuple(first[1:])),
               recon.ReportedPayout("po_second", sum(x.net for x in second), "usd",
                                    T0 + DAY, T0 + 2 * DAY, "paid", ())]
    assert found(charges, first[1:], payouts, now=T0 + 3 * DAY) == [
        ("missing_line", "pi_0"), ("missing_line", "pi_5"), ("missing_line", "pi_6"),
        ("missing_line", "pi_7"), ("partial_payout", "po_first")]
    # without the times (Adyen's answers have none), by what the payout is short of
    untimed = [recon.Expected(c.key, c.kind, c.provider_id, c.payment, c.amount,
                              c.currency, "US") for c in charges]
    assert found(untimed, first[1:], payouts, now=T0 + 3 * DAY) == [
        ("missing_line", "pi_0"), ("missing_line", "pi_5"), ("missing_line", "pi_6"),
        ("missing_line", "pi_7"), ("partial_payout", "po_first")]


def test_late_failed_and_partial_payouts() -> None:
    expected, lines = books()
    one, two, three = ([line] for line in lines)
    payouts = [payout(one, id="po_late", arrival_days=2),
               payout(two, id="po_failed", status="failed"),
               payout(three, id="po_half", amount=lines[2].net // 2)]
    assert found(expected, lines, payouts) == [
        ("failed_payout", "po_failed"), ("late_payout", "po_late"),
        ("partial_payout", "po_half")]


def test_a_payout_still_in_transit_after_its_arrival_is_late() -> None:
    expected, lines = books()
    stuck = recon.ReportedPayout("po_stuck", sum(x.net for x in lines), "usd", T0,
                                 T0 + DAY, "in_transit", tuple(lines))
    assert found(expected, lines, [stuck], now=T0 + DAY // 2) == []
    assert found(expected, lines, [stuck], now=T0 + 2 * DAY) == [("late_payout", "po_stuck")]


ADYEN_HEADER = ("Company Account,Merchant Account,Psp Reference,Merchant Reference,"
                "Payment Method,Creation Date,TimeZone,Type,Modification Reference,"
                "Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,"
                "Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),"
                "Scheme Fees (NC),Interchange (NC),Payment Method Variant,"
                "Modification Merchant Reference,Batch Number,Reserved4,Reserved5,"
                "Reserved6,Reserved7,Reserved8,Reserved9,Reserved10")


def adyen_row(psp: str, kind: str, modification: str, gross: str, net: str,
              fees: tuple[str, str, str, str] = ("", "", "", ""),
              gross_currency: str = "EUR", rate: str = "1") -> str:
    credit = not net.startswith("-")
    g, n = gross.lstrip("-"), net.lstrip("-")
    cells = ["Co", "Shop", psp, "ref", "visa", "2026-05-28 10:00:00", "UTC", kind,
             modification, gross_currency, "" if credit else g, g if credit else "", rate,
             "EUR", "" if credit else n, n if credit else "", *fees, "visacredit", "", "1",
             *[""] * 7]
    return line_of(cells)


def line_of(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def test_adyens_settlement_details_report_is_read_as_documented() -> None:
    fee = adyen_fee(10000)  # 0.30 + 0.10 + 0.60 interchange, scheme fee, markup; 0.13
    net = Decimal(10000 - fee) / 100
    rows = [
        adyen_row("PSP1", "Settled", "CAPTURE1", "100.00", f"{net}",
                  ("0.13", "0.60", "0.10", "0.30")),
        adyen_row("PSP1", "Refunded", "REFUND1", "-25.00", "-25.00"),
        adyen_row("PSP2", "Settled", "CAPTURE2", "54.00", "49.23",
                  ("0.13", "0.30", "0.05", "0.15"), "USD", "0.925926"),
        line_of(["Co", "Shop", "", "", "", "2026-05-28 00:00:00", "UTC", "MerchantPayout",
                  "TX1XT batch 1, Shop", "", "", "", "", "EUR", "10.00", "", *[""] * 14]),
    ]
    batch = recon.parse_settlement_detail_report("\n".join([ADYEN_HEADER, *rows]), 1)
    assert batch.amount == 1000 and batch.currency == "eur"
    assert [(x.id, x.kind, x.amount, x.fee, x.net) for x in batch.lines] == [
        ("PSP1", "charge", 10000, fee, 10000 - fee),
        ("REFUND1", "refund", -2500, 0, -2500),
        ("PSP2", "charge", 4923 + 63, 63, 4923)]  # converted: net plus its fees, in EUR
    expected = [recon.Expected("PSP1", "charge", "PSP1", "pay_1", 10000, "eur"),
                recon.Expected("REFUND1", "refund", "REFUND1", "pay_1", 2500, "eur"),
                recon.Expected("PSP3", "charge", "PSP3", "pay_3", 2000, "eur")]
    report = recon.Report(list(batch.lines[:2]), [])
    assert [(d.kind, d.id) for d in recon.compare("adyen", expected, report,
                                                  recon.PRICING["adyen"], T0)] == [
        ("missing_line", "PSP3")]


async def test_reconciliation_answers_bad_input_400_and_nothing_yet_404() -> None:
    app = web.Application(middlewares=[errors])
    app[SERVICE] = PaymentService(for_simulator(providers=("stripe",)), {})
    app.router.add_post("/reconcile", run_reconciliation)
    app.router.add_get("/reconciliation", get_reconciliation)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/reconciliation")
        assert r.status == 404 and "POST /reconcile" in (await r.json())["error"]
        r = await client.post("/reconcile", json={"max_lines": 0})
        assert r.status == 400 and "max_lines" in (await r.json())["error"]
