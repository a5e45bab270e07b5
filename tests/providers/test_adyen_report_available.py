"""Adyen settles each merchant account on its own: two merchant accounts on one API key
get their own settlement batches, numbered from 1 each, and when a batch closes the
REPORT_AVAILABLE standard notification names its report. The notification is checked
with the SDK's own `Adyen.util.is_valid_hmac_notification`, and the URL in its `reason`
is downloaded as a report user does (requests, HTTP Basic) and read with the csv
module: it lists that merchant account's payments only."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

import Adyen
import requests

from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import HMAC_KEY, Checkout, Receiver, card, make_checkout

adyen = adyen_support.adyen
notifications = adyen_support.notifications
receiver = adyen_support.receiver

USER = "report@Company.TestCompany"
REPORT_AVAILABLE = "REPORT_AVAILABLE"


def reports_of(rx: Receiver, count: int) -> list[dict]:
    """The first `count` REPORT_AVAILABLE items, each verified with the SDK."""
    def arrived(got: list) -> bool:
        return sum(n.item["eventCode"] == REPORT_AVAILABLE for n in got) >= count
    assert rx.wait_for(arrived), rx.items()
    found = [n for n in rx.received if n.item["eventCode"] == REPORT_AVAILABLE]
    for n in found:
        assert Adyen.util.is_valid_hmac_notification(n.json(), HMAC_KEY), n.item
        assert n.json()["live"] == "false"
    return [n.item for n in found]


def lines_of(url: str, key: str, *, via: str | None = None,
             host: str | None = None) -> list[dict[str, str]]:
    """The report at `url`, downloaded with the report user's Basic credentials (at
    `via` instead of the URL's own address, with `host` as its Host header)."""
    if via is not None:
        url = via + urlsplit(url).path
    got = requests.get(url, auth=(USER, key), timeout=10,
                       headers={"Host": host} if host else {})
    assert got.status_code == 200, got.text
    assert got.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(got.text)))


def test_each_merchant_account_of_a_key_gets_its_own_batch_one_announced(
        payment_simulator: SimulatorServer, adyen: Checkout, notifications: Receiver):
    uk = make_checkout(payment_simulator, adyen.key, merchant="ShopUK_ECOM")
    nl = make_checkout(payment_simulator, adyen.key, merchant="ShopNL_ECOM")
    sold_uk = uk.pay(card(), value=10_000, reference="uk-1")
    sold_nl = [nl.pay(card(), value=v, reference=f"nl-{v}")["pspReference"]
               for v in (2_000, 3_000)]
    assert not notifications.items(REPORT_AVAILABLE)  # no batch closed yet

    payment_simulator.advance_clock("3d")  # available after two days, paid out that day
    items = {i["merchantAccountCode"]: i for i in reports_of(notifications, 2)}
    assert sorted(items) == ["ShopNL_ECOM", "ShopUK_ECOM"]
    for account, item in items.items():
        name = "settlement_detail_report_batch_1.csv"
        assert (item["pspReference"], item["success"], item["merchantReference"]) == \
            (name, "true", "")
        assert item["amount"] == {"currency": "EUR", "value": 0}
        assert item["reason"] == (payment_simulator.url("adyen") + "/reports/download/"
                                  f"MerchantAccount/{account}/{name}")
        assert item["eventDate"].endswith("T00:00:00+00:00")

    uk_lines = lines_of(items["ShopUK_ECOM"]["reason"], adyen.key)
    assert [(r["Type"], r["Psp Reference"], r["Batch Number"]) for r in uk_lines] == [
        ("Settled", sold_uk["pspReference"], "1"), ("MerchantPayout", "", "1")]
    assert {r["Merchant Account"] for r in uk_lines} == {"ShopUK_ECOM"}
    nl_lines = lines_of(items["ShopNL_ECOM"]["reason"], adyen.key)
    assert sorted(r["Psp Reference"] for r in nl_lines if r["Type"] == "Settled") == \
        sorted(sold_nl)
    assert {r["Merchant Account"] for r in nl_lines} == {"ShopNL_ECOM"}
    paid = sum(float(r["Net Credit (NC)"]) for r in nl_lines if r["Type"] == "Settled")
    assert float(nl_lines[-1]["Net Debit (NC)"]) == round(paid, 2)

    # The next day's capture for one of them closes that merchant account's batch 2 only
    later = nl.pay(card(), value=4_000)
    payment_simulator.advance_clock("3d")
    third = reports_of(notifications, 3)[2]
    assert (third["merchantAccountCode"], third["pspReference"]) == \
        ("ShopNL_ECOM", "settlement_detail_report_batch_2.csv")
    assert [r["Psp Reference"] for r in lines_of(third["reason"], adyen.key)] == \
        [later["pspReference"], ""]
    missing = requests.get(items["ShopUK_ECOM"]["reason"].replace("_1.csv", "_2.csv"),
                           auth=(USER, adyen.key), timeout=10)
    assert missing.status_code == 404 and "has not closed" in missing.json()["message"]


def test_a_client_on_adyens_hostnames_is_sent_to_ca_test(
        payment_simulator: SimulatorServer, notifications: Receiver):
    key = "AQE_report_available_on_the_real_host"
    made = requests.post(payment_simulator.base_url + "/v71/payments", timeout=10,
                         headers={"Host": "checkout-test.adyen.com", "X-API-Key": key},
                         json={"amount": {"currency": "EUR", "value": 1_000},
                               "merchantAccount": "TestMerchantECOM",
                               "reference": "real-host", "paymentMethod": card(),
                               "returnUrl": adyen_support.RETURN_URL})
    assert made.status_code == 200, made.text
    payment_simulator.advance_clock("3d")
    (item,) = reports_of(notifications, 1)
    url = item["reason"]
    assert url == ("https://ca-test.adyen.com/reports/download/MerchantAccount/"
                   "TestMerchantECOM/settlement_detail_report_batch_1.csv")
    lines = lines_of(url, key, via=payment_simulator.base_url, host="ca-test.adyen.com")
    assert [r["Psp Reference"] for r in lines] == [made.json()["pspReference"], ""]
