"""Checkout.com's vault: customers (`/customers`) and card instruments (`/instruments`),
and how a payment finds or saves them.

A customer is found by id or by email (an email index beside the records: the same
email under the same key is the same customer, as a payment's `customer` always was).
A card instrument's id follows from the card (`src_` and its fingerprint), so the same
card saved twice under one key is one instrument, as at Checkout.com. An instrument
keeps the scheme id of the payment that first saved it: the network transaction id a
merchant-initiated payment on it quotes. Both kinds are bounded by the repositories'
retention per namespace (the newest kept), and a customer links at most
`MAX_INSTRUMENTS` instruments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from aiohttp import web

from paysandbox.core.cards import detect_brand, digits_only, is_expired, luhn_valid
from paysandbox.core.commands import Record
from paysandbox.core.payments import CardDetails
from paysandbox.errors import Conflict, ResourceMissing
from paysandbox.objects import Kind
from paysandbox.providers.base import REQUEST_ID
from paysandbox.providers.checkoutcom import magic, wire
from paysandbox.providers.checkoutcom.wire import Invalid
from paysandbox.providers.seam import Context, Reply

_HEX_TO_B32 = str.maketrans("0189", "wxyz")
#: The instruments one customer links (a request naming more is refused by its contract).
MAX_INSTRUMENTS = 100


class CustomerRecord(TypedDict):
    id: str
    email: str
    name: str | None
    phone: dict[str, Any] | None
    metadata: dict[str, Any]
    default: str | None
    instruments: list[str]


class EmailRecord(TypedDict):
    id: str


class InstrumentRecord(TypedDict):
    id: str
    fingerprint: str
    expiry_month: int
    expiry_year: int
    name: str | None
    brand: str
    last4: str
    bin: str
    customer: str | None
    magic: str  # the test card's number when it is one, for its wired outcome
    nti: str | None  # the scheme id of the payment that first saved it


CUSTOMERS: Kind[CustomerRecord] = Kind("checkoutcom.customer")
EMAILS: Kind[EmailRecord] = Kind("checkoutcom.customer_email")
INSTRUMENTS: Kind[InstrumentRecord] = Kind("checkoutcom.instrument")


def instrument_id(fingerprint: str) -> str:
    """The instrument a card is saved as: its id follows from the card's fingerprint."""
    return "src_" + fingerprint[:26].lower().translate(_HEX_TO_B32)


def card_fingerprint(ctx: Context, number: str) -> str:
    return ctx.card_fingerprint(number, 64).upper()


def is_test_card(number: str) -> bool:
    return number in magic.CARD_CODES or number in magic.THREE_DS_CARDS


def new_instrument(ctx: Context, number: str, src: Mapping[str, Any],
                   customer: str | None, nti: str | None) -> InstrumentRecord:
    fingerprint = card_fingerprint(ctx, number)
    return InstrumentRecord(
        id=instrument_id(fingerprint), fingerprint=fingerprint,
        expiry_month=src["expiry_month"], expiry_year=src["expiry_year"],
        name=src.get("name"), brand=detect_brand(number).value, last4=number[-4:],
        bin=number[:6], customer=customer, magic=number if is_test_card(number) else "",
        nti=nti)


def card_of(record: InstrumentRecord) -> CardDetails:
    return CardDetails(brand=record["brand"], last4=record["last4"], bin=record["bin"],
                       exp_month=record["expiry_month"], exp_year=record["expiry_year"],
                       country="GB", fingerprint=record["fingerprint"])


def _email_key(email: str) -> str:
    return email.strip().lower()


async def customer_by(ctx: Context, identifier: str) -> CustomerRecord | None:
    """A customer by its `cus_` id or its email."""
    if identifier.startswith("cus_"):
        return await ctx.objects(CUSTOMERS).get(identifier)
    found = await ctx.objects(EMAILS).get(_email_key(identifier))
    return await ctx.objects(CUSTOMERS).get(found["id"]) if found else None


async def existing_customer(ctx: Context, cid: str) -> CustomerRecord:
    found = await ctx.objects(CUSTOMERS).get(cid)
    if found is None:
        raise ResourceMissing(f"No customer {cid}.")
    return found


def customer_records(ctx: Context, c: CustomerRecord) -> tuple[Record, ...]:
    """The customer and its email's index entry, as writes."""
    return (ctx.objects(CUSTOMERS).record(c["id"], c),
            ctx.objects(EMAILS).record(_email_key(c["email"]), EmailRecord(id=c["id"])))


def link(c: CustomerRecord, src_id: str, *, default: bool = False) -> CustomerRecord:
    """`c` with instrument `src_id` linked (its default when asked, or when it has none);
    past `MAX_INSTRUMENTS`, the oldest that is not the default is unlinked."""
    instruments = c["instruments"] if src_id in c["instruments"] else \
        [*c["instruments"], src_id]
    chosen = src_id if default or not c["default"] else c["default"]
    while len(instruments) > MAX_INSTRUMENTS:
        oldest = next(i for i in instruments if i != chosen)
        instruments = [i for i in instruments if i != oldest]
    return {**c, "instruments": instruments, "default": chosen}


