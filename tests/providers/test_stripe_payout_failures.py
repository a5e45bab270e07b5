"""Stripe's test bank accounts on the official SDK: the account an API key is, its
external bank accounts (added by number or by test token, listed, made the default,
deleted), and payouts to Stripe's failing test account numbers failing when they would
have arrived, with Stripe's failure code, the funds back in the balance and
`payout.failed` sent instead of `payout.paid`."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from paysandbox.testing.server import SimulatorServer
from tests.providers.test_stripe_balance import PRICING, amounts, pay

DELAY = f"{PRICING['settlement']['delay_days']}d"


def add_bank_account(client: stripe.StripeClient, number: str,
                     **params: Any) -> stripe.BankAccount:
    account = client.v1.accounts.retrieve_current()
    made = client.v1.accounts.external_accounts.create(account.id, params={
        "external_account": {"object": "bank_account", "country": "US", "currency": "usd",
                             "routing_number": "110000000", "account_number": number},
        **params})
    assert isinstance(made, stripe.BankAccount)
    return made


def test_an_accounts_bank_accounts_are_added_listed_and_deleted(
        client: stripe.StripeClient) -> None:
    account = client.v1.accounts.retrieve_current()
    assert account.id.startswith("acct_") and account.payouts_enabled
    assert client.v1.accounts.retrieve_current().id == account.id
    (starting,) = account.external_accounts.data
    assert (starting.last4, starting.default_for_currency) == ("6789", True)

    first = add_bank_account(client, "000123456789", metadata={"label": "ops"})
    assert (first.account, first.last4, first.routing_number, first.country,
            first.currency, first.default_for_currency) == (
        account.id, "6789", "110000000", "US", "usd", True)
    second = client.v1.accounts.external_accounts.create(account.id, params={
        "external_account": "btok_us_verified_noAccount"})
    assert isinstance(second, stripe.BankAccount)
    assert (second.last4, second.default_for_currency) == ("1116", False)

    listed = client.v1.accounts.external_accounts.list(account.id).data
    assert [b.id for b in listed] == [second.id, first.id, starting.id]
    assert [b.id for b in listed if b.default_for_currency] == [first.id]
    made_default = client.v1.accounts.external_accounts.update(
        account.id, second.id, params={"default_for_currency": True})
    assert made_default.default_for_currency is True
    assert client.v1.accounts.external_accounts.retrieve(
        account.id, first.id).default_for_currency is False

    with pytest.raises(stripe.InvalidRequestError) as default:
        client.v1.accounts.external_accounts.delete(account.id, second.id)
    assert default.value.http_status == 400
    deleted = client.v1.accounts.external_accounts.delete(account.id, first.id)
    assert deleted.deleted is True
    assert [b.id for b in client.v1.accounts.external_accounts.list(account.id).data] == [
        second.id, starting.id]


@pytest.mark.parametrize(("call", "status", "param"), [
    (lambda c, a: add_bank_account(c, "000999999999"), 400,
     "external_account[account_number]"),
    (lambda c, a: c.v1.accounts.external_accounts.create(
        a, params={"external_account": "btok_nope"}), 400, "external_account"),
    (lambda c, a: c.v1.accounts.external_accounts.list("acct_someone_else"), 404,
     "account"),
    (lambda c, a: c.v1.accounts.external_accounts.retrieve(a, "ba_nope"), 404, "id"),
])
def test_what_is_no_test_bank_account_gets_stripes_errors(
        client: stripe.StripeClient, call: Any, status: int, param: str) -> None:
    account = client.v1.accounts.retrieve_current().id
    with pytest.raises(stripe.InvalidRequestError) as info:
        call(client, account)
    assert (info.value.http_status, info.value.param) == (status, param)


@pytest.mark.parametrize(("number", "code"), [
    ("000111111116", "no_account"),
    ("000111111113", "account_closed"),
    ("000222222227", "insufficient_funds"),
    ("000333333335", "debit_not_authorized"),
    ("000444444440", "invalid_currency"),
])
def test_a_payout_to_a_failing_test_account_fails_when_it_would_arrive(
        client: stripe.StripeClient, payment_simulator: SimulatorServer,
        webhook_receiver: Any, number: str, code: str) -> None:
    bank = add_bank_account(client, number)
    pay(client, 10_000)
    payment_simulator.advance_clock(DELAY)
    (payout,) = client.v1.payouts.list().data
    assert (payout.status, payout.destination, payout.failure_code) == (
        "in_transit", bank.id, None)
    assert amounts(client.v1.balance.retrieve())[0] == {"usd": 0}

    payment_simulator.advance_clock("1d")
    failed = client.v1.payouts.retrieve(payout.id)
    assert (failed.status, failed.failure_code) == ("failed", code)
    assert failed.failure_message
    back = client.v1.balance_transactions.retrieve(str(failed.failure_balance_transaction))
    assert (back.type, back.amount, back.source) == ("payout_failure", payout.amount,
                                                      payout.id)
    assert back.created == payout.arrival_date
    assert amounts(client.v1.balance.retrieve())[0] == {"usd": payout.amount}

    sent = webhook_receiver.wait_for("stripe", "payout.failed")
    event = stripe.Webhook.construct_event(sent.body.decode(),
                                           sent.headers["stripe-signature"],
                                           webhook_receiver.secret("stripe"))
    assert (event.data.object["id"], event.data.object["failure_code"]) == (payout.id, code)
    announced = [r.json()["type"] for r in webhook_receiver.received("stripe")]
    assert [t for t in announced if t.startswith("payout.")] == [
        "payout.created", "payout.failed"]


def test_a_payout_goes_to_the_bank_account_that_was_the_default_on_its_day(
        client: stripe.StripeClient, payment_simulator: SimulatorServer) -> None:
    pay(client, 10_000)
    payment_simulator.advance_clock(DELAY)
    (payout,) = client.v1.payouts.list().data
    add_bank_account(client, "000111111113")  # after the payout was made
    payment_simulator.advance_clock("1d")
    paid = client.v1.payouts.retrieve(payout.id)
    assert (paid.status, paid.destination) == ("paid", payout.destination)
    assert paid.failure_code is None
