"""Mollie's Customers and Mandates APIs, and a customer's payments.

A customer is a record of the test key's namespace; its payments are payments whose
`customerId` names it; its mandates are described in mollie/mandates.py. Deleting a
customer revokes its mandates and cancels its subscriptions, as Mollie does.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from paysandbox.errors import ResourceMissing
from paysandbox.providers.base import REQUEST_ID
from paysandbox.providers.mollie import mandates, payments, subscriptions, wire
from paysandbox.providers.mollie.objects import CUSTOMERS, MANDATES, CustomerRecord, MandateRecord
from paysandbox.providers.mollie.payments import api_base, listing, page_of
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.providers.seam import Context, Reply


def render(c: CustomerRecord, base: str) -> dict[str, Any]:
    """A customer object (https://docs.mollie.com/reference/get-customer)."""
    return {
        "resource": "customer", "id": c["id"], "mode": "test", "name": c["name"],
        "email": c["email"], "locale": c["locale"], "metadata": c["metadata"],
        "createdAt": c["createdAt"],
        "_links": {
            "self": wire.link(f"{base}/customers/{c['id']}"),
            "dashboard": wire.link(f"https://my.mollie.com/dashboard/org_sandbox/customers/"
                                   f"{c['id']}", "text/html"),
            "documentation": wire.link(f"{wire.DOCS}/reference/get-customer", "text/html"),
        },
    }


def no_content(ctx: Context) -> web.Response:
    """Mollie's answer to a deletion: 204, no body."""
    return web.Response(status=204, headers={"X-Request-Id": ctx.request.get(REQUEST_ID, "")})


def _metadata(value: Any) -> Any:
    if value is not None and len(orjson.dumps(value)) > 1024:
        raise MollieError("The metadata is too large: Mollie keeps up to about 1 kB of "
                          "JSON with a customer.", field="metadata")
    return value


# -- customers ---------------------------------------------------------------------------

async def create_customer(ctx: Context, params: dict[str, Any]) -> Any:
    cid = wire.new_id("cst")
    record = CustomerRecord(id=cid, createdAt=wire.timestamp(ctx.clock.now()),
                            name=params.get("name"), email=params.get("email"),
                            locale=params.get("locale"),
                            metadata=_metadata(params.get("metadata")))
    await ctx.objects(CUSTOMERS).put(cid, record)
    return Reply(render(record, api_base(ctx)), status=201)


async def get_customer(ctx: Context, params: dict[str, Any]) -> Any:
    return render(await mandates.customer(ctx, ctx.path["id"]), api_base(ctx))


async def update_customer(ctx: Context, params: dict[str, Any]) -> Any:
    record = dict(await mandates.customer(ctx, ctx.path["id"]))
    for key in ("name", "email", "locale"):
        if key in params:
            record[key] = params[key]
    if "metadata" in params:
        record["metadata"] = _metadata(params["metadata"])
    updated = CustomerRecord(**record)  # type: ignore[typeddict-item]
    await ctx.objects(CUSTOMERS).put(updated["id"], updated)
    return render(updated, api_base(ctx))


async def delete_customer(ctx: Context, params: dict[str, Any]) -> Any:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    await subscriptions.cancel_all(ctx, cid)
    for m in await mandates.of_customer(ctx, cid):
        await _revoke(ctx, m)
    await ctx.objects(CUSTOMERS).delete(cid)
    return no_content(ctx)


async def list_customers(ctx: Context, params: dict[str, Any]) -> Any:
    base = api_base(ctx)
    everyone = list(reversed(await ctx.objects(CUSTOMERS).all()))
    found, nxt = page_of(everyone, params, lambda c: c["id"])
    return listing(ctx, "customers", [render(c, base) for c in found], f"{base}/customers",
                   params, nxt, "customers-api/list-customers")


# -- a customer's payments -----------------------------------------------------------------

async def create_customer_payment(ctx: Context, params: dict[str, Any]) -> Any:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    return await payments.create(ctx, params, cid)


async def list_customer_payments(ctx: Context, params: dict[str, Any]) -> Any:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    base = api_base(ctx)
    theirs = [p for p in await ctx.payments(limit=mandates.SEARCHED_PAYMENTS)
              if p.extra.get("customerId") == cid]
    found, nxt = page_of(theirs, params, lambda p: p.id)
    return listing(ctx, "payments", [payments.body(ctx, p) for p in found],
                   f"{base}/customers/{cid}/payments", params, nxt,
                   "customers-api/list-customer-payments")


# -- mandates ------------------------------------------------------------------------------

def _mandate_missing(mandate_id: str) -> ResourceMissing:
    return ResourceMissing(f"No mandate exists with token {mandate_id}.")


async def create_mandate(ctx: Context, params: dict[str, Any]) -> Any:
    """A SEPA Direct Debit mandate signed elsewhere, or a PayPal billing agreement,
    registered as valid."""
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    method = params["method"]
    details: dict[str, Any] = {"consumerName": params["consumerName"]}
    if method == "directdebit":
        for key in ("consumerAccount",):
            if not params.get(key):
                raise MollieError(f"The '{key}' field is required for a directdebit "
                                  "mandate: the IBAN the mandate is for.", field=key)
        details.update(consumerAccount=params["consumerAccount"].replace(" ", ""),
                       consumerBic=params.get("consumerBic"))
    else:
        for key in ("consumerEmail", "paypalBillingAgreementId"):
            if not params.get(key):
                raise MollieError(f"The '{key}' field is required for a paypal mandate.",
                                  field=key)
        details.update(consumerAccount=params["consumerEmail"])
    mid = wire.new_id("mdt")
    now = wire.timestamp(ctx.clock.now())
    record = MandateRecord(id=mid, customerId=cid, createdAt=now, status="valid",
                           method=method, details=details,
                           mandateReference=params.get("mandateReference"),
                           signatureDate=params.get("signatureDate") or now[:10],
                           _card=None, _nti=None)
    await ctx.objects(MANDATES).put(mid, record)
    return Reply(mandates.render(record, api_base(ctx)), status=201)


async def _mandate(ctx: Context) -> MandateRecord:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    mid = ctx.path["mandate"]
    found = next((m for m in await mandates.of_customer(ctx, cid) if m["id"] == mid), None)
    if found is None:
        raise _mandate_missing(mid)
    return found


async def get_mandate(ctx: Context, params: dict[str, Any]) -> Any:
    return mandates.render(await _mandate(ctx), api_base(ctx))


async def list_mandates(ctx: Context, params: dict[str, Any]) -> Any:
    cid = (await mandates.customer(ctx, ctx.path["id"]))["id"]
    base = api_base(ctx)
    found, nxt = page_of(await mandates.of_customer(ctx, cid), params, lambda m: m["id"])
    return listing(ctx, "mandates", [mandates.render(m, base) for m in found],
                   f"{base}/customers/{cid}/mandates", params, nxt,
                   "mandates-api/list-mandates")


async def revoke_mandate(ctx: Context, params: dict[str, Any]) -> Any:
    """The mandate becomes invalid; the subscriptions charged on it are canceled."""
    m = await _mandate(ctx)
    if m["status"] == "invalid":
        raise _mandate_missing(m["id"])
    await _revoke(ctx, m)
    await subscriptions.cancel_all(ctx, m["customerId"], mandate=m["id"])
    return no_content(ctx)


async def _revoke(ctx: Context, m: MandateRecord) -> None:
    if m["status"] != "invalid":
        await ctx.objects(MANDATES).put(m["id"], MandateRecord(**{**m, "status": "invalid"}))
