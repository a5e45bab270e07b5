"""`paysandbox demo`, end to end: a simulator and the reference service in subprocesses,
ten seconds of the checkout suite while Stripe goes down, and a report in which the
failover to the second acquirer shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_demo_runs_ten_seconds_and_its_report_shows_the_failover(tmp_path: Path) -> None:
    report = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "paysandbox", "demo", "--run-time", "10s",
                           "--report", str(report)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    # The summary is printed, with the report's path, and the report is there.
    assert "# checkout suite against http://127.0.0.1:" in out
    assert "SLO PASS POST /payments:errors<5%" in out
    assert f"report: {report / 'report.html'}" in out
    assert (report / "report.html").stat().st_size > 0
    summary = (report / "summary.md").read_text()
    assert summary in out
    # Dollars go to Stripe first; during the outage they were paid at Checkout.com.
    routes = re.search(r"^- by currency and provider: (.*)$", summary, re.M)
    assert routes is not None, summary
    at = dict(item.rsplit(" ", 1) for item in routes.group(1).split(", "))
    assert int(at["usd: stripe"]) > 0
    assert int(at["usd: checkoutcom"]) > 0, routes.group(1)
    # Stripe's circuit opened during the outage.
    breaker = re.search(r"^circuit breaker stripe: (.*)$", out, re.M)
    assert breaker is not None and "open" in breaker.group(1).split(" -> "), out[-2000:]
