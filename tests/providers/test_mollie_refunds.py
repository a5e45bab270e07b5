"""Mollie payment refunds through the SDK: only paid payments, never more than what
remains, in the payment's currency; listed, fetched and embedded."""

from __future__ import annotations

import pytest
from mollie.api.client import Client
from mollie.api.error import NotFoundError, UnprocessableEntityError
from mollie.api.objects.payment import Payment

from paysandbox.testing.server import SimulatorServer
from tests.providers import mollie_support as support
from tests.providers.mollie_support import create


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


@pytest.fixture
def paid(mollie: Client, payment_simulator: SimulatorServer) -> Payment:
    p = create(mollie, amount={"currency": "EUR", "value": "20.00"})
    payment_simulator.client.complete(p.id, "success")
    return mollie.payments.get(p.id)


def eur(value: str) -> dict[str, dict[str, str]]:
    return {"amount": {"currency": "EUR", "value": value}}


def test_a_partial_refund(mollie: Client, paid: Payment):
    refund = paid.refunds.create({**eur("5.95"), "description": "Order #33",
                                  "metadata": {"bookkeeping_id": 12345}})

    assert refund.resource == "refund"
    assert refund.id.startswith("re_")
    assert refund.amount == {"currency": "EUR", "value": "5.95"}
    assert refund.status == "pending"
    assert refund.description == "Order #33"
    assert refund.metadata == {"bookkeeping_id": 12345}
    assert refund.payment_id == paid.id
    assert refund.get_payment().id == paid.id

    after = mollie.payments.get(paid.id)
    assert after.status == "paid"
    assert after.amount_refunded == {"value": "5.95", "currency": "EUR"}
    assert after.amount_remaining == {"value": "14.05", "currency": "EUR"}
    assert after.has_refunds()


def test_refunds_are_listed_newest_first_and_fetched_by_id(mollie: Client, paid: Payment):
    first = paid.refunds.create(eur("1.00"))
    second = paid.refunds.create(eur("2.00"))

    assert [r.id for r in paid.refunds.list()] == [second.id, first.id]
    page = paid.refunds.list(limit=1)
    assert [r.id for r in page] == [second.id] and page.has_next()
    assert [r.id for r in page.get_next()] == [first.id]
    assert paid.refunds.get(first.id).amount["value"] == "1.00"
    embedded = mollie.payments.get(paid.id, embed="refunds")
    assert [r["id"] for r in embedded["_embedded"]["refunds"]] == [second.id, first.id]


def test_the_whole_remainder_can_be_refunded_and_no_more(mollie: Client, paid: Payment):
    paid.refunds.create(eur("15.00"))
    with pytest.raises(UnprocessableEntityError) as err:
        paid.refunds.create(eur("5.01"))
    assert err.value.field == "amount.value"
    assert "5.00 EUR remaining" in str(err.value)

    paid.refunds.create(eur("5.00"))
    after = mollie.payments.get(paid.id)
    assert after.amount_remaining == {"value": "0.00", "currency": "EUR"}
    with pytest.raises(UnprocessableEntityError):
        paid.refunds.create(eur("0.01"))


def test_an_open_payment_cannot_be_refunded(mollie: Client):
    p = create(mollie)
    with pytest.raises(UnprocessableEntityError, match="Only paid payments can be refunded"):
        p.refunds.create(eur("1.00"))


def test_a_refund_in_another_currency_is_refused(paid: Payment):
    with pytest.raises(UnprocessableEntityError) as err:
        paid.refunds.create({"amount": {"currency": "USD", "value": "1.00"}})
    assert err.value.field == "amount.currency"


def test_an_unknown_refund_is_404(paid: Payment):
    with pytest.raises(NotFoundError, match="re_unknown"):
        paid.refunds.get("re_unknown")


def test_canceling_a_refund_is_refused_with_a_reason(paid: Payment):
    refund = paid.refunds.create(eur("1.00"))
    with pytest.raises(UnprocessableEntityError, match="not imitated"):
        paid.refunds.delete(refund.id)


def test_refunds_of_another_key_are_invisible(paid: Payment,
                                             payment_simulator: SimulatorServer):
    paid.refunds.create(eur("1.00"))
    other = support.client(payment_simulator)
    with pytest.raises(NotFoundError):
        other.payments.get(paid.id)