async def payment_customer(ctx: Context, given: Mapping[str, Any]
                           ) -> tuple[CustomerRecord | None, dict[str, Any]]:
    """The customer a payment's `customer` names (found by id or email, or new when it
    gives an email no customer has), and the `customer` the payment shows."""
    found: CustomerRecord | None = None
    if given.get("id"):
        found = await ctx.objects(CUSTOMERS).get(given["id"])
    elif given.get("email"):
        found = await customer_by(ctx, given["email"])
        if found is None:
            found = CustomerRecord(
                id=wire.customer(ctx.namespace, given)["id"], email=given["email"],
                name=given.get("name"), phone=given.get("phone"), metadata={},
                default=None, instruments=[])
    shown = wire.customer(ctx.namespace, given)
    if found is not None:
        shown["id"] = found["id"]
        for key in ("email", "name"):
            if shown.get(key) is None and found.get(key) is not None:
                shown[key] = found[key]
    return found, shown


# -- customers ----------------------------------------------------------------------------

def no_content(ctx: Context) -> web.Response:
    return web.Response(status=204, headers={"Cko-Request-Id": ctx.request.get(REQUEST_ID, "")})


async def _instruments(ctx: Context, ids: list[str]) -> list[str]:
    for src_id in ids:
        if await ctx.objects(INSTRUMENTS).get(src_id) is None:
            raise Invalid("instrument_invalid")
    return list(dict.fromkeys(ids))


async def create_customer(ctx: Context, params: dict[str, Any]) -> Any:
    if await customer_by(ctx, params["email"]) is not None:
        raise Conflict(f"A customer with the email {params['email']} exists already.",
                       code="customer_email_already_exists")
    ids = await _instruments(ctx, params.get("instruments") or [])
    default = params.get("default")
    if default is not None:
        ids = await _instruments(ctx, [*ids, default])
    c = CustomerRecord(id=wire.new_id("cus"), email=params["email"],
                       name=params.get("name"), phone=params.get("phone"),
                       metadata=params.get("metadata") or {},
                       default=default or (ids[0] if ids else None), instruments=ids)
    await _save(ctx, c, None)
    return Reply({"id": c["id"]}, 201)


async def _save(ctx: Context, c: CustomerRecord, before: CustomerRecord | None) -> None:
    """The customer, its email index and the instruments it now links."""
    if before is not None and _email_key(before["email"]) != _email_key(c["email"]):
        await ctx.objects(EMAILS).delete(_email_key(before["email"]))
    await ctx.objects(CUSTOMERS).put(c["id"], c)
    await ctx.objects(EMAILS).put(_email_key(c["email"]), EmailRecord(id=c["id"]))
    stored = ctx.objects(INSTRUMENTS)
    for src_id in c["instruments"]:
        record = await stored.get(src_id)
        if record is not None and record["customer"] != c["id"]:
            await stored.put(src_id, {**record, "customer": c["id"]})


async def get_customer(ctx: Context, params: dict[str, Any]) -> Any:
    c = await customer_by(ctx, ctx.path["id"])
    if c is None:
        raise ResourceMissing(f"No customer {ctx.path['id']}.")
    out: dict[str, Any] = {"id": c["id"], "email": c["email"]}
    if c["default"]:
        out["default"] = c["default"]
    for key in ("name", "phone"):
        if c[key] is not None:
            out[key] = c[key]
    out["metadata"] = c["metadata"]
    out["instruments"] = [
        instrument_body(record, c) for src_id in c["instruments"]
        if (record := await ctx.objects(INSTRUMENTS).get(src_id)) is not None]
    return out


async def update_customer(ctx: Context, params: dict[str, Any]) -> Any:
    before = await existing_customer(ctx, ctx.path["id"])
    c: CustomerRecord = {**before}
    if params.get("email") is not None and \
            _email_key(params["email"]) != _email_key(before["email"]):
        if await customer_by(ctx, params["email"]) is not None:
            raise Conflict(f"A customer with the email {params['email']} exists already.",
                           code="customer_email_already_exists")
        c["email"] = params["email"]
    for key in ("name", "phone", "metadata"):
        if key in params:
            c[key] = params[key]
    if "instruments" in params:
        c["instruments"] = await _instruments(ctx, params["instruments"])
    if params.get("default") is not None:
        c = link(c, (await _instruments(ctx, [params["default"]]))[0], default=True)
    if c["default"] not in c["instruments"]:
        c["default"] = c["instruments"][0] if c["instruments"] else None
    await _save(ctx, c, before)
    return no_content(ctx)


