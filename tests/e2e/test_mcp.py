"""The MCP server as a coding agent meets it: the `mcp` SDK's own client, over stdio
(`paysandbox mcp` spawned as an agent would) and over Streamable HTTP (the simulator's
`/__admin/mcp`), against a simulator that wants its admin token.

What a payments engineer would have the agent do: list the tools, load a scenario that makes
Stripe payments of one amount decline, make such a payment through the official
`stripe` SDK, and ask why it was declined: the answer names the rule."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
import requests
import stripe
from mcp import Client, StdioServerParameters

from paysandbox.settings import Settings
from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver

TOKEN = "mcp-test-admin-token"

TOOLS = {"providers", "validate_scenario", "load_scenario", "list_scenarios",
         "unload_scenario", "list_payments", "explain_payment", "search_journal",
         "advance_clock", "complete_payment", "list_webhooks", "redeliver_webhook",
         "contract_report"}

SCENARIO = """\
name: mcp-declines
rules:
  - name: decline-4200
    match: {provider: stripe, operation: authorize, amount: 4200}
    outcome: {decline: insufficient_funds}
"""

BROKEN = """\
name: mcp-broken
rules:
  - name: decline-4200
    match: {provider: stripe, operation: authorise, amount: 4200}
    outcome: {decline: insufficient_funds}
"""


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(Settings.from_env().replace(admin_token=TOKEN))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim(simulator: SimulatorServer) -> SimulatorServer:
    simulator.reset()
    return simulator


@asynccontextmanager
async def over_stdio(sim: SimulatorServer, token: str | None = TOKEN
                     ) -> AsyncIterator[Client]:
    args = ["-m", "paysandbox", "mcp", "--url", sim.base_url]
    if token is not None:
        args += ["--admin-token", token]
    async with Client(StdioServerParameters(command=sys.executable, args=args)) as client:
        yield client


@asynccontextmanager
async def over_http(sim: SimulatorServer) -> AsyncIterator[Client]:
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                  timeout=30) as http, \
            Client(streamable_http_client(f"{sim.base_url}/__admin/mcp", http_client=http)
                   ) as client:
        yield client


TRANSPORTS = {"stdio": over_stdio, "http": over_http}


async def call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


def pay(sim: SimulatorServer, amount: int, card: str = "pm_card_visa"
        ) -> tuple[str, str | None]:
    """A confirmed card payment through the official SDK: (its id, the decline code)."""
    client = stripe.StripeClient(f"sk_test_{uuid.uuid4().hex}", max_network_retries=0,
                                 base_addresses={"api": sim.url("stripe")})
    try:
        intent = client.v1.payment_intents.create(params={
            "amount": amount, "currency": "usd", "payment_method": card, "confirm": True})
    except stripe.CardError as exc:
        assert exc.json_body is not None
        return exc.json_body["error"]["payment_intent"]["id"], exc.code
    return intent.id, None


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
async def test_a_scenario_declines_a_payment_and_the_agent_learns_why(
        sim: SimulatorServer, transport: str) -> None:
    async with TRANSPORTS[transport](sim) as client:
        listed = await client.list_tools()
        assert {t.name for t in listed.tools} == TOOLS
        assert all(t.description for t in listed.tools)

        stripe_ = (await call(client, "providers", provider="stripe"))["providers"][0]
        assert stripe_["base_url"] == sim.url("stripe")
        declines = {row["value"]: row["result"] for row in stripe_["test_values"]}
        assert declines["4000000000009995"] == "declined: insufficient_funds"
        assert stripe_["decline_codes"]["insufficient_funds"]["decline_code"] == \
            "insufficient_funds"

        checked = await call(client, "validate_scenario", scenario=BROKEN,
                             filename="declines.yaml")
        assert not checked["valid"]
        assert any(p.startswith("declines.yaml:4:") and "authorise" in p
                   for p in checked["problems"]), checked
        refused = await client.call_tool("load_scenario", {"scenario": BROKEN,
                                                           "filename": "declines.yaml"})
        assert refused.is_error and "declines.yaml:4:" in refused.content[0].text
        assert sim.client.scenarios() == []

        loaded = await call(client, "load_scenario", scenario=SCENARIO)
        assert loaded["loaded"] == "mcp-declines"

        declined, code = await asyncio.to_thread(pay, sim, 4200)
        assert code == "card_declined"
        approved, code = await asyncio.to_thread(pay, sim, 4300)
        assert code is None

        story = await call(client, "explain_payment", payment_id=declined)
        assert story["payment"]["status"] == "failed"
        assert story["payment"]["decline"] == "insufficient_funds"
        assert story["matched_rules"] == ["mcp-declines/decline-4200"]
        assert story["requests"][0]["request"] == "POST /stripe/v1/payment_intents"
        assert story["requests"][0]["status"] == 402
        assert "mcp-declines/decline-4200" in story["explanation"]
        assert "insufficient_funds" in story["explanation"]

        other = await call(client, "explain_payment", payment_id=approved)
        assert other["payment"]["status"] == "captured"
        assert other["matched_rules"] == []

        payments = await call(client, "list_payments", provider="stripe", status="failed")
        assert [p["id"] for p in payments["payments"]] == [declined]
        found = await call(client, "search_journal", text=declined, bodies=False)
        assert [e["status"] for e in found["entries"]] == [402]
        assert "request" not in found["entries"][0]


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
async def test_every_provider_has_its_test_values(sim: SimulatorServer,
                                                  transport: str) -> None:
    async with TRANSPORTS[transport](sim) as client:
        summary = await call(client, "providers")
        names = [p["name"] for p in summary["providers"]]
        assert set(names) == set(sim.admin("GET", "/health")["providers"])
        for name in names:
            entry = (await call(client, "providers", provider=name))["providers"][0]
            assert entry["test_values"], name
            assert entry["decline_codes"], name
            assert entry["base_url"].startswith(sim.url(name))


async def test_clock_webhooks_completion_and_the_contract_report(sim: SimulatorServer,
                                                     hook_server: WebhookReceiver) -> None:
    hook = f"{hook_server.url}/stripe"
    sim.admin("PUT", "/webhooks/stripe", {"url": hook, "secret": "whsec_mcp"})
    async with over_http(sim) as client:
        before = sim.admin("GET", "/clock")["now"]
        moved = await call(client, "advance_clock", by="2h")
        assert moved["now"] >= before + 7200

        paid, _ = await asyncio.to_thread(pay, sim, 4000)
        succeeded = "payment_intent.succeeded"
        assert hook_server.wait_for(lambda got: succeeded in hook_server.types())
        hooks = await call(client, "list_webhooks", provider="stripe")
        assert hooks["endpoints"]["stripe"][0]["url"] == hook
        delivery = next(d for d in hooks["deliveries"]
                        if d["event_type"] == succeeded)
        await call(client, "redeliver_webhook", delivery_id=delivery["id"])
        assert hook_server.wait_for(lambda got: hook_server.types().count(succeeded) == 2)
        first, again = (r.json() for r in hook_server.received if r.json()["type"] == succeeded)
        assert first == again  # the same event, sent again

        assert eventually(lambda: [d["state"] for d in sim.client.deliveries(
            provider="stripe") if d["event_type"] == succeeded] == ["delivered"] * 2)
        story = await call(client, "explain_payment", payment_id=paid)
        sent = [(d["event_type"], d["state"]) for d in story["webhooks"]]
        assert sent.count((succeeded, "delivered")) == 2
        assert f"{succeeded} delivered after 1 attempt(s)" in story["explanation"]

        waiting, _ = await asyncio.to_thread(pay, sim, 2500, "pm_card_threeDSecure2Required")
        assert sim.client.payment(waiting)["status"] == "requires_action"
        done = await call(client, "complete_payment", payment_id=waiting)
        assert done["status"] == "captured"

        broken = requests.post(f"{sim.url('stripe')}/v1/payment_intents", timeout=10,
                               auth=("sk_test_contracts", ""),
                               data={"amount": 100, "currency": "usd", "colour": "blue"})
        assert broken.status_code == 400
        report = await call(client, "contract_report")
        assert report["mode"] == "strict"
        assert [(g["provider"], g["field"]) for g in report["groups"]] == [("stripe", "colour")]

        missing = await client.call_tool("complete_payment", {"payment_id": "pi_missing"})
        assert missing.is_error
        assert "No payment pi_missing" in missing.content[0].text


async def test_the_endpoint_is_protected_like_the_admin_api(sim: SimulatorServer) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    headers = {"Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    url = f"{sim.base_url}/__admin/mcp"
    assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 401
    cross = requests.post(url, data=body, timeout=10, headers={
        **headers, "Authorization": f"Bearer {TOKEN}", "Origin": "https://evil.example"})
    assert cross.status_code == 403

    async with over_stdio(sim, token=None) as client:
        refused = await client.call_tool("list_payments", {})
        assert refused.is_error
        assert "admin token" in refused.content[0].text


def test_without_the_extra_the_command_says_how_to_install_it() -> None:
    code = ("import sys; sys.modules['mcp'] = None; from paysandbox.cli import main; "
            "sys.exit(main(['mcp']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "pip install 'payments-sandbox[mcp]'" in done.stderr


def test_without_the_extra_the_endpoint_says_how_to_install_it() -> None:
    code = textwrap.dedent("""
        import json, sys, urllib.error, urllib.request
        sys.modules["mcp"] = None
        from paysandbox.settings import Settings
        from paysandbox.testing.server import SimulatorServer
        server = SimulatorServer(Settings())
        server.start()
        request = urllib.request.Request(
            server.base_url + "/__admin/mcp", data=b"{}", method="POST",
            headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=30)
        except urllib.error.HTTPError as exc:
            print(exc.code, json.loads(exc.read())["error"]["message"])
        server.stop()
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.startswith("501 "), done.stdout + done.stderr
    assert "pip install 'payments-sandbox[mcp]'" in done.stdout


