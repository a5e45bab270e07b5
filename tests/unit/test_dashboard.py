"""The dashboard's server side: its files, its live stream and that stream's bounds, the
scenario check that loads nothing, and the admin token as a browser gives it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from paysandbox.app import JOURNAL, create_app
from paysandbox.journal import Journal, Subscription, TooManySubscribers
from paysandbox.settings import Settings

KEY = "sk_test_dashboard"


def record(journal: Journal, n: int, status: int = 200) -> None:
    journal.record(at=float(n), provider="stripe", namespace=KEY, method="POST",
                   path=f"/stripe/v1/payment_intents/{n}", query="", status=status,
                   request_id=str(n), request_body=b"", response_body=b"{}", duration_ms=1.0)


# -- the journal's subscribers ----------------------------------------------------------


async def test_a_subscriber_that_falls_behind_loses_the_oldest_and_is_told_how_many() -> None:
    journal = Journal()
    subscription = journal.subscribe(limit=3)
    for n in range(1, 6):
        record(journal, n)
    entries = await subscription.next(1.0)
    assert [e.request_id for e in entries] == ["3", "4", "5"]
    assert subscription.dropped == 2
    record(journal, 6)
    assert [e.request_id for e in await subscription.next(1.0)] == ["6"]


async def test_subscribers_are_bounded_and_a_closed_one_frees_its_slot() -> None:
    journal = Journal()
    held = [journal.subscribe() for _ in range(Journal.MAX_SUBSCRIBERS)]
    with pytest.raises(TooManySubscribers, match="already follow the journal"):
        journal.subscribe()
    held[0].close()
    assert journal.subscribers == Journal.MAX_SUBSCRIBERS - 1
    journal.subscribe()


async def test_closing_wakes_a_waiting_reader() -> None:
    journal = Journal()
    subscription = journal.subscribe()
    reader = asyncio.create_task(subscription.next(60.0))
    await asyncio.sleep(0)
    journal.close_subscriptions()
    assert await asyncio.wait_for(reader, 5) == []
    assert subscription.closed and journal.subscribers == 0


def test_the_default_bounds_are_the_documented_ones() -> None:
    assert (Journal.MAX_SUBSCRIBERS, Subscription.LIMIT) == (8, 256)  # README: Limits


# -- over HTTP ----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(Settings(providers=("stripe",))))) as c:
        yield c


async def next_event(response: ClientResponse) -> tuple[str, str]:
    """(event, data) of the next server-sent event, comments skipped."""
    while True:
        block = (await asyncio.wait_for(response.content.readuntil(b"\n\n"), 10)).decode()
        fields = dict(line.split(": ", 1) for line in block.strip().splitlines()
                      if not line.startswith(":") and ": " in line)
        if "event" in fields:
            return fields["event"], fields.get("data", "")


async def test_the_page_and_its_files_are_served_and_may_not_be_framed(
        client: TestClient[Any, Any]) -> None:
    page = await client.get("/__admin/ui")
    assert page.status == 200 and page.content_type == "text/html"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "/__admin/ui/static/app.js" in await page.text()
    script = await client.get("/__admin/ui/static/app.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    missing = await client.get("/__admin/ui/static/secrets.py")
    assert missing.status == 404
    assert "app.js, app.css" in (await missing.json())["error"]["message"]


async def test_the_stream_sends_new_requests_as_they_happen_filtered(
        client: TestClient[Any, Any]) -> None:
    stream = await client.get("/__admin/ui/events?status=4xx")
    assert stream.headers["Content-Type"] == "text/event-stream"
    assert (await next_event(stream))[0] == "hello"
    ok = await client.get("/stripe/v1/payment_intents", headers={
        "Authorization": f"Bearer {KEY}"})
    refused = await client.get("/stripe/v1/payment_intents")  # no key: Stripe's 401
    assert (ok.status, refused.status) == (200, 401)
    event, data = await next_event(stream)
    assert event == "request"
    assert '"status":401' in data and '"path":"/stripe/v1/payment_intents"' in data
    assert '"request"' not in data  # no bodies on the stream
    stream.close()


async def test_a_stream_beyond_the_bound_is_refused_and_a_closed_one_is_let_go(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Journal, "MAX_SUBSCRIBERS", 1)
    journal = client.app[JOURNAL]  # type: ignore[index]
    first = await client.get("/__admin/ui/events")
    assert (await next_event(first))[0] == "hello"
    second = await client.get("/__admin/ui/events")
    assert second.status == 503
    assert "close a dashboard tab" in (await second.json())["error"]["message"]
    first.close()  # the tab goes away
    for _ in range(100):
        if journal.subscribers == 0:
            break
        await asyncio.sleep(0.05)
    assert journal.subscribers == 0
    third = await client.get("/__admin/ui/events")
    assert (await next_event(third))[0] == "hello"
    third.close()


async def test_a_bad_stream_filter_is_a_400(client: TestClient[Any, Any]) -> None:
    got = await client.get("/__admin/ui/events?status=teapot")
    assert got.status == 400
    assert "status must be a code" in (await got.json())["error"]["message"]


async def test_a_scenario_is_checked_without_being_loaded(client: TestClient[Any, Any]) -> None:
    bad = await client.post("/__admin/scenarios/validate", json={
        "source": "pix.yaml",
        "yaml": "name: pix\nrules:\n  - match: {provider: stripe}\n    probability: 2\n"
                "    fault: connection_reset\n"})
    answer = await bad.json()
    assert bad.status == 200 and answer["valid"] is False
    assert [p["text"] for p in answer["problems"]] == [
        "pix.yaml:4:18 $.rules[0].probability: a probability is between 0 and 1, got 2"]
    good = await client.post("/__admin/scenarios/validate", json={
        "yaml": "name: pix\nrules:\n  - match: {provider: stripe}\n    probability: 1\n"
                "    fault: connection_reset\n"})
    assert await good.json() == {"valid": True, "name": "pix", "problems": [],
                                 "loaded": False}
    assert (await (await client.get("/__admin/scenarios")).json()) == {"scenarios": []}
    for body in ({"yaml": 3}, {"text": "name: x"}, ["name: x"]):
        refused = await client.post("/__admin/scenarios/validate", json=body)
        assert refused.status == 400, body
        assert '{"yaml": ' in (await refused.json())["error"]["message"]
    as_text = await client.post("/__admin/scenarios/validate", data="name: x",
                                headers={"Content-Type": "text/plain"})
    assert as_text.status == 415  # as for every call that a web page could forge


async def test_a_journal_entry_names_its_payment_and_its_explanation_gathers_it(
        client: TestClient[Any, Any]) -> None:
    created = await client.post("/stripe/v1/payment_intents", data={
        "amount": "1500", "currency": "eur", "payment_method": "pm_card_visa",
        "confirm": "true"}, headers={"Authorization": f"Bearer {KEY}"})
    pi = (await created.json())["id"]
    entries = (await (await client.get("/__admin/journal?bodies=false")).json())["entries"]
    entry = await (await client.get(f"/__admin/journal/{entries[0]['seq']}")).json()
    assert entry["payments"] == [pi]
    assert entry["response"]["id"] == pi  # with its bodies
    explained = await (await client.get(f"/__admin/payments/{pi}/explain")).json()
    assert explained["payment"]["id"] == pi
    assert [r["seq"] for r in explained["requests"]] == [entries[0]["seq"]]
    assert explained["rules"] == [] and explained["contract_violations"] == []
    for path, status in ((f"/__admin/journal/{entries[0]['seq'] + 99}", 404),
                         ("/__admin/journal/last", 400),
                         ("/__admin/payments/pi_nothing/explain", 404)):
        got = await client.get(path)
        assert got.status == status, path
        assert (await got.json())["error"]["message"]


async def test_a_browser_gives_the_admin_token_as_basic_credentials() -> None:
    app = create_app(Settings(providers=("stripe",), admin_token="t0ken"))
    async with TestClient(TestServer(app)) as c:
        def basic(pair: str) -> dict[str, str]:
            return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

        refused = await c.get("/__admin/ui")
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"] == \
            'Basic realm="paysandbox admin", charset="UTF-8"'
        for wrong in (basic("qa:nope"), basic("t0ken"), basic("t0ken:"),
                      {"Authorization": "Basic %%%"}):
            assert (await c.get("/__admin/ui", headers=wrong)).status == 401, wrong
        assert (await c.get("/__admin/ui", headers=basic("qa:t0ken"))).status == 200
        assert (await c.get("/__admin/health", headers=basic(":t0ken"))).status == 200
        assert (await c.get("/__admin/health",
                            headers={"Authorization": "Bearer t0ken"})).status == 200


async def test_an_open_stream_ends_when_the_server_shuts_down() -> None:
    """Otherwise an open dashboard would hold the shutdown for its whole timeout."""
    app = create_app(Settings(providers=("stripe",)))
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    try:
        stream = await client.get("/__admin/ui/events")
        assert (await next_event(stream))[0] == "hello"
        assert app[JOURNAL].subscribers == 1
        await app.shutdown()  # what stopping the server runs first (on_shutdown)
        assert await asyncio.wait_for(stream.content.read(), 10) == b""  # the end
        assert app[JOURNAL].subscribers == 0
    finally:
        await client.close()
