"""Stripe's Reporting API and the files its report runs make
(https://docs.stripe.com/api/reporting/report_run, https://docs.stripe.com/reports/api,
https://docs.stripe.com/api/files), read from the sandbox's ledger.

A report run keeps only what was asked (its type and parameters); its CSV is rendered
from the account's books (`Context.ledger`) whenever the file is read, so it shows what
the balance transactions and payouts show, a scenario's `settlement:` drift included
(a line missing from the balance transactions is missing from the report too). The
file's id is the run's (`frr_X` makes `file_X`), so a file needs no record of its own.

Report types, with Stripe's default columns and amounts in major units as Stripe writes
them (`100.00`, `-12.50`):
- `payout_reconciliation.itemized.5`: each balance transaction an automatic payout paid
  out, by the payout's effective date (its arrival): a payout's rows add up to it;
- `payout_reconciliation.summary.1`: the same, by reporting category;
- `balance_change_from_activity.itemized.1`: each balance transaction but payouts, by
  the day it was created.

LIMITATIONS: a run is `pending` in the answer to its create and `succeeded` from then on
(Stripe's take minutes): `reporting.report_run.succeeded` is sent as it is created. The
data is available from the day of the account's first balance transaction to the
virtual clock's now. `timezone` is accepted and ignored (times are UTC); no Connect
report types or `connected_account`; no `payouts.*`, `balance.summary.1`,
`ending_balance_reconciliation.*` or older versions of these types. A failed payout's
transactions are in no payout reconciliation report. Files are report results only (no
uploads, no `GET /v1/files` list, no file links); a file never expires.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from aiohttp import web

from paysandbox.core.ledger import DAY, Entry
from paysandbox.core.money import to_major
from paysandbox.errors import InvalidRequest, ResourceMissing
from paysandbox.ledger import AccountBooks
from paysandbox.objects import Kind
from paysandbox.providers.seam import Context, page
from paysandbox.providers.stripe import balance, wire
from paysandbox.providers.stripe.errors import cursor_missing, missing


class RunRecord(TypedDict):
    id: str
    created: int
    report_type: str
    parameters: dict[str, Any]


RUNS: Kind[RunRecord] = Kind("stripe.report_run")

#: How long a file stays downloadable, as Stripe's report files do (a year).
_FILE_LIFETIME = 365 * int(DAY)

_PAYOUT_COLUMNS = ("automatic_payout_id", "automatic_payout_effective_at")
_LINE_COLUMNS = ("balance_transaction_id", "created_utc", "created", "available_on_utc",
                 "available_on", "currency", "gross", "fee", "net", "reporting_category",
                 "source_id", "description", "customer_facing_amount",
                 "customer_facing_currency")
_MORE_COLUMNS = ("automatic_payout_effective_at_utc", "charge_id", "payment_intent_id",
                 "charge_created_utc", "charge_created")
_SUMMARY_COLUMNS = ("reporting_category", "currency", "count", "gross", "fee", "net")


@dataclass(frozen=True, slots=True)
class Line:
    """One row of an itemized report: a balance transaction, and the payout that paid it
    out (if one did)."""

    entry: Entry
    payout: balance.Paid | None


@dataclass(frozen=True, slots=True)
class ReportType:
    id: str
    name: str
    default_columns: tuple[str, ...]
    available_columns: tuple[str, ...]
    #: The lines in an interval, for a payout (`payout_reconciliation.*` only).
    by_payout: bool
    summary: bool = False

    def lines(self, books: AccountBooks, paid: Sequence[balance.Paid], start: float,
              end: float, payout: str | None, now: float) -> list[Line]:
        if not self.by_payout:
            return [Line(e, None) for e in books.entries if start <= e.created < end]
        reported: dict[str, list[Entry]] = {}
        for e in books.entries:  # as the provider reports them: a duplicate twice
            reported.setdefault(e.id, []).append(e)
        out = []
        for p in paid:
            effective = p.payout.arrival
            if p.status(now) != "paid" or not start <= effective < end or \
                    (payout is not None and p.payout.id != payout):
                continue
            out += [Line(e, p) for entry_id in p.payout.entries
                    for e in reported.get(entry_id, ())]
        return out


def _type(id_: str, name: str, *, by_payout: bool, summary: bool = False) -> ReportType:
    if summary:
        return ReportType(id_, name, _SUMMARY_COLUMNS, _SUMMARY_COLUMNS, by_payout, True)
    lead = _PAYOUT_COLUMNS if by_payout else ()
    more = _MORE_COLUMNS if by_payout else _MORE_COLUMNS[1:]
    return ReportType(id_, name, (*lead, *_LINE_COLUMNS), (*lead, *_LINE_COLUMNS, *more),
                      by_payout)


REPORT_TYPES: Mapping[str, ReportType] = {t.id: t for t in (
    _type("payout_reconciliation.itemized.5", "Payout reconciliation: itemized transactions",
          by_payout=True),
    _type("payout_reconciliation.summary.1", "Payout reconciliation: summary",
          by_payout=True, summary=True),
    _type("balance_change_from_activity.itemized.1",
          "Balance change from activity: itemized transactions", by_payout=False),
)}


# -- rendering ---------------------------------------------------------------------------

def _when(at: float) -> str:
    """A time as Stripe's reports write it (`2024-01-31 00:00:00`)."""
    return datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%d %H:%M:%S")


