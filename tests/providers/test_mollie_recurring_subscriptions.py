"""Mollie subscriptions on the virtual clock, through the official SDK: each period
charges the customer's mandate with a recurring payment carrying `subscriptionId` and
calls the subscription's webhookUrl; a canceled subscription charges no more, `times`
ends it `completed`, months are calendar months, and a scenario's decline of one period
fails that period's payment while the next still charges."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

import pytest
from mollie.api.client import Client
from mollie.api.error import UnprocessableEntityError
from mollie.api.objects.customer import Customer

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers import mollie_support as support
from tests.providers.mollie_support import webhook_id
from tests.providers.test_mollie_recurring import paying_customer


@pytest.fixture
def mollie(payment_simulator: SimulatorServer) -> Client:
    return support.client(payment_simulator)


def today(mollie: Client, c: Customer) -> date:
    """The virtual clock's date (the customer was created a moment ago)."""
    return date.fromisoformat(mollie.customers.get(c.id).created_at[:10])


def subscribe(c: Customer, start: date, **params: Any) -> Any:
    return c.subscriptions.create({
        "amount": {"currency": "EUR", "value": "25.00"}, "interval": "1 month",
        "description": "Monthly plan", "startDate": start.isoformat(), **params})


def months_after(d: date, n: int) -> date:
    m = d.month - 1 + n
    year, month = d.year + m // 12, m % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def charged(hooks: WebhookReceiver, count: int) -> list[str]:
    """The payment ids of the first `count` webhook calls, once they have come."""
    assert hooks.wait_for(lambda got: len(got) >= count), \
        f"expected {count} webhook calls, got {len(hooks.received)}"
    return [webhook_id(h) for h in hooks.received[:count]]