def test_no_odd_request_gets_a_server_error(sim: SimulatorServer) -> None:
    url = f"{sim.base_url}/__admin/mcp"
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    calls = [json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": tool, "arguments": arguments}}).encode() for tool, arguments in (
            ("explain_payment", {"payment_id": 5}), ("nope", {}),
            ("advance_clock", {"by": "-1h"}), ("load_scenario", {"scenario": "{" * 5000}),
            ("complete_payment", {"payment_id": "x", "outcome": "maybe"}))]
    odd = [b"", b"{", b"\xff\xfe", b"[]", b"null", b"1e999", b"{" * 5000,
           b'{"jsonrpc": "2.0", "id": 1, "method": "nope"}', *calls]
    for accept in ("application/json, text/event-stream", "text/html", None):
        headers = {**auth, **({"Accept": accept} if accept else {})}
        for body in odd:
            answer = requests.post(url, data=body, headers=headers, timeout=30)
            assert answer.status_code < 500, (accept, body[:40], answer.text[:300])
    too_big = requests.post(url, data=b" " * (sim.settings.max_body_bytes + 1), timeout=30,
                            headers={**auth, "Accept": "application/json, text/event-stream"})
    assert too_big.status_code == 413
    stream = requests.get(url, headers={**auth, "Accept": "text/event-stream"}, timeout=30)
    assert stream.status_code == 405
