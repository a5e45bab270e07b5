"""`paysandbox ledger export`: a running simulator's books as CSV or JSON, for a
reconciliation job to compare with what a payment service booked."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

COLUMNS = ("id", "type", "provider", "payment", "source", "created", "available_on",
           "currency", "amount", "fee", "net", "fee_details", "original_currency",
           "original_amount", "exchange_rate", "sub_account")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                 connection: Callable[[argparse.ArgumentParser], None]) -> None:
    ledger = sub.add_parser(
        "ledger", help="the simulator's own books: every payment's movements of funds",
        description="Read a running simulator's ledger (GET /__admin/ledger): charges "
                    "with their fees and settlement day, refunds, chargebacks and their "
                    "reinstatement, newest first.",
        epilog="examples:\n  paysandbox ledger export > ledger.csv\n"
               "  paysandbox ledger export --namespace sk_test_123 --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = ledger.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="the entries as CSV (default) or JSON")
    connection(export)
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--namespace", help="one account's entries (its API key or "
                                            "merchant account)")
    export.add_argument("--provider", help="one provider's entries")
    export.add_argument("--limit", type=int, default=10_000,
                        help="the newest this many entries (at most 10,000)")


def _row(entry: Mapping[str, Any]) -> list[Any]:
    def day(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).isoformat()
    details = ";".join(f"{f['type']}:{f['amount']}" for f in entry["fee_details"])
    values = {**entry, "created": day(entry["created"]),
              "available_on": day(entry["available_on"]), "fee_details": details}
    return ["" if values.get(c) is None else values[c] for c in COLUMNS]


def command(args: argparse.Namespace, default_url: str) -> int:
    from paysandbox.testing.client import AdminClient

    query = {"namespace": args.namespace, "provider": args.provider, "limit": args.limit}

    def export(client: AdminClient) -> int:
        ledger = client.call("GET", "/ledger", query=query)
        if args.format == "json":
            json.dump(ledger, sys.stdout, indent=2)
            sys.stdout.write("\n")
            return 0
        writer = csv.writer(sys.stdout)
        writer.writerow(COLUMNS)
        writer.writerows(_row(e) for e in ledger["entries"])
        return 0

    return AdminClient.for_command(args.url, args.admin_token, default_url).command(export)
