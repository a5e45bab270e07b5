"""Mollie payments through the official mollie-api-python SDK: create, get, list with
pagination, update, cancel, the hosted test checkout, admin completion, expiry on the
virtual clock, namespacing and idempotency."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests
from mollie.api.client import Client
from mollie.api.error import NotFoundError, UnprocessableEntityError

from paysandbox.testing.server import SimulatorServer
from tests.providers import mollie_support as support
from tests.providers.mollie_support import REDIRECT, create


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


# -- create and get ------------------------------------------------------------------------

def test_a_new_payment_is_open_with_a_checkout_link(mollie: Client,
                                                    payment_simulator: SimulatorServer):
    p = create(mollie, issuer="ideal_INGBNL2A", metadata={"order_id": "12345"},
               webhookUrl="https://webshop.example.org/payments/webhook/", locale="nl_NL")

    assert p.resource == "payment"
    assert p.id.startswith("tr_") and len(p.id) == 13
    assert p.mode == "test"
    assert p.status == "open" and p.is_open()
    assert p.amount == {"value": "10.00", "currency": "EUR"}
    assert p.description == "Order #12345"
    assert p.method == "ideal"
    assert p.metadata == {"order_id": "12345"}
    assert p.locale == "nl_NL"
    assert p.redirect_url == REDIRECT
    assert p.webhook_url == "https://webshop.example.org/payments/webhook/"
    assert p.sequence_type == "oneoff"
    assert p.profile_id.startswith("pfl_")
    assert p.is_cancelable is False
    assert p.paid_at is None and not p.is_paid()
    assert p.checkout_url.startswith(f"{payment_simulator.base_url}/__hosted/mollie/checkout/")
    assert p["_links"]["self"]["href"] == f"{payment_simulator.url('mollie')}/v2/payments/{p.id}"
    assert p["_links"]["documentation"]["href"].startswith("https://docs.mollie.com/")
    # iDEAL lives 15 minutes (Mollie's "payment status changes" guide).
    assert _at(p.expires_at) - _at(p.created_at) == timedelta(minutes=15)

    again = mollie.payments.get(p.id)
    assert again.id == p.id and again.status == "open"
    assert again.checkout_url == p.checkout_url


def test_amounts_keep_the_currency_s_decimals(mollie: Client):
    yen = create(mollie, method="creditcard", amount={"currency": "JPY", "value": "1500"})
    assert yen.amount == {"value": "1500", "currency": "JPY"}
    pounds = create(mollie, method="paypal", amount={"currency": "GBP", "value": "0.99"})
    assert pounds.amount == {"value": "0.99", "currency": "GBP"}


@pytest.mark.parametrize(("method", "lifetime"), [
    ("ideal", timedelta(minutes=15)), ("creditcard", timedelta(minutes=30)),
    ("bancontact", timedelta(hours=1)), ("paypal", timedelta(hours=3))])
def test_each_method_expires_after_its_documented_lifetime(mollie: Client, method: str,
                                                           lifetime: timedelta):
    p = create(mollie, method=method)
    assert _at(p.expires_at) - _at(p.created_at) == lifetime


def test_a_bank_transfer_carries_transfer_instructions_and_can_be_canceled(mollie: Client):
    p = create(mollie, method="banktransfer", billingEmail="shopper@example.org")

    assert p.details["bankBic"] and p.details["transferReference"].startswith("RF")
    assert p.details["billingEmail"] == "shopper@example.org"
    assert p.is_cancelable is True
    assert timedelta(days=12) <= _at(p.expires_at) - _at(p.created_at) <= timedelta(days=14)

    canceled = mollie.payments.delete(p.id)
    assert canceled.status == "canceled" and canceled.is_canceled()
    assert canceled.canceled_at is not None
    assert canceled.is_cancelable is False
    assert "checkout" not in canceled["_links"]


def test_an_open_ideal_payment_cannot_be_canceled_by_the_merchant(mollie: Client):
    p = create(mollie)
    with pytest.raises(UnprocessableEntityError) as err:
        mollie.payments.delete(p.id)
    assert err.value.status == 422
    assert "cannot be canceled" in str(err.value)
    assert mollie.payments.get(p.id).status == "open"


def test_update_changes_an_open_payment(mollie: Client):
    p = create(mollie)
    updated = mollie.payments.update(p.id, {"description": "Order #54321",
                                            "metadata": {"step": 2},
                                            "redirectUrl": "https://webshop.example.org/b/"})
    assert updated.description == "Order #54321"
    assert updated.metadata == {"step": 2}
    assert updated.redirect_url == "https://webshop.example.org/b/"
    assert mollie.payments.get(p.id).description == "Order #54321"


def test_a_paid_payment_cannot_be_updated(mollie: Client, payment_simulator: SimulatorServer):
    p = create(mollie)
    payment_simulator.client.complete(p.id, "success")
    with pytest.raises(UnprocessableEntityError, match="Only open payments"):
        mollie.payments.update(p.id, {"description": "too late"})


def test_an_unknown_payment_is_404(mollie: Client):
    with pytest.raises(NotFoundError) as err:
        mollie.payments.get("tr_doesnotexist")
    assert err.value.status == 404
    assert "tr_doesnotexist" in str(err.value)


# -- list --------------------------------------------------------------------------------

def test_list_is_newest_first_and_paginates_with_from_and_limit(mollie: Client):
    ids = [create(mollie, description=f"Order {i}").id for i in range(5)]
    newest_first = ids[::-1]

    first = mollie.payments.list(limit=2)
    assert first.count == 2
    assert [p.id for p in first] == newest_first[:2]
    assert first.has_next() and not first.has_previous()

    second = first.get_next()
    assert [p.id for p in second] == newest_first[2:4]
    third = second.get_next()
    assert [p.id for p in third] == newest_first[4:]
    assert not third.has_next()

    from_third = mollie.payments.list(**{"from": newest_first[2], "limit": 10})
    assert [p.id for p in from_third] == newest_first[2:]


def test_list_defaults_to_fifty(mollie: Client):
    for _ in range(3):
        create(mollie)
    everything = mollie.payments.list()
    assert everything.count == 3
    assert everything["_links"]["documentation"]["href"].endswith("list-payments")


# -- namespacing and idempotency ---------------------------------------------------------

def test_two_api_keys_never_see_each_other_s_payments(payment_simulator: SimulatorServer):
    a, b = support.client(payment_simulator), support.client(payment_simulator)
    mine = create(a)

    with pytest.raises(NotFoundError):
        b.payments.get(mine.id)
    assert b.payments.list().count == 0
    assert [p.id for p in a.payments.list()] == [mine.id]


def test_the_same_idempotency_key_replays_the_first_payment(mollie: Client):
    body = {"amount": {"currency": "EUR", "value": "25.00"}, "description": "Once",
            "redirectUrl": REDIRECT, "method": "ideal"}
    first = mollie.payments.create(body, idempotency_key="order-77-attempt-1")
    again = mollie.payments.create(body, idempotency_key="order-77-attempt-1")

    assert again.id == first.id
    assert mollie.payments.list().count == 1
    other = mollie.payments.create(body, idempotency_key="order-77-attempt-2")
    assert other.id != first.id


def test_a_reused_idempotency_key_with_another_body_is_refused(
        mollie: Client, payment_simulator: SimulatorServer):
    create(mollie, idempotency_key="k-1")
    key = mollie.api_key
    resp = requests.post(f"{payment_simulator.url('mollie')}/v2/payments", json={
        "amount": {"currency": "EUR", "value": "99.00"}, "description": "Other",
        "redirectUrl": REDIRECT}, headers={"Authorization": f"Bearer {key}",
                                           "Idempotency-Key": "k-1"}, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["title"] == "Bad Request"
    assert "idempotency key" in resp.json()["detail"]


def test_a_replay_says_so_in_a_header(mollie: Client, payment_simulator: SimulatorServer):
    headers = {"Authorization": f"Bearer {mollie.api_key}", "Idempotency-Key": "same"}
    body = {"amount": {"currency": "EUR", "value": "5.00"}, "description": "d",
            "redirectUrl": REDIRECT}
    url = f"{payment_simulator.url('mollie')}/v2/payments"
    first = requests.post(url, json=body, headers=headers, timeout=10)
    second = requests.post(url, json=body, headers=headers, timeout=10)
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]


# -- completion and expiry ---------------------------------------------------------------

@pytest.mark.parametrize(("outcome", "status", "stamp"), [
    ("success", "paid", "paid_at"), ("failure", "failed", "failed_at"),
    ("canceled", "canceled", "canceled_at"), ("expired", "expired", "expired_at")])
def test_admin_completion_moves_the_payment(mollie: Client, payment_simulator: SimulatorServer,
                                            outcome: str, status: str, stamp: str):
    p = create(mollie)
    payment_simulator.client.complete(p.id, outcome)

    after = mollie.payments.get(p.id)
    assert after.status == status
    assert getattr(after, stamp) is not None
    assert after.expires_at is None
    assert after.checkout_url is None


def test_a_paid_payment_reports_what_can_be_refunded(mollie: Client,
                                                     payment_simulator: SimulatorServer):
    p = create(mollie, amount={"currency": "EUR", "value": "42.10"})
    assert p.amount_remaining is None
    payment_simulator.client.complete(p.id, "success")
    paid = mollie.payments.get(p.id)
    assert paid.is_paid()
    assert paid.amount_refunded == {"value": "0.00", "currency": "EUR"}
    assert paid.amount_remaining == {"value": "42.10", "currency": "EUR"}
    assert paid.details["consumerBic"]


def test_an_open_ideal_payment_expires_after_fifteen_virtual_minutes(
        mollie: Client, payment_simulator: SimulatorServer):
    p = create(mollie)
    payment_simulator.advance_clock("14m")
    assert mollie.payments.get(p.id).status == "open"

    payment_simulator.advance_clock("2m")
    support.wait(lambda: mollie.payments.get(p.id).status == "expired")
    expired = mollie.payments.get(p.id)
    assert expired.is_expired() and expired.expired_at is not None


def test_a_paid_payment_does_not_expire(mollie: Client, payment_simulator: SimulatorServer):
    p = create(mollie)
    payment_simulator.client.complete(p.id, "success")
    payment_simulator.advance_clock("16m")
    assert mollie.payments.get(p.id).status == "paid"


def test_a_bank_transfer_due_date_sets_its_expiry(mollie: Client,
                                                  payment_simulator: SimulatorServer):
    created = create(mollie, method="banktransfer")
    today = _at(created.created_at).date()
    due = today + timedelta(days=3)
    p = create(mollie, method="banktransfer", dueDate=due.isoformat())
    assert _at(p.expires_at).date() == due + timedelta(days=1)

    payment_simulator.advance_clock("2d")
    assert mollie.payments.get(p.id).status == "open"
    payment_simulator.advance_clock("3d")
    support.wait(lambda: mollie.payments.get(p.id).status == "expired")


# -- the hosted test checkout (without a browser; tests/e2e clicks it in Chromium) -------

@pytest.mark.parametrize("status", ["paid", "failed", "canceled", "expired"])
def test_the_checkout_sets_the_status_picked_and_returns_to_the_shop(
        mollie: Client, status: str):
    p = create(mollie)
    page = requests.get(p.checkout_url, timeout=10)
    assert page.status_code == 200 and "10.00 EUR" in page.text
    assert all(f"id='{s}'" in page.text for s in ("paid", "failed", "canceled", "expired"))

    back = requests.post(p.checkout_url, data={"status": status}, allow_redirects=False,
                         timeout=10)
    assert back.status_code == 303
    assert back.headers["Location"] == REDIRECT
    assert mollie.payments.get(p.id).status == status
    # Opening the link again shows where the payment stands, not a second choice.
    again = requests.get(p.checkout_url, timeout=10).text
    assert f"is {status}." in again and "id='paid'" not in again


def test_canceling_at_the_checkout_goes_to_the_cancel_url(mollie: Client):
    p = create(mollie, cancelUrl="https://webshop.example.org/cart/")
    back = requests.post(p.checkout_url, data={"status": "canceled"}, allow_redirects=False,
                         timeout=10)
    assert back.headers["Location"] == "https://webshop.example.org/cart/"


def test_a_card_payment_failed_at_the_checkout_carries_the_reason_picked(mollie: Client):
    p = create(mollie, method="creditcard")
    requests.post(p.checkout_url, data={"status": "failed", "reason": "expired_card"},
                  timeout=10, allow_redirects=False)
    failed = mollie.payments.get(p.id)
    assert failed.status == "failed"
    assert failed.details["failureReason"] == "card_expired"
    assert failed.details["failureMessage"]


def test_a_payment_without_a_method_gets_the_one_chosen_at_the_checkout(mollie: Client):
    p = create(mollie, method=["ideal", "bancontact"])
    assert p.method is None
    page = requests.get(p.checkout_url, timeout=10).text
    assert "Bancontact" in page and "PayPal" not in page
    requests.post(p.checkout_url, data={"status": "paid", "method": "bancontact"},
                  timeout=10, allow_redirects=False)
    paid = mollie.payments.get(p.id)
    assert paid.status == "paid" and paid.method == "bancontact"


def test_an_unknown_checkout_link_is_404(payment_simulator: SimulatorServer):
    resp = requests.get(f"{payment_simulator.base_url}/__hosted/mollie/checkout/nope",
                        timeout=10)
    assert resp.status_code == 404
