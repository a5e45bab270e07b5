"""Checkout.com financial actions on the official SDK (`financial.query`): a captured
and partly refunded payment in GBP, its capture broken down into the interchange,
scheme fee, premium (markup) and gateway fee (commission) of pricing.yaml's
`checkoutcom` numbers, the payout that paid it once the clock has passed the settlement
delay, and paging, filters and bad queries as Checkout.com answers them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

import pytest
import requests
import yaml
from checkout_sdk.common.enums import Currency
from checkout_sdk.exception import CheckoutApiException
from checkout_sdk.financial.financial import FinancialActionsQuery

from paysandbox.testing.server import SimulatorServer
from tests.providers.checkoutcom_support import RefundRequest, card_payment, new_key, sdk

PRICING = yaml.safe_load(resources.files("paysandbox.ledger").joinpath("pricing.yaml")
                         .read_text("utf-8"))["checkoutcom"]


def pct(amount: int, rate: Any) -> int:
    return int((Decimal(amount) * Decimal(str(rate)) / 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP))


def query(**given: Any) -> FinancialActionsQuery:
    q = FinancialActionsQuery()
    for k, v in given.items():
        setattr(q, k, v)
    return q


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def api(payment_simulator: SimulatorServer, key: str) -> Any:
    return sdk(payment_simulator.url("checkoutcom"), key)


@pytest.fixture
def paid(api: Any, payment_simulator: SimulatorServer, key: str) -> dict[str, Any]:
    """A GBP card payment of 100.00 captured at once, 25.00 of it refunded."""
    pay = api.payments.request_payment(card_payment(amount=10_000, currency=Currency.GBP,
                                                    reference="ORD-1"))
    refund = RefundRequest()
    refund.amount = 2_500
    refunded = api.payments.refund_payment(pay.id, refund)
    (entry, *_) = [e for e in payment_simulator.admin(
        "GET", f"/ledger?namespace={key}")["entries"] if e["type"] == "charge"]
    return {"id": pay.id, "refund_action": refunded.action_id, "entry": entry}


def test_a_capture_is_broken_down_into_the_pricings_fees_and_paid_out(
        api: Any, paid: dict[str, Any], payment_simulator: SimulatorServer):
    found = api.financial.query(query(payment_id=paid["id"]))
    assert (found.count, found.limit) == (2, 100)
    refund, capture = found.data  # latest first
    assert (capture.action_type, refund.action_type) == ("Capture", "Refund")
    actions = {a.type: a.id for a in api.payments.get_payment_actions(paid["id"]).items}
    assert capture.action_id == actions["Capture"]
    assert refund.action_id == paid["refund_action"] == actions["Refund"]

    source = api.payments.get_payment_details(paid["id"]).source
    foreign = getattr(source, "issuer_country", None) not in (
        None, PRICING["settlement"]["country"])
    interchange = PRICING["interchange"]["international" if foreign else source.card_type
                                         .lower()]
    fees = {"Interchange Variable Fee": pct(10_000, interchange),
            "Scheme Variable Fee": pct(10_000, PRICING["scheme_fee_percent"]),
            "Premium Variable Fee": pct(10_000, PRICING["markup_percent"]),
            "Gateway Fixed Fee": PRICING["commission"]["gbp"]}
    lines = {b.breakdown_type: b for b in capture.breakdown}
    assert lines["Capture"].holding_currency_amount == 100.0
    assert {k: round(lines[k].holding_currency_amount * 100) for k in fees} == fees
    assert {b.holding_currency for b in capture.breakdown} == {"GBP"}
    assert sum(fees.values()) == paid["entry"]["fee"]  # the sandbox's own books agree
    assert [b.breakdown_type for b in refund.breakdown] == ["Refund"]
    assert refund.breakdown[0].processing_currency_amount == 25.0
    assert not hasattr(capture, "payout_id") and capture.reference == "ORD-1"

    payment_simulator.advance_clock(f"{PRICING['settlement']['delay_days'] + 1}d")
    refund, capture = api.financial.query(query(payment_id=paid["id"])).data
    assert capture.payout_id == refund.payout_id and len(capture.payout_id) == 12
    report = payment_simulator.admin("GET", "/contracts")
    assert report["total"] == 0, report["groups"]


def test_filter_by_action_and_page_with_the_next_link(
        api: Any, paid: dict[str, Any], payment_simulator: SimulatorServer, key: str):
    (only,) = api.financial.query(query(action_id=paid["refund_action"])).data
    assert only.action_type == "Refund"
    first = api.financial.query(query(payment_id=paid["id"], limit=1))
    assert first.count == 1 and first.data[0].action_type == "Refund"
    nxt = requests.get(first._links.next.href, headers={"Authorization": f"Bearer {key}"},
                       timeout=10).json()
    assert [a["action_type"] for a in nxt["data"]] == ["Capture"] and "next" not in nxt[
        "_links"]
    assert api.financial.query(query(payment_id="pay_" + "a" * 26)).count == 0


@pytest.mark.parametrize(("params", "code"), [
    ({}, "payment_id_or_action_id_required"),
    ({"payment_id": "pay_x", "limit": 101}, "paging_limit_invalid"),
    ({"payment_id": "pay_x", "limit": 0}, "paging_limit_invalid"),
    ({"payment_id": "pay_x", "pagination_token": "!!"}, "pagination_token_invalid"),
])
def test_a_bad_query_is_checkoutcoms_422(api: Any, params: dict[str, Any], code: str):
    with pytest.raises(CheckoutApiException) as err:
        api.financial.query(query(**params))
    assert err.value.http_metadata.status_code == 422
    assert code in err.value.error_details
