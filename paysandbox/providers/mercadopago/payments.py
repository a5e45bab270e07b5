"""Mercado Pago's payments (/v1/payments) -> canonical commands, and back."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from paysandbox.core.commands import (
    Authorize,
    Capture,
    Command,
    Expire,
    Result,
    Void,
    Writes,
)
from paysandbox.core.money import UnknownCurrency, currency, to_major
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import (
    AmountExceeded,
    CardDetails,
    InvalidTransition,
    NoSuchPayment,
    Payment,
    PaymentChanges,
    Status,
)
from paysandbox.errors import InvalidRequest
from paysandbox.providers.mercadopago import boleto, magic, pix, stored, wire
from paysandbox.providers.mercadopago.card_tokens import TOKENS
from paysandbox.providers.mercadopago.errors import amount_error, not_found, state_error
from paysandbox.providers.seam import Context, Reply

_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")

#: Documented defaults: PIX 24 hours; boleto and OXXO vouchers 3 days.
DEFAULT_EXPIRY = {"pix": 24 * 3600.0, "boleto": 3 * 86400.0, "oxxo": 3 * 86400.0}
PIX_MIN, PIX_MAX = 30 * 60.0, 30 * 86400.0
AUTHORIZATION_HOLD = 7 * 86400.0
_BRT = timezone(timedelta(hours=-3))
#: The payer's page of a PIX, boleto or OXXO payment (mercadopago/pages.py).
TICKETS = "mercadopago/tickets"


async def payment(ctx: Context, raw_id: str) -> Payment:
    if not raw_id.isdigit():
        raise InvalidRequest(f"Invalid payment id {raw_id!r}: Mercado Pago's payment ids "
                             "are numbers, for example 1234567890.", code="1")
    p = await ctx.payment(raw_id)
    if p is None:
        raise not_found("Payment")
    return p


async def run(ctx: Context, command: Command, p: Payment, *,
              amount: int | None = None) -> Result:
    """Execute a command on payment `p`, in Mercado Pago's words when it is refused."""
    try:
        return await ctx.execute(command, p, amount=amount)
    except NoSuchPayment:
        raise not_found("Payment") from None
    except InvalidTransition as exc:
        raise state_error(exc) from None
    except AmountExceeded as exc:
        raise amount_error(exc) from None


# -- create ----------------------------------------------------------------------------

async def create_payment(ctx: Context, params: dict[str, Any]) -> Any:
    if not ctx.headers.get("X-Idempotency-Key"):
        raise InvalidRequest(
            "Header X-Idempotency-Key can't be null. Send a unique key (a UUID v4) with "
            "every payment creation; the official SDKs send one for you.", code="4292")
    method_id = params["payment_method_id"]
    known = wire.METHODS.get(method_id)
    if known is None:
        raise InvalidRequest(
            f"Invalid payment_method_id {method_id!r}. Use one of: "
            f"{', '.join(sorted(wire.METHODS))}.", param="payment_method_id", code="1")
    type_id, fixed, method = known
    code = _currency(params.get("currency_id"), fixed, method_id)
    minor = wire.to_minor(params["transaction_amount"], code)
    url = params.get("notification_url")
    if url is not None and not _URL.match(url):
        raise InvalidRequest("notificaction_url attribute must be url valid",
                             param="notification_url", code="4020")
    refusal = None if url is None else ctx.destination_refusal(url)
    if refusal is not None:
        raise InvalidRequest("notificaction_url attribute must be url valid: destination "
                             f"not allowed: {refusal}", param="notification_url",
                             code="4020")
    expires_at = _expiry(ctx, params, method)
    p = _new_payment(ctx, params, minor, code, method, type_id, expires_at)
    if method == "card":
        return await _pay_by_card(ctx, p, params)
    return await _pay_later(ctx, p)


def _expiry(ctx: Context, params: Mapping[str, Any], method: str) -> float | None:
    if method == "card":
        return None
    now = ctx.clock.now()
    given = params.get("date_of_expiration")
    if given is None:
        return now + DEFAULT_EXPIRY[method]
    at = wire.parse_date(given)
    if at <= now:
        raise InvalidRequest(f"date_of_expiration {given} is in the past; give a future "
                             "date.", param="date_of_expiration", code="23")
    if method == "pix" and not PIX_MIN <= at - now <= PIX_MAX:
        raise InvalidRequest(
            f"date_of_expiration {given} is out of range: a PIX payment expires between "
            "30 minutes and 30 days after it is created.", param="date_of_expiration",
            code="23")
    return at


