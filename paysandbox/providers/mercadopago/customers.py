"""Mercado Pago's customers and their saved cards (`/v1/customers`, `.../cards`).

A card is saved from a card token (`POST /v1/customers/{id}/cards` with `token`) and paid
with later through a new token made from its `card_id` (`POST /v1/card_tokens`), as
Mercado Pago's own flow goes. Customers are found by id or by email (an email index
beside the records; one customer per email and access token, as Mercado Pago refuses a
second). Both kinds are bounded by the repositories' retention per namespace (the
newest kept); a customer holds at most `MAX_CARDS` cards.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, TypedDict

from paysandbox.errors import InvalidRequest, ResourceMissing
from paysandbox.providers.mercadopago import wire
from paysandbox.providers.mercadopago.card_tokens import TOKENS, CardTokenRecord
from paysandbox.providers.mercadopago.cards import CARDS, CardRecord, card_missing
from paysandbox.providers.seam import Context, Kind, Reply

#: Mercado Pago keeps up to 10 cards per customer; more is refused.
MAX_CARDS = 10
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class CustomerRecord(TypedDict):
    """A customer as its API shows it (without `cards`, read from their records), and
    its cards' ids (`_cards`, never shown)."""

    id: str
    email: str
    first_name: str | None
    last_name: str | None
    phone: dict[str, Any]
    identification: dict[str, Any]
    address: dict[str, Any]
    description: str | None
    date_registered: str | None
    date_created: str | None
    date_last_updated: str | None
    metadata: dict[str, Any]
    default_card: str | None
    default_address: str | None
    addresses: list[Any]
    live_mode: bool
    _cards: list[str]


class EmailRecord(TypedDict):
    id: str


CUSTOMERS: Kind[CustomerRecord] = Kind("mercadopago.customer")
EMAILS: Kind[EmailRecord] = Kind("mercadopago.customer_email")

_EDITABLE = ("first_name", "last_name", "phone", "identification", "address",
             "description", "metadata", "date_registered", "default_card",
             "default_address")
#: payment_method_id by brand (wire.METHODS' card ids). Mercado Pago's test Mastercard
#: (5031 4332 1540 6351) falls in a range the BIN table calls Maestro: it is `master`.
_METHOD_IDS = {"mastercard": "master", "maestro": "master", "visa": "visa",
               "amex": "amex", "elo": "elo", "hipercard": "hipercard", "diners": "diners"}


def customer_missing() -> ResourceMissing:
    return ResourceMissing("Customer not found", code="2002")


def _key(email: str) -> str:
    return email.strip().lower()


def show(c: CustomerRecord, cards: list[CardRecord]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in c.items() if not k.startswith("_")}
    out["cards"] = [show_card(card) for card in cards]
    return out


def show_card(card: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in card.items() if not k.startswith("_")}


async def customer(ctx: Context, cid: str) -> CustomerRecord:
    found = await ctx.objects(CUSTOMERS).get(cid)
    if found is None:
        raise customer_missing()
    return found


async def cards_of(ctx: Context, c: CustomerRecord) -> list[CardRecord]:
    stored = ctx.objects(CARDS)
    return [card for cid in c["_cards"] if (card := await stored.get(cid)) is not None]


async def _shown(ctx: Context, c: CustomerRecord) -> dict[str, Any]:
    return show(c, await cards_of(ctx, c))


def _user(ctx: Context) -> str:
    return str(wire.user_id(ctx.namespace))


# -- customers ----------------------------------------------------------------------------

async def create_customer(ctx: Context, params: dict[str, Any]) -> Any:
    if await ctx.objects(EMAILS).get(_key(params["email"])) is not None:
        raise InvalidRequest("the customer already exist", param="email", code="101")
    now = wire.date(ctx.clock.now())
    cid = f"{_user(ctx)}-{''.join(secrets.choice(_ALNUM) for _ in range(14))}"
    c = CustomerRecord(
        id=cid, email=params["email"], first_name=params.get("first_name"),
        last_name=params.get("last_name"),
        phone=params.get("phone") or {"area_code": None, "number": None},
        identification=params.get("identification") or {"type": None, "number": None},
        address=params.get("address") or {"id": None, "zip_code": None,
                                          "street_name": None, "street_number": None},
        description=params.get("description"),
        date_registered=params.get("date_registered"), date_created=now,
        date_last_updated=now, metadata=params.get("metadata") or {}, default_card=None,
        default_address=params.get("default_address"), addresses=[], live_mode=False,
        _cards=[])
    await ctx.objects(CUSTOMERS).put(cid, c)
    await ctx.objects(EMAILS).put(_key(c["email"]), EmailRecord(id=cid))
    return Reply(show(c, []), status=201)


async def get_customer(ctx: Context, params: dict[str, Any]) -> Any:
    return await _shown(ctx, await customer(ctx, ctx.path["id"]))


async def update_customer(ctx: Context, params: dict[str, Any]) -> Any:
    before = await customer(ctx, ctx.path["id"])
    c: CustomerRecord = {**before}
    for key in _EDITABLE:
        if key in params:
            c[key] = params[key]  # type: ignore[literal-required]
    if c["default_card"] is not None and c["default_card"] not in c["_cards"]:
        raise InvalidRequest(f"Invalid default_card {c['default_card']}: the customer has "
                             "no such card.", param="default_card", code="1")
    if params.get("email") is not None and _key(params["email"]) != _key(before["email"]):
        if await ctx.objects(EMAILS).get(_key(params["email"])) is not None:
            raise InvalidRequest("the customer already exist", param="email", code="101")
        await ctx.objects(EMAILS).delete(_key(before["email"]))
        await ctx.objects(EMAILS).put(_key(params["email"]), EmailRecord(id=c["id"]))
        c["email"] = params["email"]
    c["date_last_updated"] = wire.date(ctx.clock.now())
    await ctx.objects(CUSTOMERS).put(c["id"], c)
    return await _shown(ctx, c)


