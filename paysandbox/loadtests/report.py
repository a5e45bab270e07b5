"""One HTML page per run: Locust's numbers and the simulator's view of the same minutes
(payments per provider and outcome, injected faults, webhook deliveries), with inline
SVG charts (no JavaScript, no CDN), plus a short Markdown summary.
"""

from __future__ import annotations

import csv
import html
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from paysandbox.loadtests.admin import Admin

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _num(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


# -- charts ----------------------------------------------------------------------------

def line_chart(title: str, series: Mapping[str, Sequence[tuple[float, float]]], *,
               unit: str = "", width: int = 720, height: int = 220) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>no data</p></figure>"
    left, bottom, top, right = 56, 28, 12, 12
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y1 = max(p[1] for p in points) or 1.0
    span = (x1 - x0) or 1.0

    def sx(x: float) -> float:
        return left + (x - x0) / span * (width - left - right)

    def sy(y: float) -> float:
        return height - bottom - y / y1 * (height - bottom - top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" '
             f'y2="{height - bottom}" stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>']
    for frac in (0, 0.5, 1):
        y = y1 * frac
        parts.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{y:.0f}{html.escape(unit)}</text>')
    for frac in (0, 0.5, 1):
        x = x0 + span * frac
        parts.append(f'<text x="{sx(x):.1f}" y="{height - 8}" font-size="11" '
                     f'text-anchor="middle">{x - x0:.0f}s</text>')
    for i, (name, pts) in enumerate(series.items()):
        if not pts:
            continue
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                     f'points="{path}"/>')
        parts.append(f'<text x="{left + 8 + 150 * i}" y="{top + 10}" font-size="12" '
                     f'fill="{color}">&#9632; {html.escape(name)}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{''.join(parts)}</figure>"


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, width: int = 720) -> str:
    if not items:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>none</p></figure>"
    label_w, row_h = 260, 22
    height = row_h * len(items) + 8
    top = max(v for _, v in items) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">']
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        w = value / top * (width - label_w - 70)
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" '
                     f'text-anchor="end">{html.escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">'
                     f'{value:g}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{''.join(parts)}</figure>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- the simulator's view --------------------------------------------------------------