def _new_payment(ctx: Context, params: Mapping[str, Any], minor: int, code: str,
                 method: str, type_id: str, expires_at: float | None) -> Payment:
    pid = str(wire.new_id())
    metadata = params.get("metadata") or {}
    extra: dict[str, Any] = {
        "payment_method_id": params["payment_method_id"], "payment_type_id": type_id,
        "payer": _payer(params["payer"]), "collector_id": wire.user_id(ctx.namespace),
        "metadata": metadata, "expires_at": expires_at,
        **{k: params[k] for k in ("external_reference", "notification_url", "callback_url",
                                  "statement_descriptor", "installments", "issuer_id",
                                  "binary_mode", "additional_info") if k in params},
    }
    return Payment(
        id=pid, namespace=ctx.namespace, provider="mercadopago", amount=minor, currency=code,
        created=ctx.clock.now(), capture_manual=params.get("capture") is False,
        metadata={str(k): str(v) for k, v in metadata.items()},
        description=params.get("description"), method=method, extra=extra)


async def _pay_by_card(ctx: Context, p: Payment, params: Mapping[str, Any]) -> Any:
    """A card pays at once; its token is used up in the same step."""
    token_id = params.get("token")
    if not token_id:
        raise InvalidRequest(
            f"token attribute can't be null: paying with {params['payment_method_id']} "
            "needs a card token. Create one with POST /v1/card_tokens.", param="token",
            code="1")
    tokens = ctx.objects(TOKENS)
    record = await tokens.get(token_id)
    if record is None:
        raise InvalidRequest(f"Card Token not found: {token_id}", param="token",
                             code="2006")
    if record["_used"] or record["_due"] < ctx.clock.now():
        raise InvalidRequest(
            f"Invalid card token {token_id}: a card token can be used once and for 7 "
            "days; create a new one.", param="token", code="2062")
    card = CardDetails(brand=record["_brand"], last4=record["last_four_digits"],
                       bin=record["first_six_digits"],
                       exp_month=record["expiration_month"],
                       exp_year=record["expiration_year"],
                       funding="debit" if params["payment_method_id"].startswith("deb")
                       else "credit", country="BR", fingerprint=record["_fingerprint"])
    nti = ctx.network_transaction_id(card)
    kept = await stored.stored(ctx, params, record, card, nti)
    now = wire.date(ctx.clock.now())
    extra: dict[str, Any] = {"network_transaction_id": nti}
    if kept.customer is not None:
        extra["payer"] = {**p.extra["payer"], "id": kept.customer["id"], "type": "customer",
                          "email": p.extra["payer"]["email"] or kept.customer["email"]}
    changes = PaymentChanges(card=card, credential=kept.credential, extra={
        **extra,
        "authorization_code": f"{secrets.randbelow(10**6):06d}",
        "card": {"id": record["card_id"], "first_six_digits": record["first_six_digits"],
                 "last_four_digits": record["last_four_digits"],
                 "expiration_month": record["expiration_month"],
                 "expiration_year": record["expiration_year"],
                 "date_created": now, "date_last_updated": now,
                 "cardholder": record["cardholder"]}})
    outcome = kept.refusal or magic.outcome_for_cardholder(record["cardholder"].get("name"))
    p = dataclasses.replace(p, card=card)
    used = tokens.record(token_id, {**record, "_used": True})
    result = await run(ctx, Authorize(p.id, outcome, changes, create=p,
                                      writes=Writes(records=(used, *kept.records))), p)
    if result.payment.status is Status.AUTHORIZED:
        ctx.schedule(Void(p.id, "expired"), ctx.clock.now() + AUTHORIZATION_HOLD)
    return Reply(shown(ctx, result.payment), status=201)


def shown(ctx: Context, p: Payment) -> dict[str, Any]:
    """The payment, with `expanded` when the request asks for it."""
    out = wire.payment(p)
    more = stored.expanded(ctx, p.extra.get("network_transaction_id"))
    if more is not None:
        out["expanded"] = more
    return out


async def _pay_later(ctx: Context, p: Payment) -> Any:
    """PIX, boleto, OXXO: pending with a QR code or voucher until paid or expired; the
    payer's page token is written with the payment."""
    url, ticket = ctx.hosted_link(p.id, page=TICKETS)
    extra: dict[str, Any] = {"external_resource_url": url, **_voucher(p)}
    result = await run(ctx, Authorize(p.id, Outcome.pending(), PaymentChanges(extra=extra),
                                      create=p, writes=Writes(records=(ticket,))), p)
    at = p.extra["expires_at"]
    if result.payment.status is Status.PENDING and at is not None:
        ctx.schedule(Expire(p.id), at)
    return Reply(wire.payment(result.payment), status=201)


