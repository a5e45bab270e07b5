"""The Stripe 3DS challenge page, clicked in headless Chromium as a shopper would.

The official SDK creates and reads the PaymentIntents; only the browser touches the
hosted page, so these tests prove what a merchant's checkout would see end to end.
`client` (tests/conftest.py) is a Stripe SDK client on a fresh key of the simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import stripe

if TYPE_CHECKING:
    from playwright.async_api import Page

    from paysandbox.testing.server import SimulatorServer

    from .conftest import ReturnReceiver

# The browser lives on the session's loop (see conftest.py).
pytestmark = pytest.mark.asyncio(loop_scope="session")

CHALLENGE = "pm_card_threeDSecure2Required"
CHALLENGE_THEN_DECLINE = "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds"


def confirm_with_challenge(client: stripe.StripeClient, payment_method: str, *,
                           return_url: str | None = None, amount: int = 2000,
                           currency: str = "usd") -> stripe.PaymentIntent:
    params: dict[str, Any] = {"amount": amount, "currency": currency,
                              "payment_method_types": ["card"],
                              "payment_method": payment_method, "confirm": True}
    if return_url is not None:
        params["return_url"] = return_url
    pi = client.v1.payment_intents.create(params=params)  # type: ignore[arg-type]
    assert pi.status == "requires_action"
    assert pi.next_action is not None
    assert pi.next_action.type == "redirect_to_url"
    return pi


def challenge_url(pi: stripe.PaymentIntent, simulator: SimulatorServer) -> str:
    assert pi.next_action is not None and pi.next_action.redirect_to_url is not None
    url = pi.next_action.redirect_to_url.url
    assert url is not None and url.startswith(f"{simulator.base_url}/__hosted/3ds/")
    return url


async def click_and_return(page: Page, button: str,
                           receiver: ReturnReceiver) -> dict[str, str]:
    """Click a challenge button and follow the 303 back to the merchant's return_url."""
    async with page.expect_navigation(url=lambda u: u.startswith(receiver.url)):
        await page.click(button)
    assert await page.text_content("#shop") == "Back at the shop"
    assert receiver.hits, "the browser never reached the return_url"
    return receiver.hits[-1]


async def test_complete_returns_to_the_merchant_with_a_succeeded_payment(
        page: Page, client: stripe.StripeClient, payment_simulator: SimulatorServer,
        return_receiver: ReturnReceiver) -> None:
    pi = confirm_with_challenge(client, CHALLENGE, return_url=return_receiver.url)

    await page.goto(challenge_url(pi, payment_simulator))
    assert await page.text_content("#amount") == "20.00 USD"
    assert await page.is_visible("#complete") and await page.is_visible("#fail")
    query = await click_and_return(page, "#complete", return_receiver)

    assert return_receiver.hits == [{"payment_intent": pi.id,
                                     "payment_intent_client_secret": pi.client_secret,
                                     "redirect_status": "succeeded"}]
    assert query["payment_intent"] == pi.id
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.status == "succeeded"
    assert after.next_action is None
    assert after.last_payment_error is None


async def test_fail_returns_to_the_merchant_with_an_authentication_failure(
        page: Page, client: stripe.StripeClient, payment_simulator: SimulatorServer,
        return_receiver: ReturnReceiver) -> None:
    pi = confirm_with_challenge(client, CHALLENGE, return_url=return_receiver.url)

    await page.goto(challenge_url(pi, payment_simulator))
    await click_and_return(page, "#fail", return_receiver)

    assert return_receiver.hits == [{"payment_intent": pi.id,
                                     "payment_intent_client_secret": pi.client_secret,
                                     "redirect_status": "failed"}]
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error is not None
    assert after.last_payment_error.code == "payment_intent_authentication_failure"


async def test_a_card_declined_after_authentication_ends_with_its_decline_code(
        page: Page, client: stripe.StripeClient, payment_simulator: SimulatorServer,
        return_receiver: ReturnReceiver) -> None:
    pi = confirm_with_challenge(client, CHALLENGE_THEN_DECLINE, return_url=return_receiver.url)

    await page.goto(challenge_url(pi, payment_simulator))
    query = await click_and_return(page, "#complete", return_receiver)

    assert query["payment_intent"] == pi.id
    after = client.v1.payment_intents.retrieve(pi.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error is not None
    assert after.last_payment_error.code == "card_declined"
    assert after.last_payment_error.decline_code == "insufficient_funds"


async def test_redirect_status_reports_a_decline_after_authentication(
        page: Page, client: stripe.StripeClient, payment_simulator: SimulatorServer,
        return_receiver: ReturnReceiver) -> None:
    pi = confirm_with_challenge(client, CHALLENGE_THEN_DECLINE, return_url=return_receiver.url)

    await page.goto(challenge_url(pi, payment_simulator))
    query = await click_and_return(page, "#complete", return_receiver)

    assert query["redirect_status"] == "failed"


FINAL = pytest.mark.parametrize(("button", "status"), [("#complete", "succeeded"),
                                                      ("#fail", "requires_payment_method")])


async def finish_without_return_url(page: Page, client: stripe.StripeClient,
                                    simulator: SimulatorServer,
                                    button: str) -> tuple[str, str]:
    """Click through a challenge that has no return_url; give the PI id and `#status`."""
    pi = confirm_with_challenge(client, CHALLENGE, amount=1234, currency="eur")
    url = challenge_url(pi, simulator)
    await page.goto(url)
    assert await page.text_content("#amount") == "12.34 EUR"
    await page.click(button)
    await page.wait_for_selector("#status")
    shown = await page.text_content("#status") or ""
    # Opening the link again shows the same finished state, not a second challenge.
    await page.goto(url)
    assert await page.query_selector("#complete") is None
    assert await page.text_content("#status") == shown
    return pi.id, shown


@FINAL
async def test_without_return_url_the_page_shows_the_final_status(
        page: Page, client: stripe.StripeClient, payment_simulator: SimulatorServer,
        button: str, status: str) -> None:
    pi_id, shown = await finish_without_return_url(page, client, payment_simulator, button)

    assert pi_id in shown
    assert client.v1.payment_intents.retrieve(pi_id).status == status


@FINAL
async def test_the_final_status_uses_stripe_s_words(
        page: Page, client: stripe.StripeClient, payment_simulator: SimulatorServer,
        button: str, status: str) -> None:
    _, shown = await finish_without_return_url(page, client, payment_simulator, button)

    assert shown.split()[-1] == f"{status}."


async def test_back_then_fail_cannot_contradict_a_completed_challenge(
        page: Page, client: stripe.StripeClient, payment_simulator: SimulatorServer,
        return_receiver: ReturnReceiver) -> None:
    pi = confirm_with_challenge(client, CHALLENGE, return_url=return_receiver.url)
    await page.goto(challenge_url(pi, payment_simulator))
    await click_and_return(page, "#complete", return_receiver)

    await page.go_back()
    if await page.query_selector("#fail") is not None:  # restored from the back cache
        await click_and_return(page, "#fail", return_receiver)

    assert client.v1.payment_intents.retrieve(pi.id).status == "succeeded"
    assert {hit["redirect_status"] for hit in return_receiver.hits} == {"succeeded"}
