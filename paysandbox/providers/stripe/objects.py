"""Stripe's objects that are not payments: PaymentMethods, webhook endpoints, events."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NotRequired, TypedDict

import orjson

from paysandbox.core.cards import (
    card_fingerprint,
    detect_brand,
    digits_only,
    is_expired,
    luhn_valid,
)
from paysandbox.core.outcomes import Outcome
from paysandbox.errors import InvalidRequest
from paysandbox.objects import Kind
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import magic, wire
from paysandbox.providers.stripe.errors import cursor_missing, missing
from paysandbox.webhooks.dispatcher import Event


class PaymentMethodRecord(TypedDict):
    id: str
    created: int
    magic: str  # the test card's number when it is one, for its wired outcome
    billing_details: dict[str, Any] | None
    metadata: dict[str, str]
    card: Mapping[str, Any]
    # Saved cards (saved.py): the customer it is attached to; the SetupIntent or
    # PaymentIntent whose success attaches it (until then `pending_customer`); detached
    # for good.
    customer: NotRequired[str | None]
    pending_customer: NotRequired[str | None]
    setup_by: NotRequired[str | None]
    detached: NotRequired[bool]


class EndpointRecord(TypedDict):
    id: str
    object: str
    api_version: str | None
    application: None
    created: int
    description: str | None
    enabled_events: list[str]
    livemode: bool
    metadata: dict[str, str]
    secret: str
    status: str
    url: str


PAYMENT_METHODS: Kind[PaymentMethodRecord] = Kind("stripe.payment_method")
ENDPOINTS: Kind[EndpointRecord] = Kind("stripe.webhook_endpoint")


# -- payment methods -------------------------------------------------------------------

class Resolved:
    """The payment method a request names, the outcome its card is wired to, and whether
    it is new (made from a test token or card data), to be saved with the command."""

    __slots__ = ("fresh", "outcome", "record")

    def __init__(self, record: PaymentMethodRecord, outcome: Outcome, fresh: bool) -> None:
        self.record, self.outcome, self.fresh = record, outcome, fresh


async def by_id(ctx: Context, pm_id: str, param: str) -> Resolved:
    test = magic.card_for_alias(pm_id)
    if test is not None:  # like Stripe, each use of a test token makes a new method
        return Resolved(_new(ctx, test.number, 12, _test_expiry_year(ctx), test, None),
                        test.outcome, True)
    stored = await ctx.objects(PAYMENT_METHODS).get(pm_id)
    if stored is None:
        raise missing("PaymentMethod", pm_id, param)
    known = magic.BY_NUMBER.get(stored.get("magic", ""))
    return Resolved(stored, known.outcome if known else Outcome.approve(), False)


async def from_data(ctx: Context, data: Mapping[str, Any], param: str) -> Resolved:
    kind = data.get("type")
    if kind != "card":
        raise InvalidRequest(
            f"Invalid {param}[type]: this simulator imitates card payment methods only "
            "(type=card).", param=f"{param}[type]", code="parameter_invalid_string")
    card = data.get("card")
    if not isinstance(card, Mapping):
        raise InvalidRequest(f"Missing required param: {param}[card].",
                             param=f"{param}[card]", code="parameter_missing")
    token = card.get("token")
    if token:
        return await by_id(ctx, str(token), f"{param}[card][token]")
    for field in ("number", "exp_month", "exp_year"):
        if card.get(field) in (None, ""):
            raise InvalidRequest(f"Missing required param: {param}[card][{field}].",
                                 param=f"{param}[card][{field}]", code="parameter_missing")
    number = digits_only(str(card["number"]))
    if not luhn_valid(number):
        raise wire.CardError("Your card number is incorrect.", param="number",
                             code="incorrect_number")
    month, year = int(card["exp_month"]), int(card["exp_year"])
    if not 1 <= month <= 12:
        raise wire.CardError("Your card's expiration month is invalid.",
                             param="exp_month", code="invalid_expiry_month")
    year = year + 2000 if 0 <= year < 100 else year
    if not 0 <= year <= 9999 or is_expired(month, year, ctx.clock.now_datetime()):
        raise wire.CardError("Your card's expiration year is invalid.",
                             param="exp_year", code="invalid_expiry_year")
    test = magic.card_for_number(number)
    assert test is not None
    return Resolved(_new(ctx, number, month, year, test, data), test.outcome, True)


async def for_confirmation(ctx: Context, params: Mapping[str, Any],
                           current: str | None) -> Resolved | None:
    """The payment method a confirmation uses: given as data, by id, or the one the
    PaymentIntent already has."""
    data = params.get("payment_method_data")
    if data is not None:
        return await from_data(ctx, data, "payment_method_data")
    pm_id = params.get("payment_method", current)
    return None if pm_id is None else await by_id(ctx, pm_id, "payment_method")


def _new(ctx: Context, number: str, month: int, year: int, test: magic.TestCard,
         data: Mapping[str, Any] | None) -> PaymentMethodRecord:
    return PaymentMethodRecord(
        id=wire.new_id("pm"), created=ctx.clock.now_int(),
        magic=number if number in magic.BY_NUMBER else "",
        billing_details=wire.billing_details((data or {}).get("billing_details")),
        metadata=dict((data or {}).get("metadata") or {}),
        card=_card_facts(number, month, year, test.funding, test.country,
                         ctx.fingerprint_key))


def _test_expiry_year(ctx: Context) -> int:
    """Test tokens carry a card that expires in a couple of years, as Stripe's do."""
    return _year_of(int(ctx.clock.now()) // 86400) + 2


@functools.lru_cache(maxsize=4096)
def _card_facts(number: str, month: int, year: int, funding: str,
                country: str, key: bytes) -> Mapping[str, Any]:
    """What a payment method shows of its card: computed once per card, shared by every
    payment method made from it, so never mutated."""
    return {
        "brand": detect_brand(number).value, "last4": number[-4:], "bin": number[:6],
        "exp_month": month, "exp_year": year, "funding": funding, "country": country,
        "fingerprint": card_fingerprint(number, key),
        "checks": {"address_line1_check": None, "address_postal_code_check": None,
                   "cvc_check": "pass"}}


@functools.lru_cache(maxsize=64)
def _year_of(day: int) -> int:
    return datetime.fromtimestamp(day * 86400, UTC).year


async def create_payment_method(ctx: Context, params: dict[str, Any]) -> Any:
    found = await from_data(ctx, {**params, "type": params.get("type", "card")}, "card")
    await ctx.objects(PAYMENT_METHODS).put(found.record["id"], found.record)
    return wire.payment_method(found.record)


async def retrieve_payment_method(ctx: Context, params: dict[str, Any]) -> Any:
    pm_id = ctx.path["id"]
    test = magic.card_for_alias(pm_id)
    if test is not None:
        return wire.payment_method({
            "id": pm_id, "created": ctx.clock.now_int(), "card": {
                "brand": test.brand.value, "last4": test.number[-4:], "exp_month": 12,
                "exp_year": _test_expiry_year(ctx), "funding": test.funding,
                "country": test.country,
                "fingerprint": card_fingerprint(test.number, ctx.fingerprint_key)}})
    stored = await ctx.objects(PAYMENT_METHODS).get(pm_id)
    if stored is None:
        raise missing("PaymentMethod", pm_id, "payment_method")
    return wire.payment_method(stored)


# -- webhook endpoints -------------------------------------------------------------------

def _public(record: EndpointRecord) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "secret"}


