"""Adyen's Settlement details report: one CSV per settlement batch, downloaded by a
report user.

A merchant downloads it from `https://ca-test.adyen.com/reports/download/MerchantAccount/
{merchantAccount}/settlement_detail_report_batch_{batchNumber}.csv` with the Basic
credentials of a report user (`report@Company.{CompanyAccount}`); here it is at
`/adyen/reports/download/…` on the simulator's own port, and at the real path on
ca-test.adyen.com with `--tls`.

The report is read from the account's books (paysandbox/ledger), never kept. Adyen
settles each merchant account on its own (the provider's `sub_account`), so the books
keep a merchant account's entries and payouts apart from the API key's other merchant
accounts: batch N of a merchant account is its Nth payout, oldest first (the ledger's
daily payouts are Adyen's payable batches), and lists every entry that payout paid
(Settled, Refunded, Chargeback, ChargebackReversed) then a MerchantPayout line for the
payout itself, so the batch's net credits less its net debits come to nothing. A batch
that has not closed yet (its payout not made on the virtual clock) has no report: 404.
A merchant account settles in its own currency when the pricing file gives it one
(`accounts:` under `adyen:`), else in Adyen's.

When a batch closes, the REPORT_AVAILABLE standard notification announces its report
(one per merchant account's batch, HMAC-signed as every notification): pspReference is
the file name, `reason` the URL to download it from as the merchant's client reaches the
simulator (`--public-url`, else the address its payment request came to, under
`/adyen/reports/download/…`; on ca-test.adyen.com's own path for a client that came by
Adyen's hostnames with `--tls`), success "true".

Who may read it: the report user's password is the API key the payments were made with
(the simulator's namespace), and the company account is what its user name names. The
merchant account in the path must be one the API key made payments for.

LIMITATIONS: the 30 columns of the standard report (no optional columns, no
Fee/MiscCosts/DepositCorrection lines: the ledger's only fee outside a transaction's own
costs is the chargeback fee, shown as the Chargeback line's Commission as Adyen does);
times in UTC; a Settled line's Modification Reference is a stable reference of the
capture made up from it, not the pspReference a /captures call answered. A scenario's
`settlement:` discrepancies show as they are injected (a line missing or twice, a fee
off, a partial payout: the batch then does not balance); a failed payout keeps its
MerchantPayout line, with no BankInstructionReturned after it. REPORT_AVAILABLE is sent
for the Settlement details report only (no other report is generated); its URL is the
one the newest payment of the batch's merchant account was made through (a payment
kept from before it recorded one: ca-test.adyen.com's). The merchant accounts of one
API key share its report user (its password is the API key), and a batch is announced
at its payout's 00:00 UTC on the virtual clock, when a capture of that day's funds
planned it.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from paysandbox.core.ledger import Entry, EntryType, Payout
from paysandbox.core.money import to_major
from paysandbox.core.payments import Payment
from paysandbox.ledger import AccountBooks
from paysandbox.providers.adyen import wire
from paysandbox.providers.adyen.notifications import NAME
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.seam import HOST_BASE, Context, basic_credentials
from paysandbox.webhooks.dispatcher import Event

#: Below the provider's prefix, as on ca-test.adyen.com.
REPORTS = "/reports/download"
#: Where a client that reaches Adyen by its own hostnames (`--tls`) downloads reports.
CA_REPORTS = "https://ca-test.adyen.com" + REPORTS
REPORT_AVAILABLE = "REPORT_AVAILABLE"
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

def downloads_at(ctx: Context) -> str:
    """Where the client making this request downloads reports: ca-test.adyen.com's own
    path when it came by Adyen's hostnames, else below the prefix on the simulator's
    public address."""
    if ctx.request.get(HOST_BASE) is not None:
        return CA_REPORTS
    return f"{ctx.base_url}/{NAME}{REPORTS}"


def file_name(batch: int) -> str:
    return f"settlement_detail_report_batch_{batch}.csv"


def batches(payouts: Iterable[Payout], account: str) -> list[Payout]:
    """A merchant account's settlement batches, oldest first: batch N is the Nth."""
    return [p for p in payouts if p.sub_account == account]


def report_available(books: AccountBooks, namespace: str, day: float) -> list[Event]:
    """REPORT_AVAILABLE for each merchant account's batch closed on `day` (its payout
    made then), with the report's URL as the client of the account's newest payment
    reaches it; ids from the batch, so announcing twice is one event."""
    out = []
    numbered: dict[str, int] = {}
    for payout in books.payouts:
        account = payout.sub_account
        numbered[account] = batch = numbered.get(account, 0) + 1
        if payout.created != day or not account:
            continue
        name = file_name(batch)
        base = next((str(p.extra["reports_url"]) for p in books.payments
                     if p.extra.get("merchantAccount") == account
                     and p.extra.get("reports_url")), CA_REPORTS)
        item = wire.notification_item(
            psp=name, original=None, merchant_account=account, merchant_reference="",
            value=0, currency=payout.currency.upper(), event_code=REPORT_AVAILABLE,
            success=True, at=payout.created,
            reason=f"{base}/MerchantAccount/{account}/{name}")
        key = hashlib.blake2b(f"{namespace}:{account}:{name}".encode(), digest_size=12)
        out.append(Event(id=f"{REPORT_AVAILABLE}:{key.hexdigest()}", provider=NAME,
                         namespace=namespace, type=REPORT_AVAILABLE, created=payout.created,
                         render=functools.partial(wire.notification, item)))
    return out


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
    books = await ctx.ledger()
    payments = {p.id: p for p in books.payments}
    if not any(p.extra.get("merchantAccount") == account for p in payments.values()):
        raise _missing(f"No merchant account {account!r} for this report user: the "
                       "password is the API key the payments were made with, and the "
                       "path names their merchantAccount.")
    closed = batches(books.payouts, account)
    if batch > len(closed):
        raise _missing(f"No report {name!r} for {account}: batch {batch} has not closed "
                       f"yet ({len(closed)} closed so far). Batches close with "
                       "each payout, on the simulator's virtual clock.")
    payout = closed[batch - 1]
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
