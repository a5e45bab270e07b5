"""Contract violations, counted and grouped for people and for CI.

The simulator keeps a `ContractLog` while it runs (the journal is a ring buffer; the
counts here are never dropped). `paysandbox contracts report|verify` reads it from a
running simulator, or rebuilds it from a saved journal, and prints it grouped by
provider, operation and field, with counts and the first example; it also writes it as
JSON and as JUnit XML, one test case per operation, so a pipeline shows it as tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from paysandbox.contracts import Finding


@dataclass(slots=True)
class Group:
    provider: str
    operation: str
    source: str
    field: str
    kind: str
    count: int
    first: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "operation": self.operation, "source": self.source,
                "field": self.field, "kind": self.kind, "count": self.count,
                "first": dict(self.first)}


#: The group that counts violations beyond the log's `max_groups` distinct ones.
OVERFLOW = ("*", "*", "*", "(more distinct fields than --contract-groups)", "overflow")


class ContractLog:
    """Every finding seen since start (or reset), grouped as it arrives: at most
    `max_groups` distinct groups (each with its count and first example); violations
    that would make another are counted in one `OVERFLOW` group, so a client sending
    random parameter names costs a counter, not memory."""

    def __init__(self, *, max_groups: int = 1_000) -> None:
        self._groups: dict[tuple[str, str, str, str, str], Group] = {}
        self._max_groups = max(1, max_groups)
        self._lock = threading.Lock()

    def add(self, findings: Iterable[Finding], *, operation: str, example: Mapping[str, Any]
            ) -> None:
        for f in findings:
            self.tally((f.provider, operation, f.source, f.field, f.violation.kind),
                       {**f.to_json(), **example})

    def tally(self, key: tuple[str, str, str, str, str], first: Mapping[str, Any]) -> None:
        """Count one violation in its group (provider, operation, source, field, kind);
        the first one seen is the group's example."""
        with self._lock:
            group = self._groups.get(key)
            if group is None and len(self._groups) >= self._max_groups:
                key, first = OVERFLOW, {"message": "violations beyond --contract-groups "
                                        "distinct groups are counted here", **first}
                group = self._groups.get(key)
            if group is None:
                self._groups[key] = Group(*key, 1, first)
            else:
                group.count += 1

    def clear(self) -> None:
        with self._lock:
            self._groups.clear()

    def groups(self) -> list[Group]:
        with self._lock:
            return sorted(self._groups.values(),
                          key=lambda g: (g.provider, g.operation, g.source, g.field))

    def report(self) -> dict[str, Any]:
        return report_json(self.groups())


def report_json(groups: Sequence[Group]) -> dict[str, Any]:
    return {"total": sum(g.count for g in groups), "groups": [g.to_json() for g in groups]}


def groups_from_report(report: Mapping[str, Any]) -> list[Group]:
    return [Group(g["provider"], g["operation"], g["source"], g["field"], g["kind"],
                  int(g["count"]), g.get("first") or {}) for g in report.get("groups", ())]


def groups_from_journal(entries: Iterable[Mapping[str, Any]]) -> list[Group]:
    """Rebuild the report from journal entries (`GET /__admin/journal` saved to a file):
    each entry lists the violations of its request under `contract_violations`."""
    log = ContractLog()
    for entry in entries:
        for v in entry.get("contract_violations") or ():
            log.tally((v["provider"], entry.get("operation") or v["contract"], v["source"],
                       v["field"], v["kind"]),
                      {**v, "request_id": entry.get("request_id"), "method": entry.get("method"),
                       "path": entry.get("path")})
    return log.groups()


def render_text(groups: Sequence[Group]) -> str:
    if not groups:
        return "No contract violations."
    total = sum(g.count for g in groups)
    lines = [f"{total} contract violation(s) in {len(groups)} group(s):", ""]
    provider = operation = None
    for g in groups:
        if g.provider != provider:
            provider, operation = g.provider, None
            lines.append(g.provider)
        if g.operation != operation:
            operation = g.operation
            lines.append(f"  {g.operation}")
        first = g.first
        where = f" ({first['method']} {first['path']})" if first.get("path") and \
            first.get("method") else ""
        lines.append(f"    {g.source:<8} {g.field:<32} {g.kind:<8} x{g.count:<5} "
                     f"{first.get('message', '')}{where}")
    return "\n".join(lines)