async def delete_customer(ctx: Context, params: dict[str, Any]) -> Any:
    """The customer and every instrument linked to it, as at Checkout.com."""
    c = await existing_customer(ctx, ctx.path["id"])
    for src_id in c["instruments"]:
        await ctx.objects(INSTRUMENTS).delete(src_id)
    await ctx.objects(EMAILS).delete(_email_key(c["email"]))
    await ctx.objects(CUSTOMERS).delete(c["id"])
    return no_content(ctx)


# -- instruments --------------------------------------------------------------------------

def instrument_body(record: InstrumentRecord, c: CustomerRecord | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record["id"], "type": "card", "fingerprint": record["fingerprint"],
        "expiry_month": record["expiry_month"], "expiry_year": record["expiry_year"],
        "scheme": wire.scheme(record["brand"]), "last4": record["last4"],
        "bin": record["bin"], "card_type": "CREDIT", "card_category": "CONSUMER",
        "issuer_country": "GB"}
    if record["name"]:
        out["name"] = record["name"]
    if c is not None:
        out["customer"] = {"id": c["id"], "email": c["email"],
                           "default": c["default"] == record["id"]}
        if c["name"]:
            out["customer"]["name"] = c["name"]
    return out


async def _instrument(ctx: Context) -> InstrumentRecord:
    found = await ctx.objects(INSTRUMENTS).get(ctx.path["id"])
    if found is None:
        raise ResourceMissing(f"No instrument {ctx.path['id']}.")
    return found


def _card(ctx: Context, params: Mapping[str, Any]) -> str:
    """The card number of a `card` instrument request; every problem in one 422."""
    problems = [f"{name}_required" for field, name in (
        ("number", "card_number"), ("expiry_month", "card_expiry_month"),
        ("expiry_year", "card_expiry_year")) if params.get(field) is None]
    if problems:
        raise Invalid(*problems)
    number = digits_only(params["number"])
    if not luhn_valid(number):
        raise Invalid("card_number_invalid")
    if is_expired(params["expiry_month"], params["expiry_year"], ctx.clock.now_datetime()):
        raise Invalid("card_expired")
    return number


async def create_instrument(ctx: Context, params: dict[str, Any]) -> Any:
    """A card instrument from card details (`type: card`); `token` needs the Tokens API,
    which is not imitated (422 `token_invalid`)."""
    kind = params["type"]
    if kind == "token":
        raise Invalid("token_invalid")
    if kind != "card":
        raise Invalid("instrument_type_invalid")
    number = _card(ctx, params)
    given = params.get("customer") or {}
    c: CustomerRecord | None = None
    if given.get("id"):
        c = await ctx.objects(CUSTOMERS).get(given["id"])
        if c is None:
            raise Invalid("customer_not_found")
    elif given.get("email"):
        c, _ = await payment_customer(ctx, given)
    record = new_instrument(ctx, number, params, c["id"] if c else None, None)
    known = await ctx.objects(INSTRUMENTS).get(record["id"])
    if known is not None:  # the same card again: the same instrument, its history kept
        record = {**record, "nti": known["nti"],
                  "customer": record["customer"] or known["customer"]}
    if c is not None:
        c = link(c, record["id"], default=bool(given.get("default")))
        await ctx.objects(CUSTOMERS).put(c["id"], c)
        await ctx.objects(EMAILS).put(_email_key(c["email"]), EmailRecord(id=c["id"]))
    await ctx.objects(INSTRUMENTS).put(record["id"], record)
    return Reply(instrument_body(record, c), 201)


async def get_instrument(ctx: Context, params: dict[str, Any]) -> Any:
    record = await _instrument(ctx)
    c = await ctx.objects(CUSTOMERS).get(record["customer"]) if record["customer"] else None
    return instrument_body(record, c)


async def update_instrument(ctx: Context, params: dict[str, Any]) -> Any:
    record = await _instrument(ctx)
    for key in ("expiry_month", "expiry_year", "name"):
        if params.get(key) is not None:
            record[key] = params[key]
    given = params.get("customer") or {}
    if given.get("id"):
        c = await ctx.objects(CUSTOMERS).get(given["id"])
        if c is None:
            raise Invalid("customer_not_found")
        record["customer"] = c["id"]
        c = link(c, record["id"], default=bool(given.get("default")))
        await ctx.objects(CUSTOMERS).put(c["id"], c)
    await ctx.objects(INSTRUMENTS).put(record["id"], record)
    return {"type": "card", "fingerprint": record["fingerprint"]}


async def delete_instrument(ctx: Context, params: dict[str, Any]) -> Any:
    """The instrument, unlinked from its customer (whose next one becomes the default)."""
    record = await _instrument(ctx)
    if record["customer"]:
        c = await ctx.objects(CUSTOMERS).get(record["customer"])
        if c is not None:
            rest = [i for i in c["instruments"] if i != record["id"]]
            default = c["default"] if c["default"] != record["id"] else \
                (rest[0] if rest else None)
            await ctx.objects(CUSTOMERS).put(c["id"], {**c, "instruments": rest,
                                                       "default": default})
    await ctx.objects(INSTRUMENTS).delete(record["id"])
    return no_content(ctx)
