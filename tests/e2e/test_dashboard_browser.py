"""The operators' dashboard (/__admin/ui), used in headless Chromium as QA would.

Each view is driven through the page; what the page claims is checked against the admin
API, and what the page must show after a change made elsewhere (a payment through the
official Stripe SDK, a webhook delivered) arrives through its live stream, without a
reload.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import stripe

from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

    from paysandbox.testing.receiver import WebhookReceiver

# The browser lives on the session's loop (see conftest.py).
pytestmark = pytest.mark.asyncio(loop_scope="session")

DECLINE_LARGE = """\
name: large-declined
rules:
  - name: over-500
    match: {provider: stripe, amount: {gte: 50000}}
    outcome: {decline: insufficient_funds}
"""


async def open_dashboard(page: Page, simulator: SimulatorServer, view: str = "") -> None:
    await page.goto(f"{simulator.base_url}/__admin/ui{'#/' + view if view else ''}")
    await page.wait_for_selector("body[data-ready]")
    await page.wait_for_selector("#live.on")  # the event stream is open


def pay(client: stripe.StripeClient, amount: int = 2000, **params: Any) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(params={  # type: ignore[arg-type]
        "amount": amount, "currency": "eur", "payment_method": "pm_card_visa",
        "payment_method_types": ["card"], "confirm": True, **params})


def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    """`check()` once it is truthy (the admin API after an action), else fail."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"still {found!r} after {timeout} s")
        time.sleep(0.05)


# -- requests: the live stream --------------------------------------------------------


async def test_a_payment_made_after_the_page_opened_appears_without_a_reload(
        page: Page, payment_simulator: SimulatorServer, client: stripe.StripeClient) -> None:
    await open_dashboard(page, payment_simulator)
    page_loads = []
    page.on("load", lambda _: page_loads.append(1))

    pi = pay(client, 1234)

    row = page.locator("#requests tr.row").first
    await row.locator("td.path:has-text('/stripe/v1/payment_intents')").wait_for()
    assert await row.get_attribute("data-status") == "200"
    assert await row.get_attribute("data-provider") == "stripe"
    # Its details name the payment, which links to the payment's page.
    await row.click()
    await page.click(f"a[href='#/payment/{pi.id}']")
    assert await page.text_content("#payment-id") == pi.id
    assert page_loads == [], "the page was reloaded"


async def test_the_stream_is_filtered_by_status_as_it_arrives(
        page: Page, payment_simulator: SimulatorServer, client: stripe.StripeClient) -> None:
    payment_simulator.use_scenario(DECLINE_LARGE)
    await open_dashboard(page, payment_simulator)
    await page.select_option("#filter-status", "4xx")
    await page.wait_for_selector("#requests td.empty")

    approved = pay(client, 1000)
    with pytest.raises(stripe.CardError):
        pay(client, 60_000)

    declined = page.locator("#requests tr.row[data-status='402']")
    await declined.wait_for()
    # The approved one was streamed first; the filter kept it out.
    assert await page.locator("#requests tr.row").count() == 1
    assert approved.status == "succeeded"
    # A filter on a namespace (the API key) keeps only that key's requests.
    key = f"sk_test_{uuid.uuid4().hex}"
    other = stripe.StripeClient(key, max_network_retries=0,
                                base_addresses={"api": payment_simulator.url("stripe")})
    await page.select_option("#filter-status", "")
    await page.fill("#filter-namespace", key)
    await page.press("#filter-namespace", "Enter")
    await page.wait_for_selector("#requests td.empty")
    pay(other, 1500)
    await page.locator("#requests tr.row[data-status='200']").wait_for()
    assert await page.locator("#requests tr.row").count() == 1


# -- a payment's page -----------------------------------------------------------------


