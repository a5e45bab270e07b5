"""Mollie's Payments API -> canonical commands, and back to Mollie's payment objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from paysandbox.core.commands import Authorize, Command, Expire, Result, Update, Void, Writes
from paysandbox.core.credentials import Credential, MitType
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    InvalidTransition,
    NoSuchPayment,
    Payment,
    PaymentChanges,
)
from paysandbox.errors import ResourceMissing
from paysandbox.providers.mollie import magic, mandates, wire
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.providers.seam import Context, Reply

#: The hosted test checkout's page (`/__hosted/mollie/checkout/{token}`, mollie/pages.py).
CHECKOUT = "mollie/checkout"


# -- shared by the handlers ------------------------------------------------------------

def missing(pid: str) -> ResourceMissing:
    return ResourceMissing(f"No payment exists with token {pid}.")


async def payment(ctx: Context, pid: str) -> Payment:
    p = await ctx.payment(pid)
    if p is None:
        raise missing(pid)
    return p


async def run(ctx: Context, command: Command, p: Payment, *,
              amount: int | None = None) -> Result:
    """Execute a command on payment `p`, in Mollie's words when it is refused."""
    try:
        return await ctx.execute(command, p, amount=amount, method=p.method or None)
    except NoSuchPayment:
        raise missing(command.payment_id) from None
    except InvalidTransition as exc:
        raise MollieError(f"The payment {exc.payment.id} cannot be changed this way: its "
                          f"status is {wire.status(exc.payment)}.") from None
    except AmountExceeded as exc:
        raise MollieError(
            f"The amount is higher than the amount remaining on the payment: "
            f"{_major(exc.requested, exc.payment)} requested, "
            f"{_major(exc.available, exc.payment)} remaining.",
            field="amount.value") from None


def api_base(ctx: Context) -> str:
    return ctx.api_url("/v2")


def body(ctx: Context, p: Payment, *, refunds: Sequence[Any] | None = None) -> Any:
    return wire.payment(p, api_base(ctx), refunds=refunds, checkout=p.extra.get("checkoutUrl"))


def amount_of(params: Mapping[str, Any], where: str = "amount") -> tuple[int, str]:
    try:
        return wire.parse_amount(params[where], where)
    except wire.AmountError as exc:
        raise MollieError(str(exc), field=exc.field) from None


def page_of(items: Sequence[Any], params: Mapping[str, Any],
            key: Callable[[Any], str]) -> tuple[list[Any], str | None]:
    """Mollie's cursor pagination: `from` (inclusive) and `limit` (default 50, max 250)."""
    limit = params.get("limit", 50)
    start = 0
    if "from" in params:
        ids = [key(i) for i in items]
        if params["from"] not in ids:
            raise MollieError(f"The 'from' parameter names no object in this list: "
                              f"{params['from']!r}.", field="from", status=400)
        start = ids.index(params["from"])
    found = list(items[start:start + limit])
    nxt = key(items[start + limit]) if start + limit < len(items) else None
    return found, nxt


def listing(ctx: Context, kind: str, items: list[dict[str, Any]], url: str,
            params: Mapping[str, Any], nxt: str | None, doc: str) -> dict[str, Any]:
    query = ctx.request.query_string
    self_href = url + ("?" + query if query else "")
    next_href = None
    if nxt is not None:
        next_href = url + "?" + urlencode({**{k: v for k, v in params.items()
                                              if k != "from"}, "from": nxt,
                                           "limit": params.get("limit", 50)})
    return wire.listing(kind, items, self_href=self_href, next_href=next_href,
                        doc=f"{wire.DOCS}/reference/v2/{doc}")


def _major(minor: int, p: Payment) -> str:
    m = wire.money(minor, p.currency)
    return f"{m['value']} {m['currency']}"


# -- parameter checks ------------------------------------------------------------------

