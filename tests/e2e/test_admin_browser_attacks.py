"""A web page in the tester's own browser attacks the simulator's admin API on loopback,
in headless Chromium: a cross-site page posting to it (the request a page can send
without asking), and a DNS-rebinding page (its name resolved to 127.0.0.1, Chromium's
`--host-resolver-rules` standing in for the attacker's DNS). Each attack reaches the
simulator and is refused; the admin API, asked afterwards, shows nothing changed."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
import stripe

from paysandbox.testing.server import SimulatorServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, _unavailable

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = pytest.mark.asyncio(loop_scope="session")

EVIL = "evil.example"


class _AttackerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>cute cats</title><p id='cats'>cats</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def attacker() -> Iterator[str]:
    """The attacker's site, at http://evil.example:PORT/ (served on loopback)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{EVIL}:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def rebinding_browser() -> AsyncIterator[Browser]:
    """Chromium whose DNS answers 127.0.0.1 for the attacker's name."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: run `apt-get install -y chromium`.")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("The playwright package is missing: run `pip install playwright`.")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def evil_page(rebinding_browser: Browser) -> AsyncIterator[Page]:
    context = await rebinding_browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def payment(simulator: SimulatorServer) -> str:
    client = stripe.StripeClient("sk_test_browser_attack",
                                 base_addresses={"api": simulator.url("stripe")},
                                 max_network_retries=0)
    pi = client.v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})
    return pi.id


async def test_a_cross_site_page_cannot_reset_or_move_the_clock(
        payment_simulator: SimulatorServer, evil_page: Page, attacker: str) -> None:
    pi = payment(payment_simulator)
    clock = payment_simulator.admin("GET", "/clock")["offset"]
    await evil_page.goto(attacker)
    # What a page may send anywhere without a preflight: text/plain bodies, no-cors.
    outcomes = await evil_page.evaluate("""async (sim) => {
        const out = [];
        for (const [path, body] of [["/__admin/reset", "{}"],
                                    ["/__admin/clock/advance", '{"by": "30d"}']]) {
            const r = await fetch(sim + path, {method: "POST", mode: "no-cors", body});
            out.push(r.type);
        }
        try {  // JSON needs a preflight, which the simulator never grants
            await fetch(sim + "/__admin/reset", {method: "POST", body: "{}",
                        headers: {"Content-Type": "application/json"}});
            out.push("sent");
        } catch (e) { out.push("refused"); }
        return out;
    }""", payment_simulator.base_url)
    assert outcomes == ["opaque", "opaque", "refused"]
    # A form posted across sites, as a page can do invisibly: the simulator's answer.
    await evil_page.set_content(
        f"<form id=f method=post enctype=text/plain action='{payment_simulator.base_url}"
        "/__admin/reset'><input name='{\"a\":\"' value='\"}'></form>")
    async with evil_page.expect_navigation():
        await evil_page.evaluate("document.getElementById('f').submit()")
    answer = await evil_page.text_content("body") or ""
    assert "Cross-" in answer or "application/json" in answer, answer
    # Asked afterwards, the admin API shows nothing changed.
    assert payment_simulator.admin("GET", f"/payments/{pi}")["status"] == "captured"
    assert payment_simulator.admin("GET", "/clock")["offset"] == clock


async def test_a_dns_rebinding_page_can_neither_read_nor_change_anything(
        payment_simulator: SimulatorServer, evil_page: Page) -> None:
    """The attacker's name now resolves to 127.0.0.1: its page's requests to the
    simulator are same-origin for the browser, so only the Host tells them apart."""
    pi = payment(payment_simulator)
    await evil_page.goto(f"http://{EVIL}:{payment_simulator.port}/__hosted/")
    statuses = await evil_page.evaluate("""async () => {
        const journal = await fetch("/__admin/journal");
        const hooks = await fetch("/__admin/webhooks");
        const reset = await fetch("/__admin/reset", {method: "POST", body: "{}",
                                  headers: {"Content-Type": "application/json"}});
        return [journal.status, hooks.status, reset.status, (await reset.json()).error.message];
    }""")
    assert statuses[:3] == [403, 403, 403]
    assert f"Host '{EVIL}:{payment_simulator.port}' is not this simulator's" in statuses[3]
    assert payment_simulator.admin("GET", f"/payments/{pi}")["status"] == "captured"
