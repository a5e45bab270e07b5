"""Mercado Pago's Released money report (reporte de liberaciones) over the sandbox's
ledger: `POST /v1/account/release_report` asks for one over a period,
`GET /v1/account/release_report/list` lists those made, and
`GET /v1/account/release_report/{file_name}` downloads one as CSV
(https://www.mercadopago.com.br/developers/en/docs/reports/released-money/api).

A report is kept as its request (the period and when it was made); its rows are read
from the ledger (paysandbox/ledger) when it is downloaded, as the ledger stood when the
report was made: each entry released in the period (a payment's net on the day it is
available, a refund or chargeback when it is made) and each payout (money withdrawn to
the bank account) made in it.

LIMITATIONS (what of the real API this does not imitate):
- The report is ready at once (no `pending` state); scheduled reports, the report's
  configuration (`/config`: columns, separator, prefix, timezone, SFTP, e-mails) and
  the `.xlsx` format are not served: the columns are the default ones below, the
  separator a comma, dates in GMT-04, amounts in major units with two decimals.
- No `initial_available_balance`/`total` summary rows, reserves, financing or shipping
  fees (always 0.00); `TAXES_AMOUNT` is 0.00 (the pricing has no tax line).
- No notification when a report is ready: the ledger is read on demand and nothing
  emits events on the clock for it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from aiohttp import web

from paysandbox.core.ledger import Entry, EntryType, Payout
from paysandbox.core.money import currency
from paysandbox.core.payments import Payment
from paysandbox.errors import InvalidRequest, ResourceMissing
from paysandbox.objects import Kind
from paysandbox.providers.mercadopago import wire
from paysandbox.providers.seam import Context, Reply


class ReportRecord(TypedDict):
    id: int
    begin: float
    end: float
    made: float
    file_name: str


REPORTS: Kind[ReportRecord] = Kind("mercadopago.release_report")

#: The report's columns, in the order of Mercado Pago's default configuration.
COLUMNS: Sequence[str] = (
    "DATE", "SOURCE_ID", "EXTERNAL_REFERENCE", "RECORD_TYPE", "DESCRIPTION",
    "NET_CREDIT_AMOUNT", "NET_DEBIT_AMOUNT", "GROSS_AMOUNT", "MP_FEE_AMOUNT",
    "FINANCING_FEE_AMOUNT", "SHIPPING_FEE_AMOUNT", "TAXES_AMOUNT", "COUPON_AMOUNT",
    "INSTALLMENTS", "PAYMENT_METHOD")
_DESCRIPTION = {EntryType.CHARGE: "payment", EntryType.REFUND: "refund",
                EntryType.CHARGEBACK: "chargeback",
                EntryType.CHARGEBACK_REVERSAL: "reserve_for_dispute_release"}


def _period(params: Mapping[str, Any]) -> tuple[float, float]:
    out = []
    for name in ("begin_date", "end_date"):
        text = params.get(name)
        try:
            parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise InvalidRequest(
                f"{name} must be a date and time in UTC, such as 2026-12-01T00:00:00Z",
                param=name)
        out.append(parsed.timestamp())
    if out[1] <= out[0]:
        raise InvalidRequest("end_date must be after begin_date", param="end_date")
    return out[0], out[1]


def _record(r: ReportRecord, user: int) -> dict[str, Any]:
    return {"id": r["id"], "user_id": user, "begin_date": wire.date(r["begin"]),
            "end_date": wire.date(r["end"]), "file_name": r["file_name"],
            "created_from": "manual", "date_created": wire.date(r["made"])}


async def create_release_report(ctx: Context, params: dict[str, Any]) -> Any:
    begin, end = _period(params)
    made = ctx.clock.now()
    user = wire.user_id(ctx.namespace)
    stamp = datetime.fromtimestamp(made, wire.ZONE).strftime("%Y-%m-%d-%H%M%S")
    record = ReportRecord(id=wire.new_id(), begin=begin, end=end, made=made,
                          file_name=f"release-report-{user}-{stamp}.csv")
    await ctx.objects(REPORTS).put(record["file_name"], record)
    return Reply(_record(record, user), status=202)


async def list_release_reports(ctx: Context, params: dict[str, Any]) -> Any:
    user = wire.user_id(ctx.namespace)
    found = sorted(await ctx.objects(REPORTS).all(), key=lambda r: -r["made"])
    return [_record(r, user) for r in found]


def _money(minor: int, code: str) -> str:
    return f"{Decimal(abs(minor)).scaleb(-currency(code).minor_units):.2f}"


def _entry_row(e: Entry, p: Payment | None) -> dict[str, str]:
    code = e.currency
    when = e.available_on if e.type is EntryType.CHARGE else e.created
    return {
        "DATE": wire.date(when) or "", "SOURCE_ID": e.payment_id or "",
        "EXTERNAL_REFERENCE": str((p.extra.get("external_reference") if p else None) or ""),
        "RECORD_TYPE": "release", "DESCRIPTION": _DESCRIPTION[e.type],
        "NET_CREDIT_AMOUNT": _money(e.net if e.net > 0 else 0, code),
        "NET_DEBIT_AMOUNT": _money(-e.net if e.net < 0 else 0, code),
        "GROSS_AMOUNT": _money(e.amount, code), "MP_FEE_AMOUNT": _money(e.fee, code),
        "FINANCING_FEE_AMOUNT": "0.00", "SHIPPING_FEE_AMOUNT": "0.00",
        "TAXES_AMOUNT": "0.00", "COUPON_AMOUNT": "0.00",
        "INSTALLMENTS": str((p.extra.get("installments") if p else None) or 1),
        "PAYMENT_METHOD": str((p.extra.get("payment_method_id") if p else None) or
                              (p.card.brand if p and p.card else "")),
    }


def _payout_row(po: Payout) -> dict[str, str]:
    return {**dict.fromkeys(COLUMNS, ""), "DATE": wire.date(po.created) or "",
            "SOURCE_ID": po.id, "RECORD_TYPE": "release", "DESCRIPTION": "payout",
            "NET_CREDIT_AMOUNT": "0.00", "NET_DEBIT_AMOUNT": _money(po.amount, po.currency),
            "GROSS_AMOUNT": _money(po.amount, po.currency), "MP_FEE_AMOUNT": "0.00",
            "FINANCING_FEE_AMOUNT": "0.00", "SHIPPING_FEE_AMOUNT": "0.00",
            "TAXES_AMOUNT": "0.00", "COUPON_AMOUNT": "0.00"}


async def download_release_report(ctx: Context, params: dict[str, Any]) -> Any:
    record = await ctx.objects(REPORTS).get(ctx.path["file_name"])
    if record is None:
        raise ResourceMissing(f"report {ctx.path['file_name']} not found: list the "
                              "reports made with GET /v1/account/release_report/list")
    begin, end, made = record["begin"], min(record["end"], record["made"]), record["made"]
    books = await ctx.ledger()
    pays = {p.id: p for p in await ctx.payments()}
    rows: list[tuple[float, dict[str, str]]] = []
    for e in books.entries:
        when = e.available_on if e.type is EntryType.CHARGE else e.created
        if begin <= when <= end and when <= made:
            rows.append((when, _entry_row(e, pays.get(e.payment_id or ""))))
    rows += [(po.created, _payout_row(po)) for po in books.payouts
             if begin <= po.created <= end]
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    # a day's releases before its payout
    writer.writerows(r for _, r in sorted(rows, key=lambda t: (
        t[0], t[1]["DESCRIPTION"] == "payout")))
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{record["file_name"]}"'})