def _url(value: Any, field: str, label: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MollieError(f"The {label} is invalid: {value!r}. Use an absolute http(s) URL, "
                          "for example https://webshop.example.org/order/12345/.", field=field)
    return str(value)


def webhook_url(ctx: Context, value: Any) -> str | None:
    """Mollie refuses a webhook URL it cannot reach; here, one the operator has not
    allowed webhooks to go to."""
    url = _url(value, "webhookUrl", "webhook URL")
    refusal = None if url is None else ctx.destination_refusal(url)
    if refusal is not None:
        raise MollieError("The webhook URL is invalid because it is unreachable from "
                          f"Mollie's point of view: destination not allowed: {refusal}",
                          field="webhookUrl")
    return url


def metadata_of(value: Any) -> tuple[Any, dict[str, str]]:
    """Mollie keeps any JSON (about 1 kB); scenarios match on its scalar keys."""
    if value is not None and len(orjson.dumps(value)) > 1024:
        raise MollieError("The metadata is too large: Mollie keeps up to about 1 kB of "
                          "JSON with a payment.", field="metadata")
    flat = {str(k): str(v) for k, v in value.items()
            if isinstance(v, str | int | float | bool)} if isinstance(value, dict) else {}
    return value, flat


def _issuer(method: str | None, issuer: str | None) -> str | None:
    if issuer is None:
        return None
    known: Mapping[str, str] = magic.IDEAL_ISSUERS if method == "ideal" else \
        {"kbc": "KBC", "cbc": "CBC"} if method == "kbc" else {}
    if not known:
        raise MollieError(f"The issuer parameter applies to iDEAL and KBC payments only, "
                          f"not to method {method!r}.", field="issuer")
    if issuer not in known:
        raise MollieError(f"The issuer is invalid: {issuer!r}. Use one of "
                          f"{', '.join(sorted(known))}.", field="issuer")
    return issuer


def _due_date(value: str | None, method: str | None, today: date) -> date | None:
    if value is None:
        return None
    if method != "banktransfer":
        raise MollieError("The dueDate parameter applies to bank transfer payments "
                          "(method banktransfer) only.", field="dueDate")
    try:
        due = date.fromisoformat(value)
    except ValueError:
        raise MollieError(f"The due date is invalid: {value!r}. Use YYYY-MM-DD.",
                          field="dueDate") from None
    first, last = today + timedelta(days=1), today + timedelta(days=101)
    if not first <= due <= last:
        raise MollieError(f"The due date must be between {first} and {last} (tomorrow up "
                          "to 100 days after tomorrow).", field="dueDate")
    return due


def _methods(value: Any, currency: str) -> tuple[str | None, list[str]]:
    """`method` as a string (that method), a list (a choice among them) or absent."""
    names = [value] if isinstance(value, str) else list(value or [])
    for name in names:
        if name not in magic.METHODS:
            raise MollieError(f"The payment method is invalid: {name!r}. This simulator "
                              f"imitates {', '.join(sorted(magic.METHODS))}.", field="method")
    usable = [n for n in names if magic.METHODS[n].accepts(currency)]
    if names and not usable:
        method = magic.METHODS[names[0]]
        takes = ", ".join(sorted(method.currencies or ()))
        raise MollieError(f"The currency {currency} is not supported by the payment method "
                          f"{method.title} ({method.id} takes {takes}).",
                          field="amount.currency")
    return (value if isinstance(value, str) else None), usable


# -- handlers --------------------------------------------------------------------------

async def create_payment(ctx: Context, params: dict[str, Any]) -> Any:
    customer = params.get("customerId")
    if customer is not None:
        await mandates.customer(ctx, customer, field="customerId")
    return await create(ctx, params, customer)


async def create(ctx: Context, params: dict[str, Any], customer: str | None) -> Reply:
    """A one-off or first payment starts `open`, its checkout's token written with it;
    it expires on the virtual clock unless the tester finishes it first. A recurring
    one is charged on the customer's mandate at once, without the customer."""
    sequence = params.get("sequenceType") or "oneoff"
    if sequence != "oneoff" and customer is None:
        raise MollieError(f"A payment with sequenceType {sequence} needs a customerId: "
                          "the customer whose mandate it makes or uses.", field="customerId")
    if sequence == "recurring":
        return await _recurring(ctx, params, customer or "")
    if params.get("mandateId") is not None:
        raise MollieError("The mandateId parameter applies to recurring payments "
                          "(sequenceType recurring) only.", field="mandateId")
    if params.get("redirectUrl") is None:
        raise MollieError("The 'redirectUrl' field is required; it is missing from the "
                          "request. Only recurring payments go without one.",
                          field="redirectUrl")
    amount, currency = amount_of(params)
    method, usable = _methods(params.get("method"), currency)
    if sequence == "first":
        method, usable = _first_methods(method, usable, currency)
    extra: dict[str, Any] = {
        "method": method,
        "methods": usable,
        "issuer": _issuer(method, params.get("issuer")),
        "redirectUrl": _url(params["redirectUrl"], "redirectUrl", "redirect URL"),
        "cancelUrl": _url(params.get("cancelUrl"), "cancelUrl", "cancel URL"),
        "webhookUrl": webhook_url(ctx, params.get("webhookUrl")),
        "locale": params.get("locale"),
        "restrictPaymentMethodsToCountry": params.get("restrictPaymentMethodsToCountry"),
        "billingEmail": params.get("billingEmail"),
        "sequenceType": sequence,
        "customerId": customer,
    }
    due = _due_date(params.get("dueDate"), method, ctx.clock.now_datetime().date())
    extra["metadata"], flat_meta = metadata_of(params.get("metadata"))
    now = ctx.clock.now()
    pid = wire.new_id("tr")
    card, credential = None, None
    if sequence == "first" and method == "creditcard":
        card = magic.test_card(now)
        credential = Credential(network_transaction_id=ctx.network_transaction_id(card),
                                stored_method=wire.mandate_id(pid), saves=True)
    extra["checkoutUrl"], checkout = ctx.hosted_link(pid, page=CHECKOUT)
    extra["expiresAt"] = magic.expires_at(method, now, due)
    new = Payment(id=pid, namespace=ctx.namespace, provider="mollie", amount=amount,
                  currency=currency, created=now, method=method or "", metadata=flat_meta,
                  description=str(params["description"])[:255], extra=extra, card=card,
                  credential=credential)
    result = await run(ctx, Authorize(pid, Outcome.requires_action("redirect"), create=new,
                                      writes=Writes(on_action=(checkout,))), new)
    return _created(ctx, result.payment)


def _created(ctx: Context, p: Payment) -> Reply:
    if wire.status(p) in ("open", "pending"):
        ctx.schedule(Expire(p.id), p.extra["expiresAt"])
    return Reply(body(ctx, p), status=201)


def _first_methods(method: str | None, usable: list[str],
                   currency: str) -> tuple[str | None, list[str]]:
    """A first payment takes only the methods that leave a mandate."""
    allowed = magic.FIRST_PAYMENT_MANDATES
    if method is not None and method not in allowed:
        raise MollieError(f"The payment method {method} does not support first payments "
                          f"(sequenceType first); use one of {', '.join(sorted(allowed))}.",
                          field="method")
    if usable:
        usable = [m for m in usable if m in allowed]
    else:
        usable = [m for m in allowed if magic.METHODS[m].accepts(currency)]
    if not usable:
        raise MollieError("None of the payment methods given supports first payments "
                          f"(sequenceType first); use one of {', '.join(sorted(allowed))}.",
                          field="method")
    return method, usable


async def _recurring(ctx: Context, params: dict[str, Any], customer: str) -> Reply:
    """Charged on the customer's mandate (the one named, else the newest valid one):
    no checkout, paid or failed at once; the core declines it if its card has expired
    since the mandate was made."""
    amount, currency = amount_of(params)
    method = params.get("method")
    if method is not None and not isinstance(method, str):
        raise MollieError("A recurring payment is charged on one mandate: give one method "
                          "(or none), not a list.", field="method")
    mandate = await mandates.usable(ctx, customer, params.get("mandateId"), method)
    metadata, flat_meta = metadata_of(params.get("metadata"))
    now = ctx.clock.now()
    new = mandates.charge(
        mandate, pid=wire.new_id("tr"), namespace=ctx.namespace, now=now, amount=amount,
        currency=currency, description=str(params["description"])[:255],
        mit_type=MitType.UNSCHEDULED, metadata=flat_meta,
        extra={"metadata": metadata, "webhookUrl": webhook_url(ctx, params.get("webhookUrl")),
               "redirectUrl": _url(params.get("redirectUrl"), "redirectUrl", "redirect URL")})
    card, nti = new.card, mandate["_nti"]
    outcome = Outcome.approve()
    if card is not None and nti is not None and \
            not ctx.network_transaction_id_matches(nti, card):
        outcome = Outcome.decline(DeclineReason.TRANSACTION_NOT_ALLOWED)
    result = await run(ctx, Authorize(new.id, outcome, create=new), new)
    return _created(ctx, result.payment)


async def get_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    embed = params.get("embed", "").split(",")
    return body(ctx, p, refunds=list(reversed(p.refunds)) if "refunds" in embed else None)


async def list_payments(ctx: Context, params: dict[str, Any]) -> Any:
    base = api_base(ctx)
    found, nxt = page_of(await ctx.payments(limit=100_000), params, lambda p: p.id)
    items = [body(ctx, p) for p in found]
    return listing(ctx, "payments", items, f"{base}/payments", params, nxt,
                   "payments-api/list-payments")


async def update_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    if wire.status(p) != "open":
        raise MollieError(f"The payment {p.id} cannot be updated: its status is "
                          f"{wire.status(p)}. Only open payments can be updated.")
    extra: dict[str, Any] = {}
    changes = PaymentChanges(extra=extra)
    for key, label in (("redirectUrl", "redirect URL"), ("cancelUrl", "cancel URL")):
        if key in params:
            extra[key] = _url(params[key], key, label)
    if "webhookUrl" in params:
        extra["webhookUrl"] = webhook_url(ctx, params["webhookUrl"])
    for key in ("locale", "restrictPaymentMethodsToCountry"):
        if key in params:
            extra[key] = params[key]
    if "metadata" in params:
        extra["metadata"], changes["metadata"] = metadata_of(params["metadata"])
    if "description" in params:
        changes["description"] = str(params["description"])[:255]
    result = await run(ctx, Update(p.id, changes), p)
    return body(ctx, result.payment)


async def cancel_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    if not wire.is_cancelable(p):
        why = f"its status is {wire.status(p)}" if wire.status(p) != "open" else \
            f"open {p.extra.get('method') or 'payments without a method'} payments " \
            "cannot be canceled by the merchant (only open bank transfer payments can)"
        raise MollieError(f"The payment {p.id} cannot be canceled: {why}. Check "
                          "isCancelable before canceling.")
    result = await run(ctx, Void(p.id, "canceled by the merchant"), p)
    return body(ctx, result.payment)
