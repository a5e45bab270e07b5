"""REPORT_AVAILABLE as the Settles hook builds it: one per merchant account's batch closed
that day, numbered per merchant account, with an id that is the same however often the
day is announced (a fleet may announce it twice) and differs between accounts."""

from __future__ import annotations

from typing import Any

import orjson

from paysandbox.core import payments
from paysandbox.core.ledger import DAY
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import CardDetails, Payment
from paysandbox.ledger import account_books, load_books
from paysandbox.providers.adyen import reports
from paysandbox.providers.adyen.routes import provider

BOOKS = load_books()
T0 = 20_000 * DAY + 9 * 3600
NL_VISA = CardDetails("visa", "1111", "411111", 3, 2030, "credit", "NL")
URL = "http://sandbox.test/adyen/reports/download"


def _paid(pid: str, merchant: str, at: float = T0, key: str = "AQE_key") -> Payment:
    p = Payment(pid, key, "adyen", 10_000, "EUR", at, card=NL_VISA,
                extra={"merchantAccount": merchant, "reports_url": URL})
    return payments.attempt(p, Outcome.approve(), at)


def _announced(found: list[Payment], day: float, key: str = "AQE_key") -> list[dict[str, Any]]:
    books = account_books(found, BOOKS, day, provider="adyen", namespace=key,
                          sub_account=provider.sub_account)
    events = reports.report_available(books, key, day)
    return [{"id": e.id, **orjson.loads(e.body)["notificationItems"][0][
        "NotificationRequestItem"]} for e in events]


def test_each_merchant_accounts_batch_is_announced_once_by_a_fixed_id() -> None:
    found = [_paid("A1", "ShopA"), _paid("B1", "ShopB")]
    first = _announced(found, 20_002 * DAY)
    assert [(i["merchantAccountCode"], i["pspReference"]) for i in first] == [
        ("ShopA", "settlement_detail_report_batch_1.csv"),
        ("ShopB", "settlement_detail_report_batch_1.csv")]
    assert first[0]["reason"] == (f"{URL}/MerchantAccount/ShopA/"
                                  "settlement_detail_report_batch_1.csv")
    assert len({i["id"] for i in first}) == 2
    assert _announced(found, 20_002 * DAY) == first  # announced again: the same events
    assert {i["id"] for i in _announced(
        [_paid("A1", "ShopA", key="AQE_other"), _paid("B1", "ShopB", key="AQE_other")],
        20_002 * DAY, "AQE_other")}.isdisjoint({i["id"] for i in first})

    # a day later only ShopA's second batch closes; nothing is announced twice
    later = [*found, _paid("A2", "ShopA", T0 + DAY)]
    (second,) = _announced(later, 20_003 * DAY)
    assert (second["merchantAccountCode"], second["pspReference"]) == \
        ("ShopA", "settlement_detail_report_batch_2.csv")
    assert _announced(later, 20_004 * DAY) == []
