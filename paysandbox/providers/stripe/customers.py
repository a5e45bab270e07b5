"""Stripe's Customers: plain objects (create, retrieve, update, delete, list) and their
`customer.*` events. The cards saved to them are in saved.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from paysandbox.objects import Kind
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import wire
from paysandbox.providers.stripe.errors import cursor_missing, metadata, missing


class CustomerRecord(TypedDict):
    id: str
    created: int
    email: str | None
    name: str | None
    phone: str | None
    description: str | None
    address: dict[str, Any] | None
    shipping: dict[str, Any] | None
    metadata: dict[str, str]
    default_payment_method: str | None


CUSTOMERS: Kind[CustomerRecord] = Kind("stripe.customer")

_TEXT = ("email", "name", "phone", "description")


def customer(record: Mapping[str, Any]) -> dict[str, Any]:
    """A Customer as Stripe renders it: what it was given, the billing fields it does
    not imitate at their empty values."""
    return {
        "id": record["id"], "object": "customer", "address": record.get("address"),
        "balance": 0, "created": record["created"], "currency": None,
        "default_source": None, "delinquent": False,
        "description": record.get("description"), "discount": None,
        "email": record.get("email"), "invoice_prefix": record["id"][4:12].upper(),
        "invoice_settings": {"custom_fields": None,
                             "default_payment_method": record.get("default_payment_method"),
                             "footer": None, "rendering_options": None},
        "livemode": False, "metadata": dict(record.get("metadata") or {}),
        "name": record.get("name"), "next_invoice_sequence": 1,
        "phone": record.get("phone"), "preferred_locales": [],
        "shipping": wire.shipping(record.get("shipping")), "tax_exempt": "none",
        "test_clock": None,
    }


def _address(given: Any) -> dict[str, Any] | None:
    if not isinstance(given, Mapping) or not given:
        return None
    return {k: given.get(k) for k in ("city", "country", "line1", "line2", "postal_code",
                                      "state")}


def _changed(record: CustomerRecord, params: Mapping[str, Any]) -> CustomerRecord:
    out = CustomerRecord(**record)
    for k in _TEXT:
        if k in params:
            out[k] = params[k] or None  # type: ignore[literal-required]
    if "address" in params:
        out["address"] = _address(params["address"])
    if "shipping" in params:
        out["shipping"] = params["shipping"] or None
    if "metadata" in params:
        out["metadata"] = metadata(record["metadata"], params["metadata"])
    settings = params.get("invoice_settings")
    if isinstance(settings, Mapping) and "default_payment_method" in settings:
        out["default_payment_method"] = settings["default_payment_method"] or None
    return out


async def by_id(ctx: Context, cus_id: str, param: str = "customer") -> CustomerRecord:
    record = await ctx.objects(CUSTOMERS).get(cus_id)
    if record is None:
        raise missing("customer", cus_id, param)
    return record


async def _published(ctx: Context, type_: str, obj: Mapping[str, Any]) -> None:
    await ctx.publish(wire.events(ctx.namespace, ctx.clock.now(), [(type_, lambda: obj)]))


async def create_customer(ctx: Context, params: dict[str, Any]) -> Any:
    blank = CustomerRecord(id=wire.new_id("cus", 14), created=ctx.clock.now_int(),
                           email=None, name=None, phone=None, description=None,
                           address=None, shipping=None, metadata={},
                           default_payment_method=None)
    record = _changed(blank, params)
    await ctx.objects(CUSTOMERS).put(record["id"], record)
    shown = customer(record)
    await _published(ctx, "customer.created", shown)
    return shown


async def retrieve_customer(ctx: Context, params: dict[str, Any]) -> Any:
    return customer(await by_id(ctx, ctx.path["id"], "id"))


async def update_customer(ctx: Context, params: dict[str, Any]) -> Any:
    record = _changed(await by_id(ctx, ctx.path["id"], "id"), params)
    await ctx.objects(CUSTOMERS).put(record["id"], record)
    shown = customer(record)
    await _published(ctx, "customer.updated", shown)
    return shown


async def delete_customer(ctx: Context, params: dict[str, Any]) -> Any:
    record = await by_id(ctx, ctx.path["id"], "id")
    await ctx.objects(CUSTOMERS).delete(record["id"])
    await _published(ctx, "customer.deleted", customer(record))
    return {"id": record["id"], "object": "customer", "deleted": True}


async def list_customers(ctx: Context, params: dict[str, Any]) -> Any:
    email = params.get("email")
    found = [customer(r) for r in reversed(await ctx.objects(CUSTOMERS).all())
             if email is None or r.get("email") == email]
    items, more = page(found, limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda r: r["id"],
                       missing=cursor_missing)
    return wire.listing("/v1/customers", items, more)
