"""Razorpay's Orders: what a payment is made against. An order is no payment: it is
kept in a typed repository, and a payment started on it is added to it in the same
step as the payment is made."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from paysandbox.core.payments import Payment
from paysandbox.objects import Kind
from paysandbox.providers.razorpay import wire
from paysandbox.providers.razorpay.errors import checked_currency
from paysandbox.providers.seam import Context


class OrderRecord(TypedDict):
    id: str
    amount: int
    currency: str
    receipt: str | None
    notes: dict[str, Any]
    created_at: int
    auto_capture: bool
    partial_payment: bool
    offer_id: str | None
    payments: list[str]  # ids of the payments made on it, oldest first


class ReceiptRecord(TypedDict):
    order_id: str  # the first order made with the receipt


ORDERS: Kind[OrderRecord] = Kind("razorpay.order")
RECEIPTS: Kind[ReceiptRecord] = Kind("razorpay.receipt")


async def order_of(ctx: Context, order_id: str, field: str = "id") -> OrderRecord:
    record = await ctx.objects(ORDERS).get(order_id)
    if record is None:
        raise wire.not_found(field)
    return record


async def payments_of(ctx: Context, record: OrderRecord) -> list[Payment]:
    found = [await ctx.payment(pid) for pid in record["payments"]]
    return [p for p in found if p is not None]


def snapshot(record: OrderRecord) -> dict[str, Any]:
    """What a payment keeps of its order (events render the order from it)."""
    return {"id": record["id"], "amount": record["amount"], "currency": record["currency"],
            "receipt": record["receipt"], "notes": record["notes"],
            "created_at": record["created_at"], "offer_id": record["offer_id"]}


def _auto_capture(params: Mapping[str, Any]) -> bool:
    """`payment.capture` (current) or `payment_capture` (older); automatic unless
    either says otherwise."""
    payment = params.get("payment") or {}
    if "capture" in payment:
        return bool(payment["capture"] == "automatic")
    if "payment_capture" in params:
        return bool(params["payment_capture"])
    return True


async def create_order(ctx: Context, params: dict[str, Any]) -> Any:
    code = checked_currency(params["currency"])
    await ctx.intercept("create", amount=params["amount"], currency=code)
    if params["amount"] < 100:
        raise wire.bad_request("Order amount less than minimum amount allowed",
                               field="amount", step="order_creation",
                               reason="amount_less_than_minimum_amount")
    receipts = ctx.objects(RECEIPTS)
    receipt = params.get("receipt")
    if params.get("unique_receipt"):
        if not receipt:
            raise wire.bad_request("receipt: is required when unique_receipt is true.",
                                   field="receipt")
        existing = await receipts.get(receipt)
        if existing is not None:
            raise wire.bad_request(
                "Order receipt should be unique. An order with this receipt exists: "
                f"{existing['order_id']}; fetch it with GET /v1/orders?receipt="
                f"{receipt}.", field="receipt",
                metadata={"order_id": existing["order_id"]})
    record = OrderRecord(
        id=wire.new_id("order"), amount=params["amount"], currency=code, receipt=receipt,
        notes=dict(params.get("notes") or {}), created_at=ctx.clock.now_int(),
        auto_capture=_auto_capture(params),
        partial_payment=bool(params.get("partial_payment")), offer_id=None, payments=[])
    await ctx.objects(ORDERS).put(record["id"], record)
    if receipt and await receipts.get(receipt) is None:
        await receipts.put(receipt, ReceiptRecord(order_id=record["id"]))
    return wire.order(record, [])


async def retrieve_order(ctx: Context, params: dict[str, Any]) -> Any:
    record = await order_of(ctx, ctx.path["id"])
    return wire.order(record, await payments_of(ctx, record))


async def list_orders(ctx: Context, params: dict[str, Any]) -> Any:
    records = (await ctx.objects(ORDERS).all())[::-1]
    if "receipt" in params:
        records = [r for r in records if r["receipt"] == params["receipt"]]
    found = wire.window(records, params, created=lambda r: r["created_at"])
    return wire.collection([wire.order(r, await payments_of(ctx, r)) for r in found])


async def list_order_payments(ctx: Context, params: dict[str, Any]) -> Any:
    record = await order_of(ctx, ctx.path["id"])
    pays = sorted(await payments_of(ctx, record), key=lambda p: -p.created)
    return wire.collection([wire.payment(p) for p in pays])
