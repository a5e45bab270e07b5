"""The delivery log of simulators on one Redis is the fleet's: any of them lists, shows,
redelivers and resets the deliveries of all, within the `--delivery-log` bound."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import stripe

from paysandbox.settings import Settings, WebhookTarget
from paysandbox.testing.server import SimulatorServer
from tests.outbox.receiver import SECRET, Receiver
from tests.waiting import wait_until


def pay(server: SimulatorServer, key: str) -> str:
    client = stripe.StripeClient(key, base_addresses={"api": server.url("stripe")},
                                 max_network_retries=0)
    pi = client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True})
    assert pi.status == "succeeded"
    return pi.id


def deliveries(server: SimulatorServer, query: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.admin(
        "GET", f"/webhooks/deliveries?limit=1000{query}")["deliveries"]
    return found


def start_fleet(redis_url: str, receiver: Receiver,
                **options: Any) -> tuple[SimulatorServer, SimulatorServer]:
    settings = Settings(store=redis_url, webhooks={"stripe": WebhookTarget(
        f"http://127.0.0.1:{receiver.port}/hook", SECRET)}, **options)
    a, b = SimulatorServer(settings), SimulatorServer(settings)
    a.start()
    b.start()
    return a, b


@pytest.fixture
def empty_redis(redis_url: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()


def test_any_simulator_lists_shows_redelivers_and_resets_the_fleets_deliveries(
        empty_redis: str, plain_receiver: Receiver) -> None:
    a, b = start_fleet(empty_redis, plain_receiver)
    try:
        key, other = f"sk_test_{uuid.uuid4().hex}", f"sk_test_{uuid.uuid4().hex}"
        pay(a, key)
        pay(b, other)
        assert wait_until(lambda: len(deliveries(b, "&state=delivered")) >= 2)
        from_a = [d for d in deliveries(b) if d["namespace"] == key]
        assert from_a, "B does not list the deliveries of A's events"
        assert deliveries(a) == deliveries(b)  # one log, whichever process answers

        first = from_a[-1]
        shown = b.admin("GET", f"/webhooks/deliveries/{first['id']}")
        assert shown["event_id"] == first["event_id"]
        assert shown["body"]["id"] == first["event_id"]  # the event as it was sent
        assert SECRET not in str(shown)  # the signing secret stays in Redis
        assert [d["id"] for d in deliveries(b, f"&event_id={first['event_id']}")] == [
            first["id"]]

        again = b.admin("POST", f"/webhooks/deliveries/{first['id']}/redeliver")
        assert again["id"] != first["id"]
        event_id = str(first["event_id"])
        assert wait_until(lambda: plain_receiver.delivered[event_id] == 2)
        assert wait_until(lambda: a.admin("GET", f"/webhooks/deliveries/{again['id']}")
                          ["state"] == "delivered")

        b.admin("POST", "/reset", {"namespace": key})
        assert [d for d in deliveries(a) if d["namespace"] == key] == []
        assert [d for d in deliveries(a) if d["namespace"] == other]  # the other key's stay
        assert plain_receiver.bad_signatures == 0
    finally:
        a.stop()
        b.stop()


def test_the_fleets_delivery_log_keeps_the_newest_records_within_its_bound(
        empty_redis: str, plain_receiver: Receiver) -> None:
    a, b = start_fleet(empty_redis, plain_receiver, delivery_log=3)
    try:
        key = f"sk_test_{uuid.uuid4().hex}"
        last = [pay(server, key) for server in (a, b, a)][-1]
        assert wait_until(lambda: b.admin("GET", "/webhooks")["deliveries"]["delivered"]
                          == len(plain_receiver.delivered_ids()) > 3)
        listed = deliveries(b)
        assert len(listed) == 3
        # the newest three records: those of the last payment's events
        for d in listed:
            assert last in str(a.admin("GET", f"/webhooks/deliveries/{d['id']}")["body"])
    finally:
        a.stop()
        b.stop()


def test_the_fleets_owed_deliveries_are_bounded_and_the_one_beyond_fails_as_dropped(
        empty_redis: str, receiver: Receiver) -> None:
    # Every first attempt fails, so each delivery is owed (its retry waits 300 virtual
    # seconds) once tried: two owed fill the fleet's queue.
    a, b = start_fleet(empty_redis, receiver, delivery_queue=2)
    try:
        key = f"sk_test_{uuid.uuid4().hex}"
        pay(a, key)
        assert wait_until(lambda: len(receiver.attempts) >= 2)
        pay(b, key)
        assert wait_until(lambda: deliveries(a, "&state=failed"))
        dropped = deliveries(a, "&state=failed")
        assert {d["failure"] for d in dropped} == {"dropped: queue full"}
        assert wait_until(lambda: b.admin("GET", "/webhooks")["deliveries"]["dropped"]
                          == len(dropped))
        assert b.admin("GET", "/webhooks")["deliveries"]["pending"] == 2
    finally:
        a.stop()
        b.stop()


def test_a_retry_waits_for_no_process_and_any_simulators_clock_releases_it(
        empty_redis: str, receiver: Receiver) -> None:
    a, b = start_fleet(empty_redis, receiver)
    try:
        key = f"sk_test_{uuid.uuid4().hex}"
        pay(a, key)  # every first attempt fails: each retry is 300 virtual seconds away
        assert wait_until(lambda: len(deliveries(b, "&state=pending")) >= 2
                          and all(len(d["attempts"]) == 1 for d in deliveries(b)))
        owed = {str(d["event_id"]) for d in deliveries(b)}
        b.admin("POST", "/clock/advance", {"by": "10m"})
        assert wait_until(lambda: owed <= receiver.delivered_ids())
        # the log says so once the sender has its answer, a moment after the receiver
        assert wait_until(lambda: {d["state"] for d in deliveries(a)} == {"delivered"})
        assert all(len(d["attempts"]) == 2 for d in deliveries(a))
    finally:
        a.stop()
        b.stop()


def test_a_simulator_stopped_gracefully_hands_back_what_it_had_not_begun(
        empty_redis: str, receiver: Receiver) -> None:
    # One attempt at a time per host, each held 0.3 s by the receiver: the process holds
    # deliveries it has not begun when it stops. The lease is far longer than the wait
    # below, so only a hand-back lets the other process send them in time.
    a, b = start_fleet(empty_redis, receiver, delivery_concurrency=1, delivery_lease=600,
                       clock_scale=100)
    try:
        key = f"sk_test_{uuid.uuid4().hex}"
        for _ in range(6):
            pay(a, key)
    finally:
        a.stop()
    try:
        client = stripe.StripeClient(key, base_addresses={"api": b.url("stripe")},
                                     max_network_retries=0)
        events = {e.id for e in client.v1.events.list(params={"limit": 100})
                  .auto_paging_iter()}
        assert len(events) >= 6
        assert wait_until(lambda: events <= receiver.delivered_ids(), timeout=60), (
            f"{len(events - receiver.delivered_ids())} of {len(events)} never delivered")
    finally:
        b.stop()


def test_an_endpoint_set_through_one_simulator_is_the_fleets(
        empty_redis: str, plain_receiver: Receiver) -> None:
    """PUT /__admin/webhooks on A: B lists it and sends B's events there; DELETE on B: A
    no longer has it."""
    a, b = SimulatorServer(Settings(store=empty_redis)), SimulatorServer(
        Settings(store=empty_redis))
    a.start()
    b.start()
    try:
        url = f"http://127.0.0.1:{plain_receiver.port}/hook"
        a.admin("PUT", "/webhooks/stripe", {"url": url, "secret": SECRET})
        assert wait_until(lambda: "stripe" in b.admin("GET", "/webhooks")["endpoints"])
        key = f"sk_test_{uuid.uuid4().hex}"
        pay(b, key)
        assert wait_until(lambda: any(d["state"] == "delivered" and d["namespace"] == key
                                      for d in deliveries(a)))

        b.admin("DELETE", "/webhooks/stripe")
        assert wait_until(lambda: "stripe" not in a.admin("GET", "/webhooks")["endpoints"])
    finally:
        a.stop()
        b.stop()