# -- read, change ----------------------------------------------------------------------

async def get_payment(ctx: Context, params: dict[str, Any]) -> Any:
    return shown(ctx, await payment(ctx, ctx.path["id"]))


async def update_payment(ctx: Context, params: dict[str, Any]) -> Any:
    p = await payment(ctx, ctx.path["id"])
    if params.get("status") == "cancelled":
        result = await run(ctx, Void(p.id, "by_collector"), p)
    elif params.get("capture") is True:
        amount = params.get("transaction_amount")
        minor = None if amount is None else wire.to_minor(amount, p.currency)
        result = await run(ctx, Capture(p.id, minor), p, amount=minor)
    else:
        raise InvalidRequest(
            "Params Error: nothing to update. Send {\"status\": \"cancelled\"} to "
            "cancel a pending or authorized payment, or {\"capture\": true} to capture "
            "an authorized one.", code="1")
    return wire.payment(result.payment)


async def search_payments(ctx: Context, params: dict[str, Any]) -> Any:
    for unsupported in ("range", "begin_date", "end_date"):
        if unsupported in params:
            raise InvalidRequest(f"The simulator does not search by date ({unsupported}); "
                                 "filter by external_reference, status or id instead.",
                                 param=unsupported, code="1")
    found = [wire.payment(p) for p in await ctx.payments(limit=100_000)]
    for field in ("external_reference", "status", "payment_method_id", "payment_type_id"):
        if field in params:
            found = [r for r in found if r.get(field) == params[field]]
    if "id" in params:
        found = [r for r in found if str(r["id"]) == params["id"]]
    key = params.get("sort", "date_created")
    found.sort(key=lambda r: (r.get(key) is not None, r.get(key) or 0, r["id"]),
               reverse=params.get("criteria", "desc") == "desc")
    limit, offset = params.get("limit", 30), params.get("offset", 0)
    return {"paging": {"total": len(found), "limit": limit, "offset": offset},
            "results": found[offset:offset + limit]}


# -- parameters ------------------------------------------------------------------------

def _payer(given: Mapping[str, Any]) -> dict[str, Any]:
    ident = given.get("identification") or {}
    return {"id": None, "type": None, "entity_type": given.get("entity_type"),
            "email": given.get("email"), "first_name": given.get("first_name"),
            "last_name": given.get("last_name"),
            "identification": {"type": ident.get("type"), "number": ident.get("number")},
            "phone": {"area_code": None, "number": None, "extension": None},
            "operator_id": None}


def _currency(given: str | None, fixed: str | None, method_id: str) -> str:
    if fixed is not None and given is not None and given != fixed:
        raise InvalidRequest(f"Invalid currency_id {given}: {method_id} payments are in "
                             f"{fixed}.", param="currency_id", code="1")
    code = fixed or given or "BRL"
    try:
        currency(code)
    except UnknownCurrency:  # served past its contract (report mode): still unusable
        raise InvalidRequest(f"Invalid currency_id {code!r}: use one of ARS, BRL, CLP, COP, "
                             "MXN, PEN, UYU or USD.", param="currency_id", code="1") from None
    return code


def _voucher(p: Payment) -> dict[str, Any]:
    """What the payer needs to pay: a PIX code, a boleto's lines, an OXXO reference."""
    if p.method == "pix":
        code = pix.br_code(key=f"{p.extra['collector_id']}@sandbox.mercadopago.invalid",
                           amount=str(to_major(p.amount, p.currency)),
                           txid=f"MP{p.id}", merchant_name="Payments Sandbox",
                           merchant_city="Sao Paulo")
        return {"qr_code": code, "qr_code_base64": pix.qr_png_base64(code)}
    reference = f"{int(p.id) % 10**13:013d}"
    reference += str(boleto.mod10(reference))
    if p.method == "oxxo":
        return {"reference": reference, "barcode": reference}
    due = datetime.fromtimestamp(p.extra["expires_at"], _BRT).date()
    code = boleto.barcode(cents=p.amount, due=due,
                          free_field=boleto.bradesco_free_field(int(p.id)))
    return {"reference": reference, "barcode": code,
            "digitable_line": boleto.digitable_line(code)}
