"""Renewing subscriptions: one merchant-initiated charge per due subscription, at the
acquirer that saved the card (its token), failing over to the other acquirers for the
currency (the raw card and the first payment's network transaction id) only when the
first could not answer. See subscriptions.py for what each answer does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp

from paysandbox.examples.payment_service.adapters.base import (
    AUTHORIZED,
    CAPTURED,
    Mit,
    PaymentRequest,
    Rejected,
    Unavailable,
)
from paysandbox.examples.payment_service.router import NoRoute
from paysandbox.examples.payment_service.subscriptions import (
    ACTIVE,
    CARD_INVALID,
    ELSEWHERE,
    MAX_DUE,
    NEEDS_CUSTOMER,
    NEEDS_CUSTOMER_ACTION,
    PAST_DUE,
    PAYMENT_METHOD_INVALID,
    Subscription,
    decline_kind,
)

if TYPE_CHECKING:
    from paysandbox.examples.payment_service.app import PaymentService

Clock = Callable[[], Awaitable[float]]
#: Renewals of one renew-due call that run at once.
CONCURRENCY = 16


async def wall_clock() -> float:
    return time.time()


def simulator_clock(session: aiohttp.ClientSession, simulator_url: str,
                    timeout: float = 5.0) -> Clock:
    """The simulator's virtual clock (`GET /__admin/clock`), so that renewals fall due
    when a test advances it."""
    async def now() -> float:
        async with session.get(f"{simulator_url.rstrip('/')}/__admin/clock",
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            resp.raise_for_status()
            return float((await resp.json())["now"])
    return now


async def renew_due(service: PaymentService) -> dict[str, Any]:
    """Renew every subscription due by the clock's now, at most MAX_DUE of them; each one
    once (a subscription several intervals behind catches up one interval per call)."""
    now = await service.now()
    due = service.wallet.due(now)
    taken = due[:MAX_DUE]
    for sub in taken:  # claimed before the first await: another call skips them
        sub.renewing = True
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(sub: Subscription) -> dict[str, Any]:
        try:
            async with gate:
                return await renew(service, sub, now)
        finally:
            sub.renewing = False

    done = await asyncio.gather(*(one(s) for s in taken))
    return {"now": now, "renewed": len(done), "more": len(due) > MAX_DUE,
            "renewals": [{"subscription": s.id, **r} for s, r in zip(taken, done, strict=True)]}


async def renew(service: PaymentService, sub: Subscription, now: float) -> dict[str, Any]:
    card = service.wallet.cards[sub.card]
    sequence = sub.renewals_total + 1
    reference = f"{sub.id}_{sequence}"
    try:
        others = service.router.candidates("card", sub.currency)
    except NoRoute:
        others = []
    order = [card.provider] + [p for p in others if p != card.provider]
    renewal: dict[str, Any] = {"sequence": sequence, "at": now, "status": "failed",
                               "provider": None, "provider_reference": None,
                               "decline_code": None, "attempts": []}
    attempts: list[dict[str, Any]] = renewal["attempts"]
    settled = False  # an answer that is this renewal's, not an acquirer's trouble
    for name in order:
        if not service.breakers[name].allow():
            attempts.append({"provider": name, "outcome": "skipped: circuit open"})
            continue
        own = name == card.provider
        mit = Mit(card.network_transaction_id, card.token, card.provider_customer) if own \
            else Mit(card.network_transaction_id)
        request = PaymentRequest(reference=reference, amount=sub.amount,
                                 currency=sub.currency, card=card.card, mit=mit,
                                 customer_id=sub.customer)
        adapter = service.adapters[name]
        try:
            result = await service.on(name, lambda a=adapter, r=request, k=f"{reference}-{name}":
                                      a.authorize(r, k))
        except Unavailable as exc:
            attempts.append({"provider": name, "outcome": f"unavailable: {exc}",
                             "with": "token" if own else "network_transaction_id"})
            continue
        except Rejected as exc:
            attempts.append({"provider": name, "outcome": f"rejected: {exc}"})
            renewal["provider"], sub.status, settled = name, PAST_DUE, True
            break
        attempts.append({"provider": name, "outcome": result.status,
                         "decline_code": result.decline_code,
                         "with": "token" if own else "network_transaction_id"})
        renewal.update(provider=name, provider_reference=result.reference or None,
                       status=result.status, decline_code=result.decline_code)
        kind = decline_kind(name, result)
        if result.status in (AUTHORIZED, CAPTURED):
            sub.status = ACTIVE
        elif kind == ELSEWHERE:
            continue
        elif kind == NEEDS_CUSTOMER:
            sub.status = NEEDS_CUSTOMER_ACTION
        elif kind == CARD_INVALID:
            sub.status = PAYMENT_METHOD_INVALID
        else:
            sub.status = PAST_DUE
        settled = True
        break
    if settled:
        sub.next_at += sub.interval_s
    else:
        renewal["status"] = "failed"
        renewal["error"] = "no acquirer could charge the card now; the renewal stays due"
    sub.record(renewal)
    service.counts[f"renewal:{renewal['provider'] or 'none'}:{renewal['status']}"] += 1
    return renewal
