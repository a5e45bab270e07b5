"""Adyen's Settlement details report: one CSV per settlement batch, downloaded by a
report user.

A merchant downloads it from `https://ca-test.adyen.com/reports/download/MerchantAccount/
{merchantAccount}/settlement_detail_report_batch_{batchNumber}.csv` with the Basic
credentials of a report user (`report@Company.{CompanyAccount}`); here it is at
`/adyen/reports/download/…` on the simulator's own port, and at the real path on
ca-test.adyen.com with `--tls`.

The report is read from the account's books (paysandbox/ledger), never kept: batch N is
the account's Nth payout, oldest first (the ledger's daily payouts are Adyen's payable
batches), and lists every entry that payout paid (Settled, Refunded, Chargeback,
ChargebackReversed) then a MerchantPayout line for the payout itself, so the batch's net
credits less its net debits come to nothing. A batch that has not closed yet (its payout
not made on the virtual clock) has no report: 404.

Who may read it: the report user's password is the API key the payments were made with
(the simulator's namespace), and the company account is what its user name names. The
merchant account in the path must be one the API key made payments for.

LIMITATIONS: the 30 columns of the standard report (no optional columns, no
Fee/MiscCosts/DepositCorrection lines: the ledger's only fee outside a transaction's own
costs is the chargeback fee, shown as the Chargeback line's Commission as Adyen does);
times in UTC; a Settled line's Modification Reference is a stable reference of the
capture made up from it, not the pspReference a /captures call answered; batches are
per API key, not per merchant account. A scenario's `settlement:` discrepancies show as
they are injected (a line missing or twice, a fee off, a partial payout: the batch then
does not balance); a failed payout keeps its MerchantPayout line, with no
BankInstructionReturned after it. No REPORT_AVAILABLE notification: the Settles hook
(providers/hooks.py) gets the account's books, which do not say which merchant account
a payment was for, and the notification names the report by its merchant account.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from paysandbox.core.ledger import Entry, EntryType, Payout
from paysandbox.core.money import to_major
from paysandbox.core.payments import Payment
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.seam import Context, basic_credentials

#: Below the provider's prefix, as on ca-test.adyen.com.
REPORTS = "/reports/download"
FILE = re.compile(r"settlement_detail_report_batch_([1-9][0-9]{0,8})\.csv")
#: A report user: `report@Company.{CompanyAccount}` (Adyen also issues
#: `report_123456@Company.{CompanyAccount}`).
REPORT_USER = re.compile(r"report(?:_[0-9A-Za-z]+)?@Company\.(.+)")
_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

#: The standard columns, in Adyen's order.
COLUMNS: Sequence[str] = (
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference",
    "Payment Method", "Creation Date", "TimeZone", "Type", "Modification Reference",
    "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Exchange Rate",
    "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)",
    "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Method Variant",
    "Modification Merchant Reference", "Batch Number", "Reserved4", "Reserved5",
    "Reserved6", "Reserved7", "Reserved8", "Reserved9", "Reserved10")

#: The record type of each kind of ledger entry.
RECORD_TYPES: Mapping[EntryType, str] = {
    EntryType.CHARGE: "Settled", EntryType.REFUND: "Refunded",
    EntryType.CHARGEBACK: "Chargeback", EntryType.CHARGEBACK_REVERSAL: "ChargebackReversed"}

#: The report's fee columns, by the ledger's fee kinds; a chargeback's fee is Commission.
FEE_COLUMNS: Mapping[str, str] = {
    "commission": "Commission (NC)", "dispute_fee": "Commission (NC)",
    "markup": "Markup (NC)", "scheme_fee": "Scheme Fees (NC)",
    "interchange": "Interchange (NC)"}

def company_account(request: web.Request) -> str | None:
    """The company account a report user's Basic credentials name, or None when they
    are not a report user's (or carry no password)."""
    user, password = basic_credentials(request)
    found = REPORT_USER.fullmatch(user)
    return found.group(1) if found and password else None


