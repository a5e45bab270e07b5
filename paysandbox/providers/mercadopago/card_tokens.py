"""Mercado Pago's card tokens (`POST /v1/card_tokens`, as the SDKs make them with the
access token): kept in a typed repository, single use, valid for seven days. A token is
made from a card's details, or from a customer's saved card (`card_id`, with its
`security_code` when the customer is there to type it)."""

from __future__ import annotations

import secrets
from typing import Any, TypedDict

from paysandbox.core.cards import detect_brand, digits_only, is_expired, luhn_valid
from paysandbox.errors import InvalidRequest
from paysandbox.providers.mercadopago import wire
from paysandbox.providers.mercadopago.cards import CARDS, card_missing
from paysandbox.providers.mercadopago.errors import not_found
from paysandbox.providers.seam import Context, Kind, Reply

TTL = 7 * 86400.0


class Cardholder(TypedDict):
    name: str | None
    identification: dict[str, Any]


class CardTokenRecord(TypedDict):
    """A card token as its API shows it, and (`_` keys, never shown) what paying with it
    needs: the brand, whether it was used, when it lapses, the card's fingerprint."""

    id: str
    public_key: None
    card_id: str | None
    luhn_validation: bool
    status: str
    live_mode: bool
    require_esc: bool
    date_used: str | None
    card_number_length: int
    security_code_length: int
    first_six_digits: str
    last_four_digits: str
    expiration_month: int
    expiration_year: int
    cardholder: Cardholder
    date_created: str | None
    date_last_updated: str | None
    date_due: str | None
    _brand: str
    _used: bool
    _due: float
    _fingerprint: str


TOKENS: Kind[CardTokenRecord] = Kind("mercadopago.card_token")


def _int(value: int | float | str, code: str) -> int:
    """A month or year as a number. JSON parsers read integers too large for 64 bits as
    floats, which a schema's `integer` still admits when they have no fraction."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 10_000:
        return int(value)
    if isinstance(value, str) and value.isdigit() and len(value) <= 4:
        return int(value)
    raise InvalidRequest(f"Invalid value {value!r}: expected a number.", code=code)


async def create_card_token(ctx: Context, params: dict[str, Any]) -> Any:
    if params.get("card_id") is not None:
        return await _from_card(ctx, params)
    number = digits_only(params["card_number"])
    if not luhn_valid(number):
        raise InvalidRequest("Invalid card_number: it fails the Luhn check. Use a test "
                             "card, for example 5031 4332 1540 6351.",
                             param="card_number", code="E301")
    month, year = _int(params["expiration_month"], "325"), _int(
        params["expiration_year"], "326")
    year = year + 2000 if year < 100 else year
    if not 1 <= month <= 12:
        raise InvalidRequest("Invalid expiration_month: use 1 to 12.",
                             param="expiration_month", code="325")
    if is_expired(month, year, ctx.clock.now_datetime()):
        raise InvalidRequest("Invalid expiration_year: the card has expired.",
                             param="expiration_year", code="326")
    now = ctx.clock.now()
    holder = params.get("cardholder") or {}
    token_id = secrets.token_hex(16)
    record = CardTokenRecord(
        id=token_id, public_key=None, card_id=None, luhn_validation=True, status="active",
        live_mode=False, require_esc=False, date_used=None,
        card_number_length=len(number),
        security_code_length=len(params.get("security_code") or ""),
        first_six_digits=number[:6], last_four_digits=number[-4:],
        expiration_month=month, expiration_year=year,
        cardholder=Cardholder(name=holder.get("name"), identification={
            k: v for k, v in (holder.get("identification") or {}).items()
            if k in ("type", "number")}),
        date_created=wire.date(now), date_last_updated=wire.date(now),
        date_due=wire.date(now + TTL),
        _brand=detect_brand(number).value, _used=False, _due=now + TTL,
        _fingerprint=ctx.card_fingerprint(number))
    await ctx.objects(TOKENS).put(token_id, record)
    return Reply(wire.card_token(record), status=201)


async def _from_card(ctx: Context, params: dict[str, Any]) -> Any:
    card = await ctx.objects(CARDS).get(params["card_id"])
    if card is None or (params.get("customer_id") not in (None, card["customer_id"])):
        raise card_missing()
    now = ctx.clock.now()
    token_id = secrets.token_hex(16)
    record = CardTokenRecord(
        id=token_id, public_key=None, card_id=card["id"], luhn_validation=True,
        status="active", live_mode=False, require_esc=False, date_used=None,
        card_number_length=16, security_code_length=len(params.get("security_code") or ""),
        first_six_digits=card["first_six_digits"], last_four_digits=card["last_four_digits"],
        expiration_month=card["expiration_month"], expiration_year=card["expiration_year"],
        cardholder=Cardholder(name=card["cardholder"].get("name"),
                              identification=card["cardholder"].get("identification") or {}),
        date_created=wire.date(now), date_last_updated=wire.date(now),
        date_due=wire.date(now + TTL), _brand=card["_brand"], _used=False, _due=now + TTL,
        _fingerprint=card["_fingerprint"])
    await ctx.objects(TOKENS).put(token_id, record)
    return Reply(wire.card_token(record), status=201)


async def get_card_token(ctx: Context, params: dict[str, Any]) -> Any:
    record = await ctx.objects(TOKENS).get(ctx.path["id"])
    if record is None:
        raise not_found("Card token")
    return wire.card_token(record)