def test_each_period_charges_the_mandate_and_calls_the_webhook_until_canceled(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    c, mandate_id = paying_customer(mollie, payment_simulator)
    start = today(mollie, c) + timedelta(days=1)
    sub = subscribe(c, start, webhookUrl=hook_server.url, metadata={"plan": "gold"})
    assert sub.id.startswith("sub_") and sub.status == "active" and sub.is_active()
    assert sub.customer_id == c.id and sub.mandate_id == mandate_id
    assert (sub.start_date, sub.next_payment_date) == (start.isoformat(), start.isoformat())
    assert sub.webhook_url == hook_server.url and sub.metadata == {"plan": "gold"}

    payment_simulator.advance_clock("1d")
    first = charged(hook_server, 1)
    payment_simulator.advance_clock("31d")  # past the next month, whatever its length
    ids = charged(hook_server, 2)
    assert ids[0] == first[0] and len(set(ids)) == 2

    payments = [mollie.payments.get(pid) for pid in ids]
    for p in payments:
        assert (p.status, p.sequence_type, p.subscription_id) == ("paid", "recurring", sub.id)
        assert (p.customer_id, p.mandate_id) == (c.id, mandate_id)
        assert p.amount == {"currency": "EUR", "value": "25.00"}
        assert p.description == "Monthly plan" and p.metadata == {"plan": "gold"}
    assert sorted(p.id for p in sub.payments.list()) == sorted(ids)
    now = c.subscriptions.get(sub.id)
    assert now.next_payment_date == months_after(start, 2).isoformat()

    canceled = c.subscriptions.delete(sub.id)
    assert canceled.status == "canceled" and canceled.canceled_at is not None
    assert canceled.next_payment_date is None
    # A second subscription due a day after the canceled one's next date: when its
    # charge arrives, the canceled one's period has come and gone (due work runs in
    # the order of its virtual times).
    control = subscribe(c, months_after(start, 2) + timedelta(days=1),
                        description="Control", webhookUrl=hook_server.url)
    payment_simulator.advance_clock("62d")
    third = charged(hook_server, 3)[2]
    assert mollie.payments.get(third).subscription_id == control.id
    assert sorted(p.id for p in sub.payments.list()) == sorted(ids)
    assert c.subscriptions.get(sub.id).status == "canceled"


def test_times_ends_the_subscription_completed(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    c, _ = paying_customer(mollie, payment_simulator)
    start = today(mollie, c) + timedelta(days=1)
    sub = subscribe(c, start, times=2, interval="14 days", webhookUrl=hook_server.url)
    assert (sub.times, sub.times_remaining) == (2, 2)

    payment_simulator.advance_clock("1d")
    charged(hook_server, 1)
    after_one = c.subscriptions.get(sub.id)
    assert after_one.times_remaining == 1
    assert after_one.next_payment_date == (start + timedelta(days=14)).isoformat()

    payment_simulator.advance_clock("14d")
    charged(hook_server, 2)
    done = c.subscriptions.get(sub.id)
    assert done.status == "completed" and done.is_completed()
    assert done.times_remaining == 0 and done.next_payment_date is None
    assert len(list(done.payments.list())) == 2


@pytest.mark.payment_scenario("""
name: first-renewal-declined
rules:
  - match: {provider: mollie, operation: authorize, initiator: merchant}
    first: 1
    outcome: {decline: insufficient_funds}
""")
def test_a_declined_period_fails_its_payment_and_the_next_still_charges(
        mollie: Client, payment_simulator: SimulatorServer, hook_server: WebhookReceiver):
    c, _ = paying_customer(mollie, payment_simulator)
    start = today(mollie, c) + timedelta(days=1)
    sub = subscribe(c, start, interval="1 week", webhookUrl=hook_server.url)

    payment_simulator.advance_clock("1d")
    failed = mollie.payments.get(charged(hook_server, 1)[0])
    assert failed.status == "failed" and failed.subscription_id == sub.id
    assert failed.details["failureReason"] == "insufficient_funds"

    payment_simulator.advance_clock("7d")
    paid = mollie.payments.get(charged(hook_server, 2)[1])
    assert paid.status == "paid" and paid.subscription_id == sub.id
    assert c.subscriptions.get(sub.id).status == "active"


def test_months_are_calendar_months(mollie: Client, payment_simulator: SimulatorServer,
                                    hook_server: WebhookReceiver):
    c, _ = paying_customer(mollie, payment_simulator)
    now = today(mollie, c)
    # The 31st of the next month that has one and is followed by a shorter month (not
    # July or December, whose next months have 31 days too).
    month = months_after(now.replace(day=1), 1)
    while calendar.monthrange(month.year, month.month)[1] != 31 or month.month in (7, 12):
        month = months_after(month, 1)
    start = month.replace(day=31)
    sub = subscribe(c, start, webhookUrl=hook_server.url)

    payment_simulator.advance_clock(f"{(start - now).days}d")
    charged(hook_server, 1)
    following = months_after(start, 1)
    assert following.day < 31  # 28, 29 or 30: the end of the shorter month
    assert c.subscriptions.get(sub.id).next_payment_date == following.isoformat()


def test_subscriptions_are_listed_per_customer_and_for_the_whole_account(
        mollie: Client, payment_simulator: SimulatorServer):
    c, _ = paying_customer(mollie, payment_simulator)
    start = today(mollie, c) + timedelta(days=3)
    a = subscribe(c, start, description="Plan A")
    b = subscribe(c, start, description="Plan B")
    assert [s.id for s in c.subscriptions.list()] == [b.id, a.id]
    assert [s.id for s in mollie.subscriptions.list()] == [b.id, a.id]

    updated = c.subscriptions.update(a.id, {"amount": {"currency": "EUR", "value": "30.00"},
                                            "description": "Plan A+"})
    assert updated.amount == {"currency": "EUR", "value": "30.00"}
    assert c.subscriptions.get(a.id).description == "Plan A+"


def test_a_subscription_needs_a_mandate_and_a_valid_interval(mollie: Client):
    c = mollie.customers.create({"name": "No mandate"})
    with pytest.raises(UnprocessableEntityError, match="No suitable mandates"):
        c.subscriptions.create({"amount": {"currency": "EUR", "value": "5.00"},
                                "interval": "1 month", "description": "Plan"})
    with pytest.raises(UnprocessableEntityError, match="interval") as raised:
        c.subscriptions.create({"amount": {"currency": "EUR", "value": "5.00"},
                                "interval": "1 fortnight", "description": "Plan"})
    assert raised.value.field == "interval"