async def delete_customer(ctx: Context, params: dict[str, Any]) -> Any:
    """The customer and its cards; the answer is the customer as it was."""
    c = await customer(ctx, ctx.path["id"])
    shown = await _shown(ctx, c)
    for cid in c["_cards"]:
        await ctx.objects(CARDS).delete(cid)
    await ctx.objects(EMAILS).delete(_key(c["email"]))
    await ctx.objects(CUSTOMERS).delete(c["id"])
    return shown


async def search_customers(ctx: Context, params: dict[str, Any]) -> Any:
    """By `email` (the one customer with it), else every customer; `limit`, `offset`."""
    if params.get("email"):
        found = await ctx.objects(EMAILS).get(_key(params["email"]))
        got = await ctx.objects(CUSTOMERS).get(found["id"]) if found else None
        matches = [got] if got is not None else []
    else:
        matches = (await ctx.objects(CUSTOMERS).all())[::-1]
    limit, offset = params.get("limit", 10), params.get("offset", 0)
    page = matches[offset:offset + limit]
    return {"paging": {"limit": limit, "offset": offset, "total": len(matches)},
            "results": [await _shown(ctx, c) for c in page]}


# -- cards --------------------------------------------------------------------------------

async def create_card(ctx: Context, params: dict[str, Any]) -> Any:
    """A card saved from a card token (which it uses up)."""
    c = await customer(ctx, ctx.path["id"])
    tokens = ctx.objects(TOKENS)
    token = await tokens.get(params["token"])
    if token is None:
        raise InvalidRequest(f"Card Token not found: {params['token']}", param="token",
                             code="2006")
    if token["_used"] or token["_due"] < ctx.clock.now():
        raise InvalidRequest(f"Invalid card token {params['token']}: a card token can be "
                             "used once and for 7 days; create a new one.", param="token",
                             code="2062")
    same = next((card for card in await cards_of(ctx, c)
                 if card["_fingerprint"] == token["_fingerprint"]), None)
    if same is None and len(c["_cards"]) >= MAX_CARDS:
        raise InvalidRequest(f"The customer has {MAX_CARDS} cards already, the most "
                             "Mercado Pago keeps; delete one first.", code="1")
    card = same or _card(ctx, c["id"], token)
    if same is None:
        c = {**c, "_cards": [*c["_cards"], card["id"]],
             "default_card": c["default_card"] or card["id"]}
        await ctx.objects(CUSTOMERS).put(c["id"], c)
        await ctx.objects(CARDS).put(card["id"], card)
    await tokens.put(token["id"], {**token, "_used": True})
    return Reply(show_card(card), status=201)


def _card(ctx: Context, customer_id: str, token: CardTokenRecord) -> CardRecord:
    now = wire.date(ctx.clock.now())
    method = _METHOD_IDS.get(token["_brand"], token["_brand"])
    return CardRecord(
        id=str(10**12 + secrets.randbelow(9 * 10**12)), customer_id=customer_id,
        expiration_month=token["expiration_month"],
        expiration_year=token["expiration_year"],
        first_six_digits=token["first_six_digits"],
        last_four_digits=token["last_four_digits"],
        payment_method={"id": method, "name": method.capitalize(),
                        "payment_type_id": "credit_card", "thumbnail": "",
                        "secure_thumbnail": ""},
        security_code={"length": 4 if token["_brand"] == "amex" else 3,
                       "card_location": "front" if token["_brand"] == "amex" else "back"},
        issuer={"id": 24, "name": method.capitalize()},
        cardholder=dict(token["cardholder"]), date_created=now, date_last_updated=now,
        user_id=_user(ctx), live_mode=False, _brand=token["_brand"],
        _fingerprint=token["_fingerprint"], _nti=None)


async def _customer_card(ctx: Context) -> tuple[CustomerRecord, CardRecord]:
    c = await customer(ctx, ctx.path["id"])
    card = await ctx.objects(CARDS).get(ctx.path["card_id"]) \
        if ctx.path["card_id"] in c["_cards"] else None
    if card is None:
        raise card_missing()
    return c, card


async def list_cards(ctx: Context, params: dict[str, Any]) -> Any:
    return [show_card(card) for card in await cards_of(ctx, await customer(
        ctx, ctx.path["id"]))]


async def get_card(ctx: Context, params: dict[str, Any]) -> Any:
    return show_card((await _customer_card(ctx))[1])


async def delete_card(ctx: Context, params: dict[str, Any]) -> Any:
    """The card, gone from its customer (whose next card becomes the default)."""
    c, card = await _customer_card(ctx)
    rest = [cid for cid in c["_cards"] if cid != card["id"]]
    default = c["default_card"] if c["default_card"] != card["id"] else \
        (rest[0] if rest else None)
    await ctx.objects(CUSTOMERS).put(c["id"], {**c, "_cards": rest, "default_card": default})
    await ctx.objects(CARDS).delete(card["id"])
    return show_card(card)