async def create_webhook_endpoint(ctx: Context, params: dict[str, Any]) -> Any:
    url = params["url"]
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest(f"Invalid URL: {url}. Use an absolute http(s) URL, for "
                             "example http://127.0.0.1:8000/webhooks/stripe.", param="url",
                             code="url_invalid")
    refusal = ctx.destination_refusal(url)
    if refusal is not None:
        raise InvalidRequest(f"Invalid URL: destination not allowed: {refusal}.",
                             param="url", code="url_invalid")
    record = EndpointRecord(
        id=wire.new_id("we"), object="webhook_endpoint",
        api_version=params.get("api_version"), application=None,
        created=ctx.clock.now_int(), description=params.get("description"),
        enabled_events=list(params["enabled_events"]), livemode=False,
        metadata=dict(params.get("metadata") or {}),
        secret="whsec_" + secrets.token_hex(16), status="enabled", url=url)
    await ctx.objects(ENDPOINTS).put(record["id"], record)
    return record


async def list_webhook_endpoints(ctx: Context, params: dict[str, Any]) -> Any:
    found = [_public(r) for r in await ctx.objects(ENDPOINTS).all()]
    items, more = page(found[::-1], limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda r: r["id"],
                       missing=cursor_missing)
    return wire.listing("/v1/webhook_endpoints", items, more)


async def _endpoint(ctx: Context) -> EndpointRecord:
    we_id = ctx.path["id"]
    record = await ctx.objects(ENDPOINTS).get(we_id)
    if record is None:
        raise missing("webhook endpoint", we_id)
    return record


async def retrieve_webhook_endpoint(ctx: Context, params: dict[str, Any]) -> Any:
    return _public(await _endpoint(ctx))


async def delete_webhook_endpoint(ctx: Context, params: dict[str, Any]) -> Any:
    record = await _endpoint(ctx)
    await ctx.objects(ENDPOINTS).delete(record["id"])
    return {"id": record["id"], "object": "webhook_endpoint", "deleted": True}


# -- events ------------------------------------------------------------------------------

def _event_json(e: Event) -> Any:
    return orjson.Fragment(e.body)


async def list_events(ctx: Context, params: dict[str, Any]) -> Any:
    wanted = set(params.get("types") or ([params["type"]] if "type" in params else []))
    found = [e for e in await ctx.events() if not wanted or e.type in wanted]
    items, more = page(found, limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda e: e.id,
                       missing=cursor_missing)
    return wire.listing("/v1/events", [_event_json(e) for e in items], more)


async def retrieve_event(ctx: Context, params: dict[str, Any]) -> Any:
    evt_id = ctx.path["id"]
    for e in await ctx.events():
        if e.id == evt_id:
            return _event_json(e)
    raise missing("event", evt_id)