def render_junit(groups: Sequence[Group]) -> bytes:
    """One test suite per provider, one failing test case per operation with
    violations; the failure's text lists each field and its first example."""
    suites = ElementTree.Element("testsuites", name="paysandbox contracts",
                                 tests=str(len({(g.provider, g.operation) for g in groups})),
                                 failures=str(len({(g.provider, g.operation) for g in groups})))
    by_provider: dict[str, dict[str, list[Group]]] = {}
    for g in groups:
        by_provider.setdefault(g.provider, {}).setdefault(g.operation, []).append(g)
    for provider, operations in by_provider.items():
        suite = ElementTree.SubElement(suites, "testsuite", name=f"contracts.{provider}",
                                       tests=str(len(operations)),
                                       failures=str(len(operations)))
        for operation, found in operations.items():
            case = ElementTree.SubElement(suite, "testcase", classname=f"contracts.{provider}",
                                          name=operation)
            count = sum(g.count for g in found)
            failure = ElementTree.SubElement(
                case, "failure", type="ContractViolation",
                message=f"{count} violation(s) of the {provider} {operation} contract")
            failure.text = "\n".join(
                f"{g.source} {g.field}: {g.kind} x{g.count}: {g.first.get('message', '')}"
                for g in found)
    return bytes(ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True))


# -- `paysandbox contracts report|verify` -------------------------------------------------

def add_command(sub: Any) -> None:
    cmd = sub.add_parser(
        "contracts", help="report contract violations seen by a simulator (CI gate)",
        description="Print the contract violations a running simulator has seen (or that a "
                    "saved journal holds), grouped by provider, operation and field, with "
                    "counts and the first example. `verify` exits 1 when there is any.",
        epilog="examples:\n  paysandbox contracts report\n"
               "  paysandbox contracts verify --json reports/contracts.json "
               "--junit reports/contracts.xml\n"
               "  curl -s localhost:12111/__admin/journal?limit=10000 > journal.json && "
               "paysandbox contracts verify --journal journal.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("action", choices=["report", "verify"])
    cmd.add_argument("--url", help="the simulator's base URL (default http://127.0.0.1:12111 "
                                   "or PAYSANDBOX_URL)")
    cmd.add_argument("--journal", metavar="FILE",
                     help="read a saved journal (GET /__admin/journal) instead of a server")
    cmd.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    cmd.add_argument("--junit", metavar="FILE", help="also write it as JUnit XML")
    cmd.add_argument("--admin-token", help="admin token, if the server has one")


def command(args: argparse.Namespace) -> int:
    try:
        groups = _read(args)
    except (OSError, ValueError, KeyError) as exc:
        print(f"paysandbox contracts: {exc}", file=sys.stderr)
        return 2
    print(render_text(groups))
    if args.json:
        _write(args.json, json.dumps(report_json(groups), indent=2).encode())
    if args.junit:
        _write(args.junit, render_junit(groups))
    return 1 if args.action == "verify" and groups else 0


def _read(args: argparse.Namespace) -> list[Group]:
    if args.journal:
        with open(args.journal, "rb") as fh:
            data = json.load(fh)
        entries = data.get("entries", data) if isinstance(data, Mapping) else data
        if not isinstance(entries, list):
            raise ValueError(f"{args.journal}: expected the JSON of GET /__admin/journal")
        return groups_from_journal(entries)
    from paysandbox.testing.client import AdminClient, AdminError

    url = args.url or os.environ.get("PAYSANDBOX_URL") or "http://127.0.0.1:12111"
    client = AdminClient(url, token=args.admin_token or os.environ.get("PAYSANDBOX_ADMIN_TOKEN"))
    try:
        return groups_from_report(client.call("GET", "/contracts"))
    except AdminError as exc:
        raise ValueError(f"{url}: {exc}") from None
    except OSError as exc:  # connection refused, timeout, DNS
        raise ValueError(f"{url}: {getattr(exc, 'reason', exc)}") from None


def _write(path: str, data: bytes) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(data)
