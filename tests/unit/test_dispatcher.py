"""The webhook dispatcher against a real local receiver, on a virtual clock: retries
become due when the clock is advanced, never by waiting."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
import stripe
from aiohttp import web

from paysandbox.core.clock import VirtualClock
from paysandbox.providers.stripe.wire import StripeWebhooks
from paysandbox.settings import default_secret
from paysandbox.webhooks.dispatcher import Delivery, Dispatcher, Endpoint, Event, Signed

START = 1_700_000_000.0
WAIT = 10.0  # a safety net for a broken dispatcher, never an assertion on time


class FrozenWall:
    """Wall time that stands still: virtual time moves only through `advance`."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class PlainScheme:
    """A minimal scheme with a short, recognisable retry schedule."""

    retry_schedule: Sequence[float] = (60.0, 600.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {"Content-Type": "application/json",
                             "X-Test-Signature": f"{secret}:{timestamp}"})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base: str
    fail_first: int = 0
    hits: list[Hit] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url(self, path: str = "/hooks") -> str:
        return self.base + path

    async def wait_hits(self, n: int) -> None:
        async def _wait() -> None:
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.hits) >= n)
        await asyncio.wait_for(_wait(), WAIT)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver(base="")

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        status = 500 if len(rx.hits) < rx.fail_first else 200
        async with rx.arrived:
            rx.hits.append(Hit(request.path, dict(request.headers), body))
            rx.answered.append(status)
            rx.arrived.notify_all()
        return web.Response(status=status, text="down" if status == 500 else "ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    rx.base = f"http://127.0.0.1:{port}"
    try:
        yield rx
    finally:
        await runner.cleanup()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START, wall=FrozenWall(START))


@pytest.fixture
async def dispatcher(clock: VirtualClock) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(clock, timeout=WAIT)
    await d.start()
    yield d
    await d.stop(drain_timeout=1.0)


_counter = iter(range(10**9))


def event(*, provider: str = "stripe", namespace: str = "sk_test_a",
          type: str = "payment_intent.succeeded", body: bytes | None = None) -> Event:
    n = next(_counter)
    payload = body if body is not None else f'{{"id": "evt_{n}", "type": "{type}"}}'.encode()
    return Event(id=f"evt_{n}", provider=provider, namespace=namespace, type=type,
                 created=START, render=lambda: payload)


async def until(predicate: Callable[[], bool]) -> None:
    async def _poll() -> None:
        while not predicate():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(_poll(), WAIT)


async def settle() -> None:
    """Give the dispatcher's loop a few turns (to show that nothing happens)."""
    for _ in range(20):
        await asyncio.sleep(0.005)


# -- delivery -------------------------------------------------------------------------

async def test_delivers_with_the_schemes_signed_headers(receiver: Receiver) -> None:
    secret = "whsec_test_secret"
    body = b'{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded"}'
    e = event(body=body)
    # Stripe's verifier checks the timestamp against real time, so sign with a clock
    # that reads real time.
    real = Dispatcher(VirtualClock())
    await real.start()
    try:
        (d,) = real.publish(e, StripeWebhooks(), [Endpoint(url=receiver.url("/stripe/hooks"),
                                                           secret=secret, provider="stripe")])
        await until(lambda: d.state == "delivered")
    finally:
        await real.stop()
    (hit,) = receiver.hits
    assert hit.path == "/stripe/hooks"
    assert hit.body == body
    assert hit.headers["Content-Type"].startswith("application/json")
    assert stripe.WebhookSignature.verify_header(body.decode(), hit.headers["Stripe-Signature"],
                                                 secret, tolerance=300)
    event_obj = stripe.Webhook.construct_event(body.decode(), hit.headers["Stripe-Signature"],
                                               secret, tolerance=300)
    assert event_obj["id"] == "evt_1"
    assert [a.status for a in d.attempts] == [200]
    assert d.attempts[0].error is None


class BodySigningScheme(PlainScheme):
    """Signs inside the body, as Adyen does with additionalData.hmacSignature."""

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body.replace(b"}", f', "sig": "{secret}"}}'.encode()),
                      {"Content-Type": "application/json"})