async def test_a_payments_page_shows_its_history_requests_rules_violations_and_webhooks(
        page: Page, payment_simulator: SimulatorServer, client: stripe.StripeClient,
        webhook_receiver: WebhookReceiver) -> None:
    payment_simulator.use_scenario(DECLINE_LARGE)
    pi = client.v1.payment_intents.create(params={
        "amount": 75_000, "currency": "eur", "payment_method_types": ["card"]})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_visa"})
    with pytest.raises(stripe.InvalidRequestError):  # a parameter Stripe does not have
        client.v1.payment_intents.confirm(pi.id, params={"colour": "blue"})  # type: ignore[typeddict-unknown-key]
    webhook_receiver.wait_for("stripe", "payment_intent.payment_failed")

    await open_dashboard(page, payment_simulator, f"payment/{pi.id}")
    await page.wait_for_selector("#payment-id")
    assert await page.text_content("#payment-id") == pi.id
    history = await page.locator("text=State history >> xpath=..").inner_text()
    assert "failed" in history and "insufficient_funds" in history
    assert "large-declined/over-500" in await page.inner_text("#payment-rules")
    requests = page.locator("#payment-requests tr.row")
    assert await requests.count() == 3  # create, the declined confirm, the refused one
    assert [await r.get_attribute("data-seq") is not None for r in await requests.all()] \
        == [True] * 3
    violations = await page.locator("text=Contract violations >> xpath=..").inner_text()
    assert "colour" in violations
    deliveries = page.locator("tr[data-delivery]")
    await deliveries.first.wait_for()
    assert "payment_intent.payment_failed" in await page.locator(
        "text=Webhook deliveries >> xpath=..").inner_text()


# -- webhooks: redeliver --------------------------------------------------------------


async def test_the_redeliver_button_sends_the_webhook_again(
        page: Page, payment_simulator: SimulatorServer, client: stripe.StripeClient,
        webhook_receiver: WebhookReceiver) -> None:
    pay(client)
    delivered = webhook_receiver.wait_for("stripe", "payment_intent.succeeded")
    event_id = delivered.json()["id"]

    def attempts() -> int:
        found = payment_simulator.admin("GET", f"/webhooks/deliveries?event_id={event_id}")
        return sum(len(d["attempts"]) for d in found["deliveries"])

    before = eventually(attempts)
    await open_dashboard(page, payment_simulator, "webhooks")
    rows = page.locator(f"tr[data-event='{event_id}']")
    await rows.first.wait_for()
    assert await rows.count() == 1

    await rows.first.locator("button.redeliver").click()

    eventually(lambda: attempts() > before)
    eventually(lambda: len(webhook_receiver.received("stripe", "payment_intent.succeeded"))
               >= 2)
    await page.locator(f"tr[data-event='{event_id}'] >> nth=1").wait_for()  # the new one
    assert await rows.count() == 2


# -- scenarios: the editor, counters, phases ------------------------------------------


async def test_a_scenario_typed_with_an_error_shows_it_inline_then_loads_once_fixed(
        page: Page, payment_simulator: SimulatorServer, client: stripe.StripeClient) -> None:
    await open_dashboard(page, payment_simulator, "scenarios")
    await page.fill("#scenario-file", "checkout.yaml")
    await page.fill("#scenario-text", "name: big-decline\n"
                                      "rules:\n"
                                      "  - name: big\n"
                                      "    match: {provider: stripe, amount: {gte: 50000}}\n"
                                      "    outcome: {decline: insuficient_funds}\n")

    problem = page.locator("#scenario-problems li")
    await problem.first.wait_for()
    assert (await problem.first.inner_text()).startswith(
        "checkout.yaml:5:24 $.rules[0].outcome.decline: unknown decline reason "
        "'insuficient_funds'")
    inline = page.locator(".backdrop .line.error[data-line='5'] .inline-msg")
    assert "5:24 $.rules[0].outcome.decline" in await inline.inner_text()
    assert await page.is_disabled("#scenario-load")

    # Fixed by typing: select the misspelt word and type the right one.
    await page.locator("#scenario-text").evaluate("""(ta) => {
        const at = ta.value.indexOf("insuficient_funds");
        ta.focus();
        ta.setSelectionRange(at, at + "insuficient_funds".length);
    }""")
    await page.keyboard.type("insufficient_funds")
    await page.wait_for_selector("#scenario-verdict.ok")
    assert await problem.count() == 0
    await page.click("#scenario-load")

    card = page.locator("[data-scenario='big-decline']")
    await card.wait_for()
    loaded = payment_simulator.admin("GET", "/scenarios/big-decline")
    assert loaded["rules"] == [{"name": "big", "matched": 0, "applied": 0}]
    # Its counters move as requests match it, live.
    with pytest.raises(stripe.CardError):
        pay(client, 90_000)
    await card.locator("tr[data-rule='big'] td.applied:text-is('1')").wait_for()


