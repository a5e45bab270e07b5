"""The reference service's saved cards and subscription renewals, against stub acquirers
that answer as scripted: which acquirer a renewal goes to, with what, and what each
answer does to the subscription."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from paysandbox.examples.payment_service import subscriptions
from paysandbox.examples.payment_service.adapters.base import (
    CAPTURED,
    DECLINED,
    PaymentRequest,
    ProviderResult,
    Unavailable,
    WebhookUpdate,
)
from paysandbox.examples.payment_service.app import PaymentService
from paysandbox.examples.payment_service.config import ServiceConfig, for_simulator
from paysandbox.examples.payment_service.renewals import renew_due

CARD = {"number": "4000056655665556", "exp_month": 12, "exp_year": 2031, "cvc": "123"}
NTI = "123456789012345"


class Stub:
    """An acquirer that answers each authorize with the next scripted answer (a result,
    or an exception to raise), and keeps every request it got."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.script: list[ProviderResult | Exception] = []
        self.requests: list[PaymentRequest] = []

    async def authorize(self, request: PaymentRequest, idempotency_key: str
                        ) -> ProviderResult:
        self.requests.append(request)
        answer = self.script.pop(0) if self.script else approve(self.name)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def capture(self, *a: Any) -> ProviderResult:
        raise NotImplementedError

    async def refund(self, *a: Any) -> ProviderResult:
        raise NotImplementedError

    async def retrieve(self, reference: str) -> ProviderResult | None:
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        return []

    def webhook_ack(self) -> tuple[str, str]:
        return "", "text/plain"


def approve(name: str, **saved: Any) -> ProviderResult:
    return ProviderResult(CAPTURED, f"{name}_ref", **saved)


def decline(code: str) -> ProviderResult:
    return ProviderResult(DECLINED, "ref", decline_code=code)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    async def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stubs() -> dict[str, Stub]:
    return {n: Stub(n) for n in ("stripe", "checkoutcom", "adyen")}


@pytest.fixture
def service(stubs: dict[str, Stub], clock: Clock) -> PaymentService:
    config: ServiceConfig = for_simulator("http://sim", list(stubs), retries=0,
                                          breaker_threshold=2, breaker_reset_s=60)
    return PaymentService(config, stubs, now=clock)


async def subscribe(service: PaymentService, stubs: dict[str, Stub],
                    interval: float = 30 * 86400) -> tuple[dict[str, Any], str]:
    """A first payment at Stripe that saves the card, then a subscription on it."""
    stubs["stripe"].script.append(approve("stripe", token="pm_1", customer="cus_1",
                                          network_transaction_id=NTI))
    status, p = await service.create({"amount": 999, "currency": "usd", "card": CARD,
                                      "save_card": True, "customer": {"id": "c-1"}}, None)
    assert (status, p["status"], p["network_transaction_id"]) == (201, CAPTURED, NTI)
    first = stubs["stripe"].requests[-1]
    assert (first.save_card, first.customer_id, first.mit) == (True, "c-1", None)
    sub = service.wallet.subscribe({"card": p["saved_card"], "amount": 999,
                                    "currency": "usd", "interval_s": interval}, 1_000.0)
    return service.wallet.cards[p["saved_card"]].view(), sub.id


async def test_a_saved_card_keeps_token_customer_nti_and_card_facts_but_not_the_number(
        service: PaymentService, stubs: dict[str, Stub]) -> None:
    card, _ = await subscribe(service, stubs)
    assert card == {"id": card["id"], "customer": "c-1", "provider": "stripe",
                    "token": "pm_1", "brand": "visa", "last4": "5556", "exp_month": 12,
                    "exp_year": 2031, "network_transaction_id": NTI}
    assert CARD["number"] not in repr(card)


async def test_nothing_is_due_before_the_interval_and_the_renewal_uses_the_token(
        service: PaymentService, stubs: dict[str, Stub], clock: Clock) -> None:
    _, sub_id = await subscribe(service, stubs, interval=3600)
    clock.t += 3599
    assert (await renew_due(service))["renewed"] == 0
    clock.t += 1
    out = await renew_due(service)
    assert out["renewed"] == 1
    mit = stubs["stripe"].requests[-1].mit
    assert mit is not None and (mit.token, mit.customer, mit.network_transaction_id) == \
        ("pm_1", "cus_1", NTI)
    sub = service.wallet.subscriptions[sub_id]
    assert (sub.status, sub.next_at, sub.renewals[-1]["provider"]) == \
        ("active", 1_000 + 7200, "stripe")
    assert (await renew_due(service))["renewed"] == 0  # renewed once, not again


