"""Where webhooks may go: the policy on addresses and names, checked again on the address
a name resolves to when the delivery connects (DNS rebinding), and a refusal recorded
as the delivery's error."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from paysandbox.core.clock import VirtualClock
from paysandbox.webhooks.destinations import (
    DestinationRefused,
    Destinations,
    GuardedResolver,
    display_url,
)
from paysandbox.webhooks.dispatcher import Dispatcher, Endpoint, Event
from tests.unit.test_dispatcher import PlainScheme

WAIT = 10.0  # a safety net for a broken dispatcher, never an assertion on time


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook", "http://[::1]/hook", "https://10.1.2.3/hook",
    "http://172.20.0.5/hook", "http://192.168.1.10/hook", "http://[fd00::1]/hook",
    "http://payment-service:8000/webhooks", "http://hooks.example.com/x",  # names: when used
])
def test_loopback_private_and_names_are_accepted_when_given(url: str) -> None:
    assert Destinations().url_refusal(url) is None


@pytest.mark.parametrize("url, why", [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[::ffff:169.254.169.254]/hook", "link-local"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://192.0.2.10/hook", "neither loopback nor private"),
    ("http://8.8.8.8/hook", "--webhook-allow 8.8.8.8"),
    ("ftp://127.0.0.1/hook", "not an http(s) URL"),
    ("http:///nohost", "not an http(s) URL"),
    ("http://127.0.0.1:99999/hook", "not a valid URL"),
])
def test_other_addresses_are_refused_with_the_reason(url: str, why: str) -> None:
    refusal = Destinations().url_refusal(url)
    assert refusal is not None and why in refusal


def test_the_operator_widens_the_policy_but_never_to_link_local() -> None:
    wide = Destinations(["203.0.113.0/24", "8.8.8.8", "Hooks.Partner.Example.",
                         "169.254.0.0/16"])
    assert wide.url_refusal("http://203.0.113.7/x") is None
    assert wide.url_refusal("http://8.8.8.8/x") is None
    assert wide.address_refusal("198.51.100.1", "hooks.partner.example") is None
    assert wide.address_refusal("198.51.100.1", "other.example") is not None
    assert "link-local" in (wide.url_refusal(METADATA) or "")
    with pytest.raises(ValueError, match="--webhook-allow"):
        Destinations(["not a host!"])


METADATA = "http://169.254.169.254/latest/meta-data/"


def test_credentials_are_stripped_for_display_only() -> None:
    assert display_url("http://shop:pa55@127.0.0.1:8/h?x=1") == "http://***@127.0.0.1:8/h?x=1"
    assert display_url("http://127.0.0.1:8/h") == "http://127.0.0.1:8/h"


class FakeDNS(AbstractResolver):
    """A name server whose answers the test decides: the attacker's, when rebinding."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host not in self.answers:
            raise OSError(f"{host} does not resolve")
        return [{"hostname": host, "host": self.answers[host], "port": port,
                 "family": socket.AF_INET, "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self) -> None:
        return None


async def test_a_name_resolving_to_a_refused_address_is_refused_at_lookup() -> None:
    guarded = GuardedResolver(Destinations(), FakeDNS({"rebind.example": "169.254.169.254",
                                                       "ok.example": "127.0.0.1"}))
    with pytest.raises(DestinationRefused) as info:
        await guarded.resolve("rebind.example", 80)
    assert str(info.value).startswith(
        "destination not allowed: rebind.example resolves to 169.254.169.254")
    assert [r["host"] for r in await guarded.resolve("ok.example", 80)] == ["127.0.0.1"]


@pytest.fixture
async def receiver_port() -> AsyncIterator[tuple[int, list[str]]]:
    hits: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        hits.append(request.host)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1], hits
    finally:
        await runner.cleanup()


async def test_dns_rebinding_a_delivery_is_refused_on_the_address_it_would_reach(
        receiver_port: tuple[int, list[str]]) -> None:
    """The callback URL named a host (accepted: names are checked when used); when the
    delivery connects, the name resolves to the cloud metadata address: refused, and the
    delivery says so. The same dispatcher still delivers to a name resolving to
    loopback, through the same lookup."""
    port, hits = receiver_port
    dns = FakeDNS({"hooks.rebind.example": "169.254.169.254", "hooks.ok.example": "127.0.0.1"})
    dispatcher = Dispatcher(VirtualClock(), timeout=WAIT, resolver=dns)
    assert dispatcher.destinations.url_refusal(f"http://hooks.rebind.example:{port}/") is None
    await dispatcher.start()
    try:
        def publish(host: str) -> str:
            event = Event(id=f"evt_{host}", provider="mollie", namespace="test_a",
                          type="payment.paid", created=0.0, render=lambda: b"id=tr_1",
                          url=f"http://{host}:{port}/hook")
            (d,) = dispatcher.publish(event, PlainScheme(), [])
            return d.id

        refused, delivered = publish("hooks.rebind.example"), publish("hooks.ok.example")

        async def attempted() -> None:
            while not all((d := dispatcher.get(i)) and d.attempts for i in (refused, delivered)):
                await asyncio.sleep(0.005)
        await asyncio.wait_for(attempted(), WAIT)
    finally:
        await dispatcher.stop(drain_timeout=1.0)
    bad, good = dispatcher.get(refused), dispatcher.get(delivered)
    assert bad is not None and good is not None
    attempt = bad.to_json()["attempts"][0]
    assert attempt["status"] is None
    assert attempt["error"].startswith(
        "destination not allowed: hooks.rebind.example resolves to 169.254.169.254")
    assert good.state == "delivered" and hits == [f"hooks.ok.example:{port}"]


async def test_a_literal_refused_address_is_never_connected_to() -> None:
    """aiohttp does not look up a URL whose host is an address, so the dispatcher checks
    it before connecting: the error is the refusal, not a connect timeout."""
    dispatcher = Dispatcher(VirtualClock(), timeout=WAIT)
    await dispatcher.start()
    try:
        (d,) = dispatcher.publish(
            Event(id="evt_m", provider="stripe", namespace="sk_test_a", type="x", created=0.0,
                  render=lambda: b"{}"), PlainScheme(),
            [Endpoint(url=METADATA, secret="s", provider="stripe")])

        async def attempted() -> None:
            while not d.attempts:
                await asyncio.sleep(0.005)
        await asyncio.wait_for(attempted(), WAIT)
    finally:
        await dispatcher.stop(drain_timeout=1.0)
    assert d.attempts[0].error is not None
    assert d.attempts[0].error.startswith("destination not allowed: 169.254.169.254, a link-local")
