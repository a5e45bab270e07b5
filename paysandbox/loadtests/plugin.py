"""Options and event hooks shared by the suites: SLO gates, starting a scenario at the
load test's start, seeds. Imported by every locustfile of this package."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from paysandbox.loadtests import slo as slo_gates
from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.words import error_kind

log = logging.getLogger("loadtests")
_started = threading.Lock()
_done: set[str] = set()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("payments-sandbox")
    group.add_argument("--simulator", default=os.environ.get("PAYSANDBOX_URL", ""),
                       help="the simulator's base URL (admin calls: scenario start, async "
                            "completions)")
    group.add_argument("--admin-token", default=os.environ.get("PAYSANDBOX_ADMIN_TOKEN", ""))
    group.add_argument("--sim-scenario", default="",
                       help="a scenario loaded in the simulator to start when the test starts")
    group.add_argument("--slo", action="append", default=[],
                       help="a gate such as 'p95<300ms', 'errors<1%%' or "
                            "'POST /payments:p99<1s' (repeatable); a breach exits 1")
    group.add_argument("--slo-report", default="", help="write the SLO verdicts here (JSON)")
    group.add_argument("--request-timeout", type=float,
                       default=float(os.environ.get("LOAD_REQUEST_TIMEOUT", 5)),
                       help="seconds a user waits for a connection or an answer before the "
                            "request fails as 'no response: timed out' (default 5; env "
                            "LOAD_REQUEST_TIMEOUT), so a hung provider cannot freeze users")
    group.add_argument("--started-file", default="",
                       help="write the time the load started here (epoch seconds)")
    group.add_argument("--errors-report", default="",
                       help="write failed requests per second by kind here (JSON)")
    group.add_argument("--seed", type=int, default=int(os.environ.get("LOAD_SEED", 1)),
                       help="seed of the generated customers, amounts and flows")
    group.add_argument("--capture-ratio", type=float, default=0.3,
                       help="share of payments authorized first and captured later")
    group.add_argument("--refund-ratio", type=float, default=0.1,
                       help="share of captured payments refunded (half partially)")
    group.add_argument("--three-ds-ratio", type=float, default=0.1,
                       help="share of payments made with a card that asks for 3D Secure")
    group.add_argument("--decline-ratio", type=float, default=0.05,
                       help="share of payments made with a declining test card")
    local = os.environ.get("LOAD_LOCAL_METHOD_RATIO")
    group.add_argument("--local-method-ratio", type=float,
                       default=float(local) if local else None,
                       help="share of all payments made with a local method (iDEAL, "
                            "Bancontact, PIX, OXXO, UPI, M-Pesa), evenly; default: each "
                            "market's usual share (env LOAD_LOCAL_METHOD_RATIO)")
    group.add_argument("--renewal-interval", type=float,
                       default=float(os.environ.get("LOAD_RENEWAL_INTERVAL", 5)),
                       help="renewals suite: virtual seconds between a subscription's "
                            "renewals (default 5; env LOAD_RENEWAL_INTERVAL)")
    group.add_argument("--sut-adapter", default="paysandbox.loadtests.adapters:ReferenceService",
                       help="module:Class of the adapter to your payment service's API")
    group.add_argument("--shape", default="", choices=["", "ramp", "step", "spike", "soak",
                                                       "scenario"],
                       help="a load shape (used when loadtests/shapes.py is a locustfile)")
    group.add_argument("--peak-users", type=int, default=10)
    group.add_argument("--shape-time", type=float, default=60,
                       help="the shape's length in seconds")


def request_timeout(environment: Environment) -> float:
    """The users' connect and read timeout (--request-timeout)."""
    opts = environment.parsed_options
    value = getattr(opts, "request_timeout", None) if opts else None
    return float(value) if value and value > 0 else 5.0


#: Failed requests per second (epoch) and kind. Bounded: at most MAX_KINDS kinds (the
#: rest count as "other") and one counter per second that saw a failure.
MAX_KINDS = 12
_errors: defaultdict[int, Counter[str]] = defaultdict(Counter)
_kinds: set[str] = set()


def count_error(second: int, kind: str, n: int = 1) -> None:
    if kind not in _kinds:
        if len(_kinds) >= MAX_KINDS:
            kind = "other"
        _kinds.add(kind)
    _errors[second][kind] += n


@events.request.add_listener
def _on_request(exception: BaseException | None = None, start_time: float | None = None,
                **_: Any) -> None:
    if exception is not None:
        count_error(int(start_time or time.time()), error_kind(str(exception)))


@events.report_to_master.add_listener
def _to_master(client_id: str, data: dict[str, Any]) -> None:
    data["paysandbox_errors"] = [[s, dict(c)] for s, c in _errors.items()]
    _errors.clear()


@events.worker_report.add_listener
def _from_worker(client_id: str, data: dict[str, Any]) -> None:
    for second, kinds in data.get("paysandbox_errors") or ():
        for kind, n in kinds.items():
            count_error(int(second), kind, int(n))


def admin(environment: Environment) -> Admin | None:
    opts = environment.parsed_options
    url = getattr(opts, "simulator", "") if opts else ""
    return Admin(url, token=opts.admin_token or None) if url else None


def start_scenario(environment: Environment) -> None:
    """Start the scenario's phases now, once per run, from the master (or only node)."""
    if isinstance(environment.runner, WorkerRunner) or environment.parsed_options is None:
        return
    name = environment.parsed_options.sim_scenario
    client = admin(environment)
    if not name or client is None:
        return
    with _started:
        if name in _done:
            return
        _done.add(name)
    client.start_scenario(name)
    log.info("started scenario %s in the simulator", name)


@events.test_start.add_listener
def _on_start(environment: Environment, **_: Any) -> None:
    opts = environment.parsed_options
    if opts is not None and opts.started_file and \
            not isinstance(environment.runner, WorkerRunner):
        Path(opts.started_file).write_text(f"{time.time():.3f}")
    start_scenario(environment)


def stats_rows(environment: Environment) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}

    def row(entry: Any) -> dict[str, Any]:
        return {"num_requests": entry.num_requests, "num_failures": entry.num_failures,
                "rps": entry.total_rps, "avg": entry.avg_response_time,
                "max": entry.max_response_time,
                "percentiles": entry.get_response_time_percentile}

    for (name, method), entry in environment.stats.entries.items():
        rows.setdefault(name, row(entry))
        rows[f"{method} {name}"] = row(entry)
    rows[slo_gates.AGGREGATED] = row(environment.stats.total)
    return rows


@events.quitting.add_listener
def _gate(environment: Environment, **_: Any) -> None:
    opts = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or opts is None:
        return
    try:
        gates = [slo_gates.parse(text) for text in opts.slo]
    except slo_gates.SloError as exc:
        log.error("%s", exc)
        environment.process_exit_code = 2
        return
    if opts.errors_report:
        Path(opts.errors_report).write_text(json.dumps(
            {str(s): dict(c) for s, c in sorted(_errors.items())}))
    verdicts = slo_gates.evaluate(gates, stats_rows(environment))
    for v in verdicts:
        (log.info if v.passed else log.error)("SLO %s", v)
    if opts.slo_report:
        Path(opts.slo_report).write_text(json.dumps([v.to_json() for v in verdicts], indent=2))
    breached = [v for v in verdicts if not v.passed]
    if breached:
        log.error("SLO breached: %s", "; ".join(v.slo.text for v in breached))
        environment.process_exit_code = 1
    elif gates:
        environment.process_exit_code = 0  # failures the gates allow do not fail the run