def _major(amount: int, code: str) -> str:
    return str(to_major(amount, code))


def _row(line: Line, now: float) -> dict[str, str]:
    e, p = line.entry, line.payout
    t = balance.balance_transaction(e, now)
    facing_currency = e.original_currency or e.currency
    facing = abs(e.original_amount if e.original_amount is not None else e.amount)
    charge = balance.charge_id(e.payment_id) if e.payment_id else ""
    row = {
        "balance_transaction_id": e.id,
        "created_utc": _when(e.created), "created": _when(e.created),
        "available_on_utc": _when(e.available_on), "available_on": _when(e.available_on),
        "currency": e.currency,
        "gross": _major(e.amount, e.currency), "fee": _major(e.fee, e.currency),
        "net": _major(e.net, e.currency),
        "reporting_category": t["reporting_category"],
        "source_id": t["source"] or "", "description": t["description"] or "",
        "customer_facing_amount": _major(facing, facing_currency),
        "customer_facing_currency": facing_currency,
        "charge_id": charge, "payment_intent_id": e.payment_id or "",
        "charge_created_utc": "", "charge_created": "",
    }
    if p is not None:
        row.update(automatic_payout_id=p.payout.id,
                   automatic_payout_effective_at=_when(p.payout.arrival),
                   automatic_payout_effective_at_utc=_when(p.payout.arrival))
    return row


def _summary(lines: Sequence[Line]) -> list[dict[str, str]]:
    by: dict[tuple[str, str], list[Entry]] = {}
    for line in lines:
        category = balance.balance_transaction(line.entry, 0)["reporting_category"]
        by.setdefault((category, line.entry.currency), []).append(line.entry)
    return [{"reporting_category": category, "currency": code, "count": str(len(found)),
             "gross": _major(sum(e.amount for e in found), code),
             "fee": _major(sum(e.fee for e in found), code),
             "net": _major(sum(e.net for e in found), code)}
            for (category, code), found in sorted(by.items())]


def render_csv(run: Mapping[str, Any], books: AccountBooks, paid: Sequence[balance.Paid],
               now: float) -> str:
    """The run's file, from the books now: a header of its columns, a row per line."""
    kind = REPORT_TYPES[run["report_type"]]
    params = run["parameters"]
    lines = kind.lines(books, paid, params["interval_start"], params["interval_end"],
                       params.get("payout"), now)
    if "currency" in params:
        lines = [line for line in lines if line.entry.currency == params["currency"]]
    lines.sort(key=lambda line: (line.payout.payout.arrival if line.payout else 0,
                                 line.entry.created))
    rows = _summary(lines) if kind.summary else [_row(line, now) for line in lines]
    if "reporting_category" in params:
        rows = [r for r in rows if r["reporting_category"] == params["reporting_category"]]
    columns = params.get("columns") or kind.default_columns
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _csv_size(run: Mapping[str, Any], books: AccountBooks, paid: Sequence[balance.Paid],
             now: float) -> int:
    """The run's file size in bytes (a File's `size`): the file is rendered to know it,
    as it is kept nowhere."""
    return len(render_csv(run, books, paid, now).encode())