def simulator_view(admin: Admin, since: float | None = None) -> dict[str, Any]:
    """Counts from the admin API: payments (provider x status), journal (provider x HTTP
    status, injected faults, scenario rules), webhook deliveries (provider x state)."""
    payments = admin.call("GET", "/payments", limit=10_000)["payments"]
    journal = admin.call("GET", "/journal", limit=10_000, bodies="false")["entries"]
    deliveries = admin.call("GET", "/webhooks/deliveries", limit=10_000)["deliveries"]
    if since is not None:
        journal = [e for e in journal if e.get("at", since) >= since]
    outcomes: Counter[str] = Counter(f"{p['provider']}: {p['status']}" for p in payments)
    # A currency at more than one provider is failover (or routing) made visible.
    routes: Counter[str] = Counter(f"{str(p.get('currency', '?')).lower()}: {p['provider']}"
                                   for p in payments)
    declines: Counter[str] = Counter(f"{p['provider']}: {p['decline']}" for p in payments
                                     if p.get("decline"))
    answers: Counter[str] = Counter(f"{e['provider']}: {e['status']}" for e in journal)
    faults: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for e in journal:
        if e.get("fault"):
            faults[f"{e['provider']}: {e['fault']}"] += 1
        for rule in e.get("scenario_rules") or ():
            rules[rule] += 1
    timeline: dict[str, Counter[int]] = defaultdict(Counter)
    start = min((p["created"] for p in payments), default=0)
    for p in payments:
        timeline[p["provider"]][int((p["created"] - start) // 5) * 5] += 1
    hooks: Counter[str] = Counter(f"{d['provider']}: {d['state']}" for d in deliveries)
    attempts = [len(d["attempts"]) for d in deliveries if d["attempts"]]
    return {"payments": len(payments), "outcomes": outcomes, "routes": routes,
            "declines": declines,
            "answers": answers, "faults": faults, "rules": rules,
            "timeline": {k: sorted(v.items()) for k, v in timeline.items()},
            "webhooks": hooks, "webhook_count": len(deliveries),
            "webhook_attempts_avg": sum(attempts) / len(attempts) if attempts else 0.0,
            "journal_entries": len(journal)}


# -- the page --------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:62rem;color:#222;
padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ddd;
padding:.25rem .5rem;text-align:right;font-size:.9rem}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}figure{margin:1rem 0}figcaption{font-weight:600}
.pass{color:#2e7d32}.fail{color:#c62828;font-weight:600}"""


def build_report(report: Path, *, simulator: Admin | None, title: str,
                 scenario: str | None = None, slo: Sequence[Mapping[str, Any]] = (),
                 run: Mapping[str, Any] | None = None) -> str:
    """Write report.html and summary.md into `report`; return the Markdown summary."""
    stats = _rows(report / "locust_stats.csv")
    history = [r for r in _rows(report / "locust_stats_history.csv") if r["Name"] == "Aggregated"]
    failures = _rows(report / "locust_failures.csv")
    total = next((r for r in stats if r["Name"] == "Aggregated"), None)
    view: dict[str, Any] | None = None
    view_error = ""
    if simulator is not None:
        try:
            view = simulator_view(simulator)
        except (OSError, RuntimeError, KeyError) as exc:
            view_error = f"the simulator's view is missing: {exc}"

    t = [(_num(r["Timestamp"]), r) for r in history]
    rps = {"requests/s": [(x, _num(r["Requests/s"])) for x, r in t],
           "failures/s": [(x, _num(r["Failures/s"])) for x, r in t]}
    latency = {"p50": [(x, _num(r["50%"])) for x, r in t if r["50%"] != "N/A"],
               "p95": [(x, _num(r["95%"])) for x, r in t if r["95%"] != "N/A"],
               "p99": [(x, _num(r["99%"])) for x, r in t if r["99%"] != "N/A"]}
    users = {"users": [(x, _num(r["User Count"])) for x, r in t]}

    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>"
             f"{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>Generated {time.strftime('%Y-%m-%d %H:%M:%S')}. "
             + (f"Scenario <code>{html.escape(scenario)}</code>. " if scenario else "")
             + (html.escape(", ".join(f"{k} {v}" for k, v in run.items() if v not in
                                      (None, 0, ""))) if run else "")
             + ". Locust's own report: <a href='locust.html'>locust.html</a>; CSV: "
               "<code>locust_stats.csv</code>, <code>locust_stats_history.csv</code>, "
               "<code>locust_failures.csv</code>.</p>"]
    if slo:
        parts.append("<h2>SLO gates</h2>")
        parts.append(table(["gate", "request", "value", "verdict"], [
            (v["slo"], v["request"], "—" if v["value"] is None else f"{v['value']:.4g}",
             "PASS" if v["passed"] else "FAIL") for v in slo]))
    parts.append("<h2>Load (Locust)</h2>")
    parts.append(line_chart("Throughput", rps, unit="/s"))
    parts.append(line_chart("Response time percentiles (all requests)", latency, unit=" ms"))
    parts.append(line_chart("Users", users))
    parts.append(table(["request", "requests", "failures", "median ms", "p95 ms", "p99 ms",
                        "max ms", "req/s"],
                       [(f"{r['Type']} {r['Name']}".strip(), r["Request Count"],
                         r["Failure Count"], r["50%"], r["95%"], r["99%"],
                         f"{_num(r['Max Response Time']):.0f}", f"{_num(r['Requests/s']):.1f}")
                        for r in stats]))
    if failures:
        parts.append("<h3>Failures</h3>")
        parts.append(table(["request", "error", "occurrences"],
                           [(f"{r['Method']} {r['Name']}", r["Error"][:160], r["Occurrences"])
                            for r in failures]))
    parts.append("<h2>The simulator's view</h2>")
    if view is None:
        parts.append(f"<p>{html.escape(view_error or 'no simulator given')}</p>")
    else:
        parts.append(f"<p>{view['payments']} payments; {view['journal_entries']} requests in "
                     f"the journal (the last 10,000 at most); {view['webhook_count']} webhook "
                     f"deliveries, {view['webhook_attempts_avg']:.2f} attempts each on "
                     "average.</p>")
        parts.append(line_chart("Payments created per provider (per 5 s): failover shows "
                                "as one line falling while another rises",
                                {k: [(float(x), float(y)) for x, y in v]
                                 for k, v in sorted(view["timeline"].items())}))
        parts.append(bar_chart("Payments by provider and outcome",
                               sorted(view["outcomes"].items())))
        parts.append(bar_chart("Payments by currency and provider: a currency at a second "
                               "provider is failover", sorted(view["routes"].items())))
        parts.append(bar_chart("Declines by provider and reason",
                               sorted(view["declines"].items())))
        parts.append(bar_chart("Provider answers by HTTP status", sorted(view["answers"].items())))
        parts.append(bar_chart("Injected faults (journal notes)", sorted(view["faults"].items())))
        parts.append(bar_chart("Scenario rules applied", sorted(view["rules"].items())))
        parts.append(bar_chart("Webhook deliveries by state", sorted(view["webhooks"].items())))
    parts.append("</body></html>")
    (report / "report.html").write_text("\n".join(parts))

    md = [f"# {title}", ""]
    if total:
        n, f = int(_num(total["Request Count"])), int(_num(total["Failure Count"]))
        md.append(f"- requests: {n}, failures: {f} ({f / n * 100 if n else 0:.2f}%), "
                  f"{_num(total['Requests/s']):.1f} req/s, p50 {total['50%']} ms, "
                  f"p95 {total['95%']} ms, p99 {total['99%']} ms")
    for v in slo:
        md.append(f"- SLO {v['slo']}: {'PASS' if v['passed'] else 'FAIL'} "
                  f"({v['request']}: {v['value']})")
    if view is not None:
        md.append(f"- simulator: {view['payments']} payments; by provider and outcome: "
                  + ", ".join(f"{k} {c}" for k, c in sorted(view["outcomes"].items())))
        md.append("- by currency and provider: "
                  + ", ".join(f"{k} {c}" for k, c in sorted(view["routes"].items())))
        if view["faults"]:
            md.append("- injected faults: " + ", ".join(f"{k} {c}" for k, c in
                                                       sorted(view["faults"].items())))
        md.append("- webhooks: " + (", ".join(f"{k} {c}" for k, c in
                                              sorted(view["webhooks"].items())) or "none"))
    elif view_error:
        md.append(f"- {view_error}")
    md.append(f"- report: {report / 'report.html'}")
    summary = "\n".join(md) + "\n"
    (report / "summary.md").write_text(summary)
    return summary