async def test_a_manual_scenario_is_started_on_its_timeline_and_unloaded(
        page: Page, payment_simulator: SimulatorServer) -> None:
    payment_simulator.use_scenario("name: outage\nstart: manual\nphases:\n"
                                   "  - {name: warm-up, after: 0s, for: 1h, rules: [{match: "
                                   "{provider: stripe}, latency: {distribution: fixed, "
                                   "value: 1ms}}]}\n"
                                   "  - {name: down, after: 2h, for: 10m, rules: [{match: "
                                   "{provider: stripe}, fault: {http: 503}}]}\n")
    await open_dashboard(page, payment_simulator, "scenarios")
    card = page.locator("[data-scenario='outage']")
    await card.locator("text=waiting for start").wait_for()
    assert await card.locator(".timeline .phase").count() == 2

    await card.locator("button:text-is('Start')").click()

    await card.locator(".phase.active[data-phase='warm-up']").wait_for()
    assert payment_simulator.admin("GET", "/scenarios/outage")["started"] is True
    assert await card.locator(".phase.active").count() == 1
    await card.locator(".timeline .now").wait_for()

    await card.locator("button:text-is('Unload')").click()
    await page.locator("#scenario-list .empty").wait_for()
    assert payment_simulator.admin("GET", "/scenarios")["scenarios"] == []


# -- clock and contracts --------------------------------------------------------------


async def test_the_clock_advances_from_the_page(
        page: Page, payment_simulator: SimulatorServer) -> None:
    before = payment_simulator.admin("GET", "/clock")["offset"]
    await open_dashboard(page, payment_simulator, "clock")
    await page.fill("#advance-by", "2h")
    await page.click("#advance")
    offset = eventually(lambda: payment_simulator.admin("GET", "/clock")["offset"]
                        >= before + 7200 and payment_simulator.admin("GET", "/clock")["offset"])
    assert offset < before + 7200 + 60
    # The session's simulator keeps its clock across tests: the page shows the offset
    # as it stands, in its own units (`duration()` in the page's script).
    await page.locator(f"#clock-offset:text-is('{shown(offset)}')").wait_for()


def shown(seconds: float) -> str:
    """How the page writes a duration of more than two minutes."""
    s = round(abs(seconds) * 10) / 10
    value, unit = ((s / 60, "min") if s < 7200 else (s / 3600, "h") if s < 172800
                   else (s / 86400, "d"))
    text = f"{round(value, 1):g} {unit}"
    return f"-{text}" if seconds < 0 else text


async def test_the_contract_report_lists_a_violation_and_clears(
        page: Page, payment_simulator: SimulatorServer, client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        pay(client, colour="blue")
    await open_dashboard(page, payment_simulator, "contracts")
    assert await page.text_content("#contracts-total") == "1 violation"
    assert "colour" in await page.inner_text("main table")

    await page.click("button:text-is('Clear')")

    await page.locator("#contracts-total:text-is('0 violations')").wait_for()
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


# -- protected like the rest of the admin API -----------------------------------------

TOKEN = "dashboard-s3cret"


@pytest.fixture(scope="module")
def guarded() -> Iterator[SimulatorServer]:
    server = SimulatorServer(Settings(admin_token=TOKEN, providers=("stripe",)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_with_an_admin_token_the_browser_must_give_it(
        browser: Browser, guarded: SimulatorServer) -> None:
    url = f"{guarded.base_url}/__admin/ui"
    for credentials in (None, {"username": "qa", "password": "not-the-token"}):
        refused = await browser.new_context(http_credentials=credentials)  # type: ignore[arg-type]
        try:
            answer = await refused.request.get(url)
            assert answer.status == 401, credentials
            # … with the challenge that makes a browser ask for it
            assert answer.headers["www-authenticate"].startswith("Basic ")
            assert "admin token" in (await answer.json())["error"]["message"]
        finally:
            await refused.close()

    context = await browser.new_context(http_credentials={"username": "qa", "password": TOKEN})
    try:
        page = await context.new_page()
        await open_dashboard(page, guarded)  # the page, its files and its stream
        client = stripe.StripeClient("sk_test_guarded", max_network_retries=0,
                                     base_addresses={"api": guarded.url("stripe")})
        pi = pay(client)
        await page.locator("#requests tr.row[data-provider='stripe']").first.wait_for()
        await page.goto(f"{guarded.base_url}/__admin/ui#/payment/{pi.id}")
        await page.wait_for_selector("#payment-id")
        assert await page.text_content("#payment-id") == pi.id
    finally:
        await context.close()