async def test_an_unavailable_acquirer_fails_over_with_the_raw_card_and_the_nti(
        service: PaymentService, stubs: dict[str, Stub], clock: Clock) -> None:
    _, sub_id = await subscribe(service, stubs, interval=60)
    stubs["stripe"].script.append(Unavailable("HTTP 503"))
    clock.t += 60
    await renew_due(service)
    sub = service.wallet.subscriptions[sub_id]
    renewal = sub.renewals[-1]
    assert (renewal["status"], renewal["provider"]) == (CAPTURED, "checkoutcom")
    assert [a["provider"] for a in renewal["attempts"]] == ["stripe", "checkoutcom"]
    failover = stubs["checkoutcom"].requests[-1]
    assert failover.mit is not None and failover.mit.token is None
    assert failover.mit.network_transaction_id == NTI
    assert failover.card is not None and failover.card.number == CARD["number"]


@pytest.mark.parametrize("code", ["issuer_not_available", "processing_error"])
async def test_an_unreachable_issuer_is_failed_over_too(
        service: PaymentService, stubs: dict[str, Stub], clock: Clock, code: str) -> None:
    _, sub_id = await subscribe(service, stubs, interval=60)
    stubs["stripe"].script.append(decline(code))
    clock.t += 60
    await renew_due(service)
    renewal = service.wallet.subscriptions[sub_id].renewals[-1]
    assert (renewal["status"], renewal["provider"]) == (CAPTURED, "checkoutcom")


async def test_a_renewal_no_acquirer_can_charge_stays_due(
        service: PaymentService, stubs: dict[str, Stub], clock: Clock) -> None:
    _, sub_id = await subscribe(service, stubs, interval=60)
    for stub in stubs.values():
        stub.script.append(Unavailable("HTTP 503"))
    clock.t += 60
    await renew_due(service)
    sub = service.wallet.subscriptions[sub_id]
    assert (sub.status, sub.renewals[-1]["status"], sub.next_at) == ("active", "failed", 1060)
    assert (await renew_due(service))["renewed"] == 1  # tried again on the next call
    assert sub.renewals[-1]["status"] == CAPTURED


@pytest.mark.parametrize(("code", "status"), [
    ("authentication_required", "needs_customer_action"),
    ("expired_card", "payment_method_invalid"),
    ("revocation_of_authorization", "payment_method_invalid"),
    ("insufficient_funds", "past_due"),
])
async def test_a_decline_is_never_failed_over_and_sets_the_status(
        service: PaymentService, stubs: dict[str, Stub], clock: Clock, code: str,
        status: str) -> None:
    _, sub_id = await subscribe(service, stubs, interval=60)
    stubs["stripe"].script.append(decline(code))
    clock.t += 60
    await renew_due(service)
    sub = service.wallet.subscriptions[sub_id]
    assert (sub.status, sub.renewals[-1]["decline_code"]) == (status, code)
    assert stubs["checkoutcom"].requests == [] and stubs["adyen"].requests == []
    clock.t += 3600
    renewed = (await renew_due(service))["renewed"]
    assert renewed == (1 if status == "past_due" else 0)


@pytest.mark.parametrize(("provider", "code"), [
    ("adyen", "38"), ("checkoutcom", "20154"), ("adyen", "6"), ("checkoutcom", "200R1")])
def test_each_acquirers_own_codes_are_classified(provider: str, code: str) -> None:
    kind = subscriptions.decline_kind(provider, decline(code))
    assert kind == (subscriptions.NEEDS_CUSTOMER if code in ("38", "20154")
                    else subscriptions.CARD_INVALID)