async def test_a_scheme_that_signs_inside_the_body_sends_its_body(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    e = event(body=b'{"id": "evt_b"}')
    (d,) = dispatcher.publish(e, BodySigningScheme(), [
        Endpoint(url=receiver.url(), secret="k1", provider="adyen")])
    await until(lambda: d.state == "delivered")
    (hit,) = receiver.hits
    assert hit.body == b'{"id": "evt_b", "sig": "k1"}'
    assert e.body == b'{"id": "evt_b"}'  # the event itself (the API's copy) is unsigned


async def test_credentials_in_the_endpoint_url_are_sent_as_basic_auth(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    url = receiver.url().replace("http://", "http://hooks:s3cret@")
    (d,) = dispatcher.publish(event(), PlainScheme(), [
        Endpoint(url=url, secret="sec", provider="adyen")])
    await until(lambda: d.state == "delivered")
    (hit,) = receiver.hits
    assert hit.headers["Authorization"] == "Basic " + base64.b64encode(b"hooks:s3cret").decode()


async def test_custom_scheme_headers_and_wall_clock_timestamp(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    """Receivers check a signature's age against their own clock, so the signed
    timestamp is real time even though retries follow the virtual clock."""
    (d,) = dispatcher.publish(event(), PlainScheme(), [
        Endpoint(url=receiver.url(), secret="sec", provider="stripe")])
    await until(lambda: d.state == "delivered")
    (hit,) = receiver.hits
    secret, _, signed_at = hit.headers["X-Test-Signature"].partition(":")
    assert secret == "sec"
    assert abs(int(signed_at) - time.time()) < 30
    assert d.to_json()["state"] == "delivered"
    assert d.to_json()["next_attempt_at"] is None


async def test_retries_follow_the_schedule_on_the_virtual_clock(
        dispatcher: Dispatcher, receiver: Receiver, clock: VirtualClock) -> None:
    receiver.fail_first = 2
    (d,) = dispatcher.publish(event(), PlainScheme(), [
        Endpoint(url=receiver.url(), secret="s", provider="stripe")])

    await receiver.wait_hits(1)
    await until(lambda: d.state == "pending" and len(d.attempts) == 1)
    assert d.next_attempt_at == START + 60.0  # first retry: schedule[0]
    assert d.attempts[0].status == 500
    assert d.attempts[0].error is not None and "500" in d.attempts[0].error

    clock.advance(59)  # not yet due
    await settle()
    assert len(receiver.hits) == 1
    assert d.state == "pending"

    clock.advance(1)  # due now
    await receiver.wait_hits(2)
    await until(lambda: d.state == "pending" and len(d.attempts) == 2)
    assert d.next_attempt_at == START + 60.0 + 600.0  # second retry: schedule[1]

    clock.advance(600)
    await receiver.wait_hits(3)
    await until(lambda: d.state == "delivered")
    assert [a.status for a in d.attempts] == [500, 500, 200]
    assert [a.at for a in d.attempts] == [START, START + 60, START + 660]
    assert receiver.answered == [500, 500, 200]
    assert len({h.body for h in receiver.hits}) == 1  # the same event every time


async def test_one_advance_past_every_retry_delivers_each_in_turn(
        dispatcher: Dispatcher, receiver: Receiver, clock: VirtualClock) -> None:
    receiver.fail_first = 1
    (d,) = dispatcher.publish(event(), PlainScheme(), [
        Endpoint(url=receiver.url(), secret="s", provider="stripe")])
    await until(lambda: len(d.attempts) == 1 and d.state == "pending")
    clock.advance(24 * 3600)
    await until(lambda: d.state == "delivered")
    assert [a.status for a in d.attempts] == [500, 200]


async def fail_for_good(d: Delivery, scheme: PlainScheme, clock: VirtualClock) -> None:
    """Move the clock through every retry of a delivery whose receiver keeps failing."""
    for n, wait in enumerate(scheme.retry_schedule, start=1):
        await until(lambda n=n: len(d.attempts) == n and d.state == "pending")
        clock.advance(wait)
    await until(lambda: d.state == "failed")


async def test_failed_for_good_once_the_schedule_is_exhausted(
        dispatcher: Dispatcher, receiver: Receiver, clock: VirtualClock) -> None:
    receiver.fail_first = 10**6
    scheme = PlainScheme()
    (d,) = dispatcher.publish(event(), scheme, [
        Endpoint(url=receiver.url(), secret="s", provider="stripe")])
    await fail_for_good(d, scheme, clock)
    assert len(d.attempts) == 1 + len(scheme.retry_schedule)
    assert all(a.status == 500 for a in d.attempts)
    clock.advance(10**6)
    await settle()
    assert len(receiver.hits) == 3  # nothing more once failed
    assert dispatcher.summary()["failed"] == 1


async def test_an_unreachable_receiver_is_retried_then_failed(
        dispatcher: Dispatcher, clock: VirtualClock) -> None:
    # a port nothing listens on: bind, note the port, close
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    (d,) = dispatcher.publish(event(), PlainScheme(), [
        Endpoint(url=f"http://127.0.0.1:{port}/x", secret="s", provider="stripe")])
    await until(lambda: len(d.attempts) == 1)
    assert d.attempts[0].status is None
    assert d.attempts[0].error
    clock.advance(60)
    await until(lambda: len(d.attempts) == 2)
    clock.advance(600)
    await until(lambda: d.state == "failed")


async def test_redeliver_sends_again_as_a_new_delivery(
        dispatcher: Dispatcher, receiver: Receiver, clock: VirtualClock) -> None:
    receiver.fail_first = 10**6
    scheme = PlainScheme()
    (d,) = dispatcher.publish(event(), scheme, [
        Endpoint(url=receiver.url(), secret="s", provider="stripe")])
    await fail_for_good(d, scheme, clock)

    receiver.fail_first = 0  # the receiver is fixed
    again = dispatcher.redeliver(d.id)
    assert again is not None
    assert again.id != d.id
    assert again.event is d.event and again.endpoint == d.endpoint
    await until(lambda: again.state == "delivered")
    assert d.state == "failed"  # the old record keeps its history
    assert [a.status for a in again.attempts] == [200]
    assert receiver.hits[-1].body == receiver.hits[0].body
    assert dispatcher.get(again.id) is again
    assert dispatcher.redeliver("whd_unknown") is None


async def test_redeliver_of_a_delivered_one(dispatcher: Dispatcher, receiver: Receiver) -> None:
    (d,) = dispatcher.publish(event(), PlainScheme(), [
        Endpoint(url=receiver.url(), secret="s", provider="stripe")])
    await until(lambda: d.state == "delivered")
    again = dispatcher.redeliver(d.id)
    assert again is not None
    await until(lambda: again.state == "delivered")
    assert len(receiver.hits) == 2


async def test_delay_defers_the_first_attempt(
        dispatcher: Dispatcher, receiver: Receiver, clock: VirtualClock) -> None:
    (d,) = dispatcher.publish(event(), PlainScheme(), [
        Endpoint(url=receiver.url(), secret="s", provider="stripe")], delay=30.0)
    assert d.next_attempt_at == START + 30.0
    await settle()
    assert receiver.hits == []
    clock.advance(30)
    await until(lambda: d.state == "delivered")
    assert d.attempts[0].at == START + 30.0


# -- which endpoints get what ---------------------------------------------------------

async def test_endpoints_filter_by_namespace_and_event_type(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    everything = Endpoint(url=receiver.url("/all"), secret="s", provider="stripe")
    only_a = Endpoint(url=receiver.url("/a"), secret="s", provider="stripe",
                      namespace="sk_test_a")
    only_refunds = Endpoint(url=receiver.url("/refunds"), secret="s", provider="stripe",
                            events=frozenset({"charge.refunded"}))
    endpoints = [everything, only_a, only_refunds]

    def targets(e: Event) -> list[str]:
        return sorted(d.endpoint.url.rsplit("/", 1)[1]
                      for d in dispatcher.publish(e, PlainScheme(), endpoints))

    assert targets(event(namespace="sk_test_a")) == ["a", "all"]
    assert targets(event(namespace="sk_test_b")) == ["all"]
    assert targets(event(namespace="sk_test_b", type="charge.refunded")) == ["all", "refunds"]
    assert targets(event(namespace="sk_test_a", type="charge.refunded")) == [
        "a", "all", "refunds"]
    await receiver.wait_hits(8)
    await settle()
    assert sorted(h.path for h in receiver.hits) == sorted(
        ["/a", "/all", "/all", "/all", "/refunds", "/a", "/all", "/refunds"])


async def test_a_configured_endpoint_gets_only_its_providers_events(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    dispatcher.configure(Endpoint(url=receiver.url("/stripe"), secret="s", provider="stripe"))
    assert dispatcher.has_targets("stripe")
    assert not dispatcher.has_targets("adyen")
    assert dispatcher.publish(event(provider="adyen"), PlainScheme()) == []
    (d,) = dispatcher.publish(event(provider="stripe"), PlainScheme())
    await until(lambda: d.state == "delivered")
    assert [h.path for h in receiver.hits] == ["/stripe"]

    # configuring again replaces; unconfiguring removes
    dispatcher.configure(Endpoint(url=receiver.url("/stripe2"), secret="s", provider="stripe"))
    assert [e.url for e in dispatcher.configured()["stripe"]] == [receiver.url("/stripe2")]
    assert dispatcher.unconfigure("stripe") is True
    assert dispatcher.unconfigure("stripe") is False
    assert dispatcher.publish(event(provider="stripe"), PlainScheme()) == []


async def test_deliveries_can_be_listed_by_namespace_event_and_state(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    endpoint = Endpoint(url=receiver.url(), secret="s", provider="stripe")
    e_a, e_b = event(namespace="sk_test_a"), event(namespace="sk_test_b")
    (d_a,) = dispatcher.publish(e_a, PlainScheme(), [endpoint])
    (d_b,) = dispatcher.publish(e_b, PlainScheme(), [endpoint], delay=3600)
    await until(lambda: d_a.state == "delivered")
    assert dispatcher.deliveries(namespace="sk_test_a") == [d_a]
    assert dispatcher.deliveries(event_id=e_b.id) == [d_b]
    assert dispatcher.deliveries(state="pending") == [d_b]
    assert dispatcher.deliveries() == [d_b, d_a]  # newest first
    assert dispatcher.deliveries(limit=1) == [d_b]


# -- shutdown -------------------------------------------------------------------------

async def test_stop_drains_due_deliveries_and_reports_the_rest(
        clock: VirtualClock, receiver: Receiver) -> None:
    d = Dispatcher(clock, timeout=WAIT)
    await d.start()
    endpoint = Endpoint(url=receiver.url(), secret="s", provider="stripe")
    due: list[Delivery] = []
    for _ in range(3):
        due += d.publish(event(), PlainScheme(), [endpoint])
    (later,) = d.publish(event(), PlainScheme(), [endpoint], delay=3600)
    summary = await d.stop(drain_timeout=WAIT)
    assert [x.state for x in due] == ["delivered"] * 3
    assert len(receiver.hits) == 3
    assert later.state == "pending"
    assert summary == {"pending": 1, "delivering": 0, "delivered": 3, "failed": 0,
                       "dropped": 0}


async def test_stop_reports_a_failed_retry_as_still_owed(
        clock: VirtualClock, receiver: Receiver) -> None:
    receiver.fail_first = 1
    d = Dispatcher(clock, timeout=WAIT)
    await d.start()
    (x,) = d.publish(event(), PlainScheme(), [
        Endpoint(url=receiver.url(), secret="s", provider="stripe")])
    await until(lambda: len(x.attempts) == 1 and x.state == "pending")
    summary = await d.stop(drain_timeout=WAIT)
    assert summary["pending"] == 1
    assert summary["delivered"] == 0
    assert len(receiver.hits) == 1  # the retry was not due: not sent


async def test_stop_cuts_off_a_hanging_receiver_after_the_drain_timeout(
        clock: VirtualClock) -> None:
    """A receiver that never answers: stop() returns after the drain timeout (the
    attempts' own timeout is far longer) and reports the attempts it cut off as owed."""
    hung = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        hung.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hang)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        d = Dispatcher(clock, timeout=600)
        await d.start()
        (x,) = d.publish(event(), PlainScheme(), [
            Endpoint(url=f"http://127.0.0.1:{runner.addresses[0][1]}/", secret="s",
                     provider="stripe")])
        await asyncio.wait_for(hung.wait(), WAIT)
        summary = await asyncio.wait_for(d.stop(drain_timeout=0.2), WAIT)
        assert summary["delivering"] == 1
        assert x.state == "delivering"
    finally:
        await runner.cleanup()


# -- bounds ---------------------------------------------------------------------------

async def test_a_full_queue_fails_the_oldest_owed_delivery_as_dropped(
        clock: VirtualClock) -> None:
    d = Dispatcher(clock, timeout=WAIT, max_owed=3)
    await d.start()
    try:
        endpoint = Endpoint(url="http://127.0.0.1:9/", secret="s", provider="stripe")
        owed = [d.publish(event(), PlainScheme(), [endpoint], delay=3600)[0]
                for _ in range(5)]
        assert [x.state for x in owed] == ["failed", "failed", "pending", "pending",
                                           "pending"]
        assert owed[0].failure == owed[1].failure == "dropped: queue full"
        assert owed[0].to_json()["failure"] == "dropped: queue full"
        assert owed[0].attempts == []  # never sent
        assert d.summary() == {"pending": 3, "delivering": 0, "delivered": 0, "failed": 2,
                               "dropped": 2}
        assert [x.id for x in d.deliveries(state="pending")] == [x.id for x in owed[:1:-1]]
    finally:
        summary = await d.stop(drain_timeout=1.0)
    assert summary["dropped"] == 2
    assert summary["pending"] == 3


async def test_the_delivery_log_is_bounded_even_when_everything_is_owed(
        clock: VirtualClock) -> None:
    d = Dispatcher(clock, timeout=WAIT, log_size=4, max_owed=100)
    await d.start()
    try:
        endpoint = Endpoint(url="http://127.0.0.1:9/", secret="s", provider="stripe")
        owed = [d.publish(event(), PlainScheme(), [endpoint], delay=3600)[0]
                for _ in range(10)]
        assert [x.id for x in d.deliveries()] == [x.id for x in owed[:5:-1]]
        assert d.summary()["pending"] == 10  # still owed, still sent when due
    finally:
        await d.stop(drain_timeout=1.0)


async def test_at_most_concurrency_attempts_run_at_once_per_receiving_host(
        clock: VirtualClock) -> None:
    running = 0
    most = 0
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            await release.wait()
        finally:
            running -= 1
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    d = Dispatcher(clock, timeout=WAIT, concurrency=3)
    await d.start()
    try:
        sent = [d.publish(event(), PlainScheme(), [
            Endpoint(url=f"{base}/hook{i % 4}", secret="s", provider="stripe")])[0]
            for i in range(20)]
        await until(lambda: running == 3)
        await settle()
        assert d.summary()["delivering"] == 3
        assert d.summary()["pending"] == 17
        release.set()
        await until(lambda: all(x.state == "delivered" for x in sent))
        assert most == 3
    finally:
        await d.stop(drain_timeout=1.0)
        await runner.cleanup()


async def test_an_unreachable_host_costs_no_more_connections_after_five_failures(
        clock: VirtualClock) -> None:
    d = Dispatcher(clock, timeout=WAIT, concurrency=1)
    await d.start()
    try:
        dead = Endpoint(url="http://127.0.0.1:9/hooks", secret="s", provider="stripe")
        sent = [d.publish(event(), PlainScheme(), [dead])[0] for _ in range(5)]
        await until(lambda: all(len(x.attempts) == 1 for x in sent))
        assert all("not sent" not in (x.attempts[0].error or "") for x in sent)
        later = [d.publish(event(), PlainScheme(), [dead])[0] for _ in range(20)]
        await until(lambda: all(len(x.attempts) == 1 for x in later))
        held = [x for x in later if x.attempts[0].error.startswith("not sent")]  # type: ignore[union-attr]
        assert len(held) >= 19  # at most one probe went out
        assert "127.0.0.1:9 unreachable for the last 5 attempts" in held[0].attempts[0].error  # type: ignore[operator]
        assert all(x.state == "pending" for x in later)  # still retried on the schedule
        assert later[0].next_attempt_at == START + 60.0
    finally:
        await d.stop(drain_timeout=1.0)


def test_stripe_scheme_accepts_only_2xx() -> None:
    scheme = StripeWebhooks()
    assert scheme.accepted(200, b"") and scheme.accepted(204, b"")
    assert not scheme.accepted(301, b"")
    assert not scheme.accepted(400, b"")
    assert not scheme.accepted(500, b"")
    assert list(scheme.retry_schedule) and all(s > 0 for s in scheme.retry_schedule)


async def test_a_url_named_by_the_api_wins_over_the_configured_endpoint(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    """Mollie's webhookUrl, Daraja's CallBackURL: the request said where, so it goes
    there only, signed with the dashboard's secret."""
    dispatcher.configure(Endpoint(url=receiver.url("/dashboard"), secret="dash",
                                  provider="mollie"))
    e = Event(id="evt_u", provider="mollie", namespace="test_a", type="payment.paid",
              created=START, render=lambda: b"id=tr_1", url=receiver.url("/per-payment"))
    (d,) = dispatcher.publish(e, PlainScheme())
    await until(lambda: d.state == "delivered")
    (hit,) = receiver.hits
    assert hit.path == "/per-payment"
    assert hit.headers["X-Test-Signature"].startswith("dash:")


async def test_a_url_named_by_the_api_without_configuration_uses_the_default_secret(
        dispatcher: Dispatcher, receiver: Receiver) -> None:
    e = Event(id="evt_v", provider="daraja", namespace="ns", type="stk.callback",
              created=START, render=lambda: b"{}", url=receiver.url("/cb"))
    (d,) = dispatcher.publish(e, PlainScheme())
    await until(lambda: d.state == "delivered")
    assert receiver.hits[0].headers["X-Test-Signature"].startswith(default_secret("daraja"))
