"""Listing and deleting a shopper's tokens: the Checkout API's /storedPaymentMethods (v70
and later) and the Recurring API v68 (/listRecurringDetails, /disable) that came before
it, over the same tokens (tokens.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from paysandbox.providers.adyen import tokens
from paysandbox.providers.adyen.tokens import StoredMethodRecord
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.seam import Context

#: What a token is good for: Adyen's contract types (every token here serves both a
#: shopper paying again and the merchant charging without them).
CONTRACT_TYPES = ("ONECLICK", "RECURRING")


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not value:
        raise AdyenError(f"Required field '{name}' is not provided. Send the "
                         f"{name} the card was stored with.", code="702", param=name)
    return str(value)


def _date(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _resource(r: StoredMethodRecord) -> dict[str, Any]:
    """A token as the Checkout API's StoredPaymentMethodResource."""
    out = {"brand": r["brand"], "cardBin": r["bin"], "expiryMonth": f"{r['exp_month']:02d}",
           "expiryYear": f"{r['exp_year'] % 100:02d}", "id": r["id"],
           "lastFour": r["last4"], "name": r["brand"].upper(),
           "networkTxReference": r["network_tx_reference"],
           "shopperReference": r["shopperReference"],
           "supportedRecurringProcessingModels": [r["model"]], "type": "scheme"}
    if r["holderName"]:
        out["holderName"] = r["holderName"]
    return out


def _detail(r: StoredMethodRecord) -> dict[str, Any]:
    """A token as the Recurring API's RecurringDetail."""
    card = {"expiryMonth": f"{r['exp_month']:02d}", "expiryYear": str(r["exp_year"]),
            "number": r["last4"]}
    if r["holderName"]:
        card["holderName"] = r["holderName"]
    return {"RecurringDetail": {
        "additionalData": {"cardBin": r["bin"]}, "card": card,
        "contractTypes": list(CONTRACT_TYPES), "creationDate": _date(r["created"]),
        "firstPspReference": r["first_psp"], "networkTxReference": r["network_tx_reference"],
        "paymentMethodVariant": r["brand"], "recurringDetailReference": r["id"],
        "variant": r["brand"]}}


# -- Checkout API -------------------------------------------------------------------------

async def list_stored_payment_methods(ctx: Context, params: dict[str, Any]) -> Any:
    account = _required(params, "merchantAccount")
    shopper = _required(params, "shopperReference")
    mine = await tokens.of_shopper(ctx, account, shopper)
    return {"merchantAccount": account, "shopperReference": shopper,
            "storedPaymentMethods": [_resource(r) for r in mine]}


async def delete_stored_payment_method(ctx: Context, params: dict[str, Any]) -> Any:
    account = _required(params, "merchantAccount")
    found = await tokens.find(ctx, account, params.get("shopperReference"),
                              ctx.path["storedPaymentMethodId"], "storedPaymentMethodId")
    await ctx.objects(tokens.STORED).delete(found["id"])
    return web.Response(status=204)


# -- Recurring API v68 --------------------------------------------------------------------

async def list_recurring_details(ctx: Context, params: dict[str, Any]) -> Any:
    shopper = params["shopperReference"]
    mine = await tokens.of_shopper(ctx, params["merchantAccount"], shopper)
    out: dict[str, Any] = {"details": [_detail(r) for r in mine], "shopperReference": shopper}
    if mine:
        out["creationDate"] = _date(mine[0]["created"])
    return out


async def disable(ctx: Context, params: dict[str, Any]) -> Any:
    account, shopper = params["merchantAccount"], params["shopperReference"]
    reference = params.get("recurringDetailReference")
    if reference:
        gone = [await tokens.find(ctx, account, shopper, reference,
                                  "recurringDetailReference")]
    else:
        gone = await tokens.of_shopper(ctx, account, shopper)
        if not gone:
            raise tokens.contract_not_found()
    repository = ctx.objects(tokens.STORED)
    for r in gone:
        await repository.delete(r["id"])
    return {"response": "[detail-successfully-disabled]" if reference
            else "[all-details-successfully-disabled]"}