async def download_settlement_detail_report(ctx: Context, params: dict[str, Any]
                                            ) -> web.Response:
    account, name = ctx.path["account"], ctx.path["file"]
    found = FILE.fullmatch(name)
    if found is None:
        raise _missing(f"No report {name!r}: settlement details reports are named "
                       "settlement_detail_report_batch_{batchNumber}.csv, for example "
                       "settlement_detail_report_batch_1.csv.")
    batch = int(found.group(1))
    payments = {p.id: p for p in await ctx.payments()}
    if not any(p.extra.get("merchantAccount") == account for p in payments.values()):
        raise _missing(f"No merchant account {account!r} for this report user: the "
                       "password is the API key the payments were made with, and the "
                       "path names their merchantAccount.")
    books = await ctx.ledger()
    if batch > len(books.payouts):
        raise _missing(f"No report {name!r} for {account}: batch {batch} has not closed "
                       f"yet ({len(books.payouts)} closed so far). Batches close with "
                       "each payout, on the simulator's virtual clock.")
    payout = books.payouts[batch - 1]
    paid = set(payout.entries)
    body = render(payout, batch, [e for e in books.entries if e.id in paid],
                  payments, company=company_account(ctx.request) or "", account=account)
    return web.Response(body=body.encode(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{name}"'})


def render(payout: Payout, batch: int, entries: Sequence[Entry],
           payments: Mapping[str, Payment], *, company: str, account: str) -> str:
    """The report of one batch: a header line, a line per entry, the payout's line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        p = payments.get(e.payment_id or "")
        writer.writerow(_row(line(e, p, batch, company=company, account=account)))
    writer.writerow(_row(payout_line(payout, batch, company=company, account=account)))
    return out.getvalue()


def line(e: Entry, p: Payment | None, batch: int, *, company: str,
         account: str) -> dict[str, str]:
    """One entry of the batch as a report line."""
    x = p.extra if p is not None else {}
    gross_currency = e.original_currency or e.currency
    gross = e.original_amount if e.original_amount is not None else e.amount
    method = str(x.get("brand", ""))  # Adyen's name for it (visa, mc, amex, …)
    funding = p.card.funding if p is not None and p.card else ""
    row = {
        "Company Account": company,
        "Merchant Account": str(x.get("merchantAccount", account)),
        "Psp Reference": e.payment_id or "",
        "Merchant Reference": str(x.get("reference", "")),
        "Payment Method": method,
        "Creation Date": _time(e.created), "TimeZone": "UTC",
        "Type": RECORD_TYPES[e.type],
        "Modification Reference": _modification(e),
        "Gross Currency": gross_currency.upper(),
        "Exchange Rate": _rate(e.exchange_rate),
        "Net Currency": e.currency.upper(),
        "Payment Method Variant": f"{method}{funding}" if method in ("visa", "mc")
        and funding else method,
        "Batch Number": str(batch),
    }
    side = "Credit" if gross > 0 else "Debit"
    row[f"Gross {side} (GC)"] = _amount(abs(gross), gross_currency)
    net_side = "Credit" if e.net > 0 else "Debit"
    row[f"Net {net_side} (NC)"] = _amount(abs(e.net), e.currency)
    for f in e.fees:
        column = FEE_COLUMNS.get(f.kind, "Commission (NC)")
        before = Decimal(row[column]) if row.get(column) else Decimal(0)
        row[column] = f"{before + to_major(f.amount, e.currency):f}"
    return row


def payout_line(payout: Payout, batch: int, *, company: str, account: str
                ) -> dict[str, str]:
    """What the batch paid to the bank account: a net debit of the payout's amount."""
    reference = "TX" + hashlib.blake2b(payout.id.encode(), digest_size=5).hexdigest() \
        .upper() + "XT"
    return {"Company Account": company, "Merchant Account": account,
            "Creation Date": _time(payout.created), "TimeZone": "UTC",
            "Type": "MerchantPayout",
            "Modification Reference": f"{reference} batch {batch}, {account}",
            "Net Currency": payout.currency.upper(),
            "Net Debit (NC)": _amount(payout.amount, payout.currency),
            "Batch Number": str(batch)}


def _row(values: Mapping[str, str]) -> list[str]:
    return [values.get(c, "") for c in COLUMNS]


def _modification(e: Entry) -> str:
    """The modification's pspReference: the refund's, the dispute's; for a capture, a
    stable 16-character reference made from the entry."""
    if e.type is EntryType.REFUND:
        return e.source
    if e.type in (EntryType.CHARGEBACK, EntryType.CHARGEBACK_REVERSAL):
        return e.source.partition(":")[0]
    digest = hashlib.blake2b(e.id.encode(), digest_size=16).digest()
    return "".join(_ALPHANUMERIC[b % len(_ALPHANUMERIC)] for b in digest)


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _amount(minor: int, code: str) -> str:
    return f"{to_major(minor, code):f}"


def _rate(rate: Decimal | None) -> str:
    return "1" if rate is None else f"{rate.normalize():f}"


def _missing(message: str) -> AdyenError:
    return AdyenError(message, code="000", status=404, error_type="validation")