def _available(books: AccountBooks, now: float) -> tuple[int, int]:
    """When the account's data starts (the day of its first balance transaction) and
    ends (now)."""
    first = min((e.created for e in books.entries), default=now)
    return int(first // DAY * DAY), int(now)


def report_type(kind: ReportType, books: AccountBooks, now: float) -> dict[str, Any]:
    start, end = _available(books, now)
    return {"id": kind.id, "object": "reporting.report_type", "data_available_end": end,
            "data_available_start": start, "default_columns": list(kind.default_columns),
            "livemode": False, "name": kind.name, "updated": start,
            "version": int(kind.id.rsplit(".", 1)[1])}


def file_id(run_id: str) -> str:
    return "file_" + run_id.removeprefix("frr_")


def file(ctx: Context, run: Mapping[str, Any], size: int) -> dict[str, Any]:
    fid = file_id(run["id"])
    url = ctx.api_url(f"/v1/files/{fid}/contents")
    return {"id": fid, "object": "file", "created": run["created"],
            "expires_at": run["created"] + _FILE_LIFETIME, "filename": f"{fid}.csv",
            "links": {"object": "list", "data": [], "has_more": False,
                      "url": f"/v1/file_links?file={fid}"},
            "purpose": "finance_report_run", "size": size,
            "title": f"FinanceReportRun {run['id']}", "type": "csv",
            # Stripe's files are on files.stripe.com (--tls serves that name too)
            "url": url.replace("://api.stripe.com/", "://files.stripe.com/", 1)}


def report_run(ctx: Context, run: Mapping[str, Any], size: int, *,
               pending: bool = False) -> dict[str, Any]:
    return {"id": run["id"], "object": "reporting.report_run", "created": run["created"],
            "error": None, "livemode": False, "parameters": run["parameters"],
            "report_type": run["report_type"],
            "result": None if pending else file(ctx, run, size),
            "status": "pending" if pending else "succeeded",
            "succeeded_at": None if pending else run["created"]}


# -- handlers ------------------------------------------------------------------------------

async def _books(ctx: Context) -> tuple[AccountBooks, list[balance.Paid]]:
    books = await ctx.ledger()
    return books, await balance.paid_out(ctx, books)


def _kind(type_id: str, param: str) -> ReportType:
    kind = REPORT_TYPES.get(type_id)
    if kind is None:
        raise InvalidRequest(
            f"Invalid report type: {type_id}. This simulator runs "
            f"{', '.join(REPORT_TYPES)}.", param=param)
    return kind


async def list_report_types(ctx: Context, params: dict[str, Any]) -> Any:
    books = await ctx.ledger()
    now = ctx.clock.now()
    return wire.listing("/v1/reporting/report_types",
                        [report_type(k, books, now) for k in REPORT_TYPES.values()])


async def retrieve_report_type(ctx: Context, params: dict[str, Any]) -> Any:
    kind = REPORT_TYPES.get(ctx.path["id"])
    if kind is None:
        raise missing("report type", ctx.path["id"])
    return report_type(kind, await ctx.ledger(), ctx.clock.now())


def _checked(kind: ReportType, given: Mapping[str, Any], books: AccountBooks,
             paid: Sequence[balance.Paid], now: float) -> dict[str, Any]:
    """The run's parameters as Stripe echoes them (the interval filled in), or Stripe's
    error for one the report type refuses."""
    first, last = _available(books, now)
    start = given.get("interval_start", first)
    end = given.get("interval_end", last)
    if start < first:
        raise InvalidRequest(
            f"Data for the report type {kind.id} is only available starting "
            f"{_when(first)} UTC; you requested `interval_start` = {_when(start)} UTC.",
            param="parameters[interval_start]")
    if end > last:
        raise InvalidRequest(
            f"Data for the report type {kind.id} is only available through "
            f"{_when(last)} UTC; you requested `interval_end` = {_when(end)} UTC.",
            param="parameters[interval_end]")
    if start >= end:
        raise InvalidRequest("`interval_start` must be before `interval_end`.",
                             param="parameters[interval_start]")
    if "payout" in given:
        if not kind.by_payout:
            raise InvalidRequest(f"The report type {kind.id} does not take a `payout`.",
                                 param="parameters[payout]")
        if not any(p.payout.id == given["payout"] for p in paid):
            raise InvalidRequest(f"No such payout: '{given['payout']}'",
                                 param="parameters[payout]", code="resource_missing")
    for column in given.get("columns", ()):
        if column not in kind.available_columns:
            raise InvalidRequest(
                f"Invalid column for report type {kind.id}: {column}. Columns: "
                f"{', '.join(kind.available_columns)}.", param="parameters[columns]")
    out = {**given, "interval_start": start, "interval_end": end}
    if "currency" in out:
        out["currency"] = out["currency"].lower()
    return out


async def create_report_run(ctx: Context, params: dict[str, Any]) -> Any:
    kind = _kind(params["report_type"], "report_type")
    books, paid = await _books(ctx)
    now = ctx.clock.now()
    run: RunRecord = {"id": wire.new_id("frr"), "created": int(now),
                      "report_type": kind.id,
                      "parameters": _checked(kind, params.get("parameters") or {}, books,
                                             paid, now)}
    await ctx.objects(RUNS).put(run["id"], run)
    size = _csv_size(run, books, paid, now)
    done = report_run(ctx, run, size)
    await ctx.publish([wire.fixed_event(ctx.namespace, f"{run['id']}:succeeded",
                                        "reporting.report_run.succeeded", now,
                                        lambda: done)])
    return report_run(ctx, run, size, pending=True)


async def _run(ctx: Context, run_id: str) -> RunRecord | None:
    return await ctx.objects(RUNS).get(run_id) if run_id.startswith("frr_") else None


async def retrieve_report_run(ctx: Context, params: dict[str, Any]) -> Any:
    run = await _run(ctx, ctx.path["id"])
    if run is None:
        raise missing("report run", ctx.path["id"])
    books, paid = await _books(ctx)
    return report_run(ctx, run, _csv_size(run, books, paid, ctx.clock.now()))


async def list_report_runs(ctx: Context, params: dict[str, Any]) -> Any:
    runs = list(reversed(await ctx.objects(RUNS).all()))
    if "created" in params:
        runs = [r for r in runs if balance.in_range(r["created"], params["created"])]
    found, more = page(runs, limit=params.get("limit", 10),
                       after=params.get("starting_after"), key=lambda r: r["id"],
                       missing=cursor_missing)
    books, paid = await _books(ctx)
    now = ctx.clock.now()
    return wire.listing("/v1/reporting/report_runs", [
        report_run(ctx, r, _csv_size(r, books, paid, now)) for r in found],
        more)


async def _file_run(ctx: Context) -> RunRecord:
    fid = ctx.path["id"]
    run = await _run(ctx, "frr_" + fid.removeprefix("file_")) \
        if fid.startswith("file_") else None
    if run is None:
        raise ResourceMissing(f"No such file upload: '{fid}'", param="id",
                              code="resource_missing")
    return run


async def retrieve_file(ctx: Context, params: dict[str, Any]) -> Any:
    run = await _file_run(ctx)
    books, paid = await _books(ctx)
    return file(ctx, run, _csv_size(run, books, paid, ctx.clock.now()))


async def download_file(ctx: Context, params: dict[str, Any]) -> web.StreamResponse:
    run = await _file_run(ctx)
    books, paid = await _books(ctx)
    text = render_csv(run, books, paid, ctx.clock.now())
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{file_id(run["id"])}.csv"'})