async def test_renewal_history_is_capped_and_counts_on(
        service: PaymentService, stubs: dict[str, Stub], clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscriptions, "MAX_HISTORY", 3)
    _, sub_id = await subscribe(service, stubs, interval=10)
    for _ in range(5):
        clock.t += 10
        await renew_due(service)
    sub = service.wallet.subscriptions[sub_id]
    assert sub.renewals_total == 5
    assert [r["sequence"] for r in sub.renewals] == [3, 4, 5]


async def test_saved_cards_and_subscriptions_are_bounded(
        service: PaymentService, stubs: dict[str, Stub],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscriptions, "MAX_CARDS", 1)
    monkeypatch.setattr(subscriptions, "MAX_SUBSCRIPTIONS", 1)
    card, _ = await subscribe(service, stubs)
    calls = len(stubs["stripe"].requests)
    with pytest.raises(subscriptions.Full, match="at most 1 saved cards"):
        await service.create({"amount": 999, "currency": "usd", "card": CARD,
                              "save_card": True, "customer": {"id": "c-2"}}, None)
    assert len(stubs["stripe"].requests) == calls  # refused before any acquirer
    with pytest.raises(subscriptions.Full, match="at most 1 subscriptions"):
        service.wallet.subscribe({"card": card["id"], "amount": 1, "currency": "usd",
                                  "interval_s": 60}, 0)


@pytest.mark.parametrize(("body", "field"), [
    ({"card": "card_nope", "amount": 1, "currency": "usd", "interval_s": 60}, "card:"),
    ({"amount": 0, "currency": "usd", "interval_s": 60}, "amount:"),
    ({"amount": 1, "currency": "dollars", "interval_s": 60}, "currency:"),
    ({"amount": 1, "currency": "usd", "interval_s": 0}, "interval_s:"),
    ({"amount": 1, "currency": "usd", "interval_s": 60, "customer": "c-9"}, "customer:"),
])
async def test_a_bad_subscription_names_its_field(
        service: PaymentService, stubs: dict[str, Stub], body: dict[str, Any],
        field: str) -> None:
    card, _ = await subscribe(service, stubs)
    with pytest.raises(ValueError, match=field):
        service.wallet.subscribe({"card": card["id"], **body}, 0)


async def test_saving_a_card_needs_a_customer(service: PaymentService) -> None:
    from paysandbox.examples.payment_service.app import BadInput
    with pytest.raises(BadInput, match="save_card: needs method 'card' and a customer"):
        await service.create({"amount": 999, "currency": "usd", "card": CARD,
                              "save_card": True}, None)


async def test_overlapping_renew_due_calls_charge_a_period_once(
        service: PaymentService, stubs: dict[str, Stub], clock: Clock) -> None:
    _, sub_id = await subscribe(service, stubs, interval=60)
    gate = asyncio.Event()
    slow = stubs["stripe"].authorize

    async def held(request: PaymentRequest, key: str) -> ProviderResult:
        await gate.wait()
        return await slow(request, key)

    stubs["stripe"].authorize = held  # type: ignore[method-assign]
    clock.t += 60
    first = asyncio.create_task(renew_due(service))
    await asyncio.sleep(0)
    # While the first is at the acquirer (a second charge would wait on it: bounded).
    second = await asyncio.wait_for(renew_due(service), 10)
    gate.set()
    assert ((await first)["renewed"], second["renewed"]) == (1, 0)
    assert service.wallet.subscriptions[sub_id].renewals_total == 1


async def test_renew_due_answers_503_and_renews_nothing_when_the_clock_cannot_be_read(
        service: PaymentService, stubs: dict[str, Stub]) -> None:
    from aiohttp import ClientConnectionError
    from aiohttp.test_utils import TestClient, TestServer

    from paysandbox.examples.payment_service.app import SERVICE, create_app

    _, sub_id = await subscribe(service, stubs, interval=60)

    async def unreachable() -> float:
        raise ClientConnectionError("connection refused")

    service.now = unreachable
    app = create_app(service.config)
    app.cleanup_ctx.clear()  # the service above, not one with real adapters
    app[SERVICE] = service
    async with TestClient(TestServer(app)) as client:
        resp = await client.post("/subscriptions/renew-due", json={})
        assert resp.status == 503
        assert "GET /__admin/clock" in (await resp.json())["error"]
    assert service.wallet.subscriptions[sub_id].renewals_total == 0
