"""Checkout.com's `/payments` -> canonical commands, and back: card payments, with a 3D
Secure redirect, and their reads."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from paysandbox.core.cards import digits_only, is_expired, luhn_valid
from paysandbox.core.commands import Authorize, Command, Record, Result, Writes
from paysandbox.core.money import Currency, UnknownCurrency, currency
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    InvalidTransition,
    NoSuchPayment,
    Payment,
    Status,
)
from paysandbox.errors import ResourceMissing
from paysandbox.providers.checkoutcom import disputes, magic, stored, vault, wire
from paysandbox.providers.checkoutcom.objects import notes
from paysandbox.providers.checkoutcom.wire import Invalid
from paysandbox.providers.seam import Context, Reply

NAME = "checkoutcom"


async def payment(ctx: Context, pid: str) -> Payment:
    """The payment a path names, by its `pay_` id or its 3DS session's `sid_`."""
    p = await (ctx.resolve(pid) if pid.startswith("sid_") else ctx.payment(pid))
    if p is None:
        raise ResourceMissing(f"No payment {pid}.")
    return p


async def run(ctx: Context, command: Command, p: Payment, amount: int | None = None
              ) -> Result:
    """Execute a command on payment `p`, in Checkout.com's words when it is refused."""
    try:
        return await ctx.execute(command, p, amount=amount)
    except NoSuchPayment:
        raise ResourceMissing(f"No payment {command.payment_id}.") from None
    except InvalidTransition as exc:
        raise not_allowed(exc.action) from None
    except AmountExceeded as exc:
        raise Invalid("capture_value_greater_than_authorized" if exc.action == "capture"
                      else "refund_amount_exceeds_balance") from None


def not_allowed(action: str) -> Invalid:
    verb = {"authorize": "authorization", "complete": "authorization"}.get(action, action)
    return Invalid(f"{verb}_not_allowed", error_type="action_not_allowed", status=403)


async def create_payment(ctx: Context, params: dict[str, Any]) -> Any:
    """A card payment: the payment, its session id's alias, the instrument and customer
    it saves and, when the shopper is sent to 3DS, the page the session id opens are
    written as one unit."""
    p, outcome, challenge, records = await _new_payment(ctx, params)
    writes = Writes(aliases=(p.extra["session_id"],), records=records,
                    on_action=(challenge,))
    result = await run(ctx, Authorize(p.id, outcome, create=p, writes=writes), p)
    after = result.payment
    disputes.after_capture(ctx, result.previous, after)
    pending = after.status in (Status.REQUIRES_ACTION, Status.PENDING)
    return Reply(wire.created(after), 202 if pending else 201)


def examine(body: Mapping[str, Any], now: datetime | None
            ) -> tuple[list[str], Currency | None, str]:
    """A payment request's problems (every one, for one 422), its currency and its card
    number (empty for a saved source); whether the card has expired only when `now` is
    given."""
    problems: list[str] = []
    try:
        cur: Currency | None = currency(body["currency"])
    except UnknownCurrency:
        problems.append("currency_invalid")
        cur = None
    src = body["source"]
    number = ""
    kind = src["type"]
    if kind == "token":
        problems.append("token_invalid")
    elif kind in ("id", "customer"):
        if not src.get("id"):
            problems.append("payment_source_id_required" if kind == "id"
                            else "customer_id_required")
    elif kind != "card":
        problems.append("payment_source_type_invalid")
    else:
        number = _card_number(src, problems, now)
    for name in ("success_url", "failure_url"):
        url = body.get(name)
        if url is not None and not str(url).startswith(("http://", "https://")):
            problems.append(f"{name}_invalid")
    return problems, cur, number


def _card_number(src: Mapping[str, Any], problems: list[str], now: datetime | None) -> str:
    for field, name in (("number", "card_number"), ("expiry_month", "card_expiry_month"),
                        ("expiry_year", "card_expiry_year")):
        if src.get(field) is None:
            problems.append(f"{name}_required")
    if problems and any(p.startswith("card_") for p in problems):
        return ""
    number = digits_only(src["number"])
    if not luhn_valid(number):
        problems.append("card_number_invalid")
        return ""
    if now is not None and is_expired(src["expiry_month"], src["expiry_year"], now):
        problems.append("card_expired")
        return ""
    return number


async def _new_payment(ctx: Context, body: Mapping[str, Any]
                       ) -> tuple[Payment, Outcome, Record, tuple[Record, ...]]:
    """The payment a request describes, the outcome its test values call for, the
    record that opens its 3DS page and the vault records it writes; every problem found
    at once, in one 422."""
    problems, cur, number = examine(body, ctx.clock.now_datetime())
    src = body["source"]
    if problems or cur is None or (src["type"] == "card" and not number):
        raise Invalid(*problems)
    paid = await stored.source(ctx, body, number)
    card = paid.card
    nti = ctx.network_transaction_id(card)
    cred, refusal = await stored.credential(ctx, body, paid, nti)
    amount = body.get("amount", 0)
    tds = body.get("3ds") or {}
    challenged = cred.merchant_initiated and stored.challenges(paid)
    outcome = refusal or magic.outcome(
        paid.number, amount, cur.minor_units,
        three_ds=bool(tds.get("enabled")) or challenged,
        attempt_n3d=bool(tds.get("attempt_n3d")))
    pid = wire.new_id("pay")
    sid = wire.secret_id("sid")  # the 3DS page's token too: unguessable
    redirect, challenge = ctx.hosted_link_at(sid, pid)
    metadata = body.get("metadata") or {}
    extra: dict[str, Any] = {
        "base": ctx.api_url(),
        "session_id": sid,
        "redirect": redirect,
        "source_id": paid.instrument["id"] if paid.instrument else
        vault.instrument_id(card.fingerprint),
        "auth_code": f"{secrets.randbelow(1_000_000):06d}",
        "scheme_id": nti,
        "acquirer_transaction_id": secrets.token_hex(10),
        "retrieval_reference_number": f"{secrets.randbelow(10**12):012d}",
        "verification": amount == 0,
        "three_ds": bool(tds.get("enabled")),
        "cvv": bool(src.get("cvv")),
        "card_name": src.get("name") if src["type"] == "card" or paid.instrument is None
        else paid.instrument["name"],
        "payment_type": body.get("payment_type", "Regular"),
        "merchant_initiated": cred.merchant_initiated,
        "metadata": metadata,
    }
    for key in ("reference", "description", "success_url", "failure_url",
                "previous_payment_id"):
        if body.get(key) is not None:
            extra[key] = body[key]
    if paid.shown_customer is not None:
        extra["customer"] = paid.shown_customer
    p = Payment(id=pid, namespace=ctx.namespace, provider=NAME, amount=amount,
                currency=cur.code, created=ctx.clock.now(),
                capture_manual=body.get("capture") is False or amount == 0, card=card,
                metadata={str(k): str(v) for k, v in metadata.items()},
                description=body.get("description"), extra=extra, credential=cred)
    return p, outcome, challenge, stored.writes(ctx, paid, nti)


async def get_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    return wire.details(p, await notes(ctx, p))


async def get_payment_actions(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    return wire.actions(p, await notes(ctx, p))[::-1]
