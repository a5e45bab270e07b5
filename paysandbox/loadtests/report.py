"""One HTML page per run: Locust's numbers and the simulator's view of the same minutes
(payments per provider and outcome, provider latency and errors, injected faults,
webhook deliveries, the simulator's CPU and memory; disputes by provider, reason and
outcome when the run opened some), with inline SVG charts (no JavaScript, no CDN), plus
a short Markdown summary.

Every time series shares one axis, seconds since the load started, and has the
scenario's phases (an outage) shaded on it. Counts per time bucket are drawn with their
zeros (an outage is a line at zero, not a line drawn across it) and without the last
bucket when the run ended inside it (a bucket cut short would make every line dive).
"""

from __future__ import annotations

import csv
import html
import itertools
import json
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from paysandbox.loadtests.admin import Admin
from paysandbox.loadtests.sampler import JOURNAL_PAGE, Sampled, SimulatorSampler
from paysandbox.loadtests.words import error_kind, percent, status_words

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
#: Time bucket widths a report picks from: the smallest giving at most MAX_BUCKETS.
BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
MAX_BUCKETS = 90
#: Lines in the per-request latency chart: the most made requests.
TOP_REQUESTS = 8
#: (start, end, label): seconds since the load started.
Band = tuple[float, float, str]
Series = Mapping[str, Sequence[tuple[float, float | None]]]


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


def bucket_for(duration: float) -> float:
    """The time bucket for a run of `duration` seconds."""
    return float(next((b for b in BUCKETS if duration / b <= MAX_BUCKETS), BUCKETS[-1]))


def full_buckets(start: float, end: float, bucket: float) -> int:
    """How many whole buckets fit in [start, end]: the last one, cut short by the end
    of the run, is left out (its count would be a fraction of the others')."""
    return max(0, math.floor((end - start) / bucket + 1e-6))


def request_label(method: str, name: str) -> str:
    """Locust's Type and Name as one label, without `POST POST /payments` when the name
    already starts with the method."""
    method, name = (method or "").strip(), (name or "").strip()
    if not method or name.split(" ", 1)[0].upper() == method.upper():
        return name
    return f"{method} {name}"


def slo_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric == "errors":
        return percent(value)
    if metric == "rps":
        return f"{value:.1f} req/s"
    return f"{value:.0f} ms"


def _ticks(top: float) -> list[float]:
    """Axis ticks from 0: a step of 1, 2 or 5 times a power of ten, at most five ticks,
    the last at or above `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * 0.999)
    count = max(1, math.ceil(top / step - 1e-9))
    return [round(step * i, 10) for i in range(count + 1)]


def _short(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.4g}"


# -- charts ----------------------------------------------------------------------------

CHAR_W = 7.0  # px per character at font-size 12, generous, for laying out labels


def style(i: int) -> tuple[str, str]:
    """The i-th series' colour and dash: past the palette, the colours come back dashed
    so that no two lines of a chart look alike."""
    return PALETTE[i % len(PALETTE)], ("none", "6 3", "2 2")[min(i // len(PALETTE), 2)]


def _legend(names: Sequence[str], x0: float, y0: float, width: float) -> tuple[list[str], float]:
    """Legend items flowed into rows under the plot; returns the SVG and its height."""
    parts, x, y = [], x0, y0
    for i, name in enumerate(names):
        w = 18 + CHAR_W * len(name) + 16
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 18
        color, dash = style(i)
        parts.append(f'<g class="legend-item"><line x1="{x:.1f}" y1="{y - 3:.1f}" '
                     f'x2="{x + 13:.1f}" y2="{y - 3:.1f}" stroke="{color}" stroke-width="3" '
                     f'stroke-dasharray="{dash}"/><text x="{x + 17:.1f}" y="{y + 1:.1f}" '
                     f'font-size="12">{html.escape(name)}</text></g>')
        x += w
    return parts, (y - y0) + 18 if names else 0.0


def line_chart(title: str, series: Series, *, unit: str = "", bands: Sequence[Band] = (),
               x_range: tuple[float, float] | None = None, width: int = 880,
               height: int = 220, note: str = "", empty: str = "no data") -> str:
    """A line per series; None in a series is a gap (no data), not a zero. `bands`
    shade the scenario's phases. x is seconds since the load started."""
    caption = f"<figcaption>{html.escape(title)}</figcaption>"
    notes = f"<p class='note'>{html.escape(note)}</p>" if note else ""
    points = [p for s in series.values() for p in s if p[1] is not None]
    if x_range:
        points = [p for p in points if x_range[0] - 1e-6 <= p[0] <= x_range[1] + 1e-6]
    if not points:
        return f"<figure class='chart'>{caption}<p>{html.escape(empty)}</p>{notes}</figure>"
    left, right, top, plot_h = 64, 16, 14, height - 40
    x0, x1 = x_range or (min(p[0] for p in points), max(p[0] for p in points))
    span = (x1 - x0) or 1.0
    ticks = _ticks(max(float(p[1]) for p in points if p[1] is not None))
    y1 = ticks[-1]
    plot_w = width - left - right
    bottom = top + plot_h

    def sx(x: float) -> float:
        return left + (min(max(x, x0), x1) - x0) / span * plot_w

    def inside(x: float) -> bool:
        return x0 - 1e-6 <= x <= x1 + 1e-6

    def sy(y: float) -> float:
        return bottom - y / y1 * plot_h

    parts = []
    for b0, b1, label in bands:
        if b1 <= x0 or b0 >= x1:
            continue
        parts.append(f'<g class="band"><rect x="{sx(b0):.1f}" y="{top}" '
                     f'width="{max(1.0, sx(b1) - sx(b0)):.1f}" height="{plot_h}" '
                     f'fill="#f3c8c8" fill-opacity="0.45"/><text x="{sx(b0) + 4:.1f}" '
                     f'y="{top + 12}" font-size="11" fill="#a33">{html.escape(label)}</text>'
                     '</g>')
    for y in ticks:
        parts.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{width - right}" '
                     f'y2="{sy(y):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{_short(y)}{html.escape(unit)}</text>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        x = x0 + span * frac
        parts.append(f'<text x="{sx(x):.1f}" y="{bottom + 16}" font-size="11" '
                     f'text-anchor="middle">{x:.0f}s</text>')
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" '
                 f'stroke="#999"/><line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" '
                 f'stroke="#999"/>')
    names = list(series)
    for i, name in enumerate(names):
        color, dash = style(i)
        runs: list[list[str]] = [[]]
        for x, y in series[name]:
            if not inside(x):
                continue
            if y is None:
                runs.append([])
            else:
                runs[-1].append(f"{sx(x):.1f},{sy(float(y)):.1f}")
        for run in runs:
            if len(run) == 1:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{color}"/>')
            elif run:
                parts.append(f'<polyline class="series" data-name="{html.escape(name)}" '
                             f'fill="none" stroke="{color}" stroke-width="2" '
                             f'stroke-dasharray="{dash}" points="{" ".join(run)}"/>')
    legend, legend_h = _legend(names, left, bottom + 38, plot_w)
    total_h = bottom + 30 + legend_h + 6
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h:.0f}" '
           f'viewBox="0 0 {width} {total_h:.0f}" role="img" '
           f'aria-label="{html.escape(title)}">{"".join(parts + legend)}</svg>')
    return f"<figure class='chart'>{caption}{svg}{notes}</figure>"


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, width: int = 880) -> str:
    caption = f"<figcaption>{html.escape(title)}</figcaption>"
    if not items:
        return f"<figure class='bars'>{caption}<p>none</p></figure>"
    longest = max(len(label) for label, _ in items)
    label_w = int(min(440, max(120, CHAR_W * longest + 12)))
    row_h = 22
    height = row_h * len(items) + 8
    top = max(v for _, v in items) or 1.0
    value_w = 8 + CHAR_W * max(len(f"{v:g}") for _, v in items)
    parts = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        w = value / top * (width - label_w - value_w - 8)
        shown = label if CHAR_W * len(label) + 12 <= label_w else \
            label[:int((label_w - 12) / CHAR_W) - 1] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" '
                     f'text-anchor="end"><title>{html.escape(label)}</title>'
                     f'{html.escape(shown)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                     f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12">'
                     f'{value:g}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">'
           f'{"".join(parts)}</svg>')
    return f"<figure class='bars'>{caption}{svg}</figure>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# -- series ----------------------------------------------------------------------------

def counts_series(counts: Mapping[tuple[str, int], float], n: int,
                  bucket: float) -> dict[str, list[tuple[float, float | None]]]:
    """{(name, bucket index): count} -> a series per name over buckets 0..n-1, zeros
    drawn, each point at its bucket's middle; buckets outside 0..n-1 are left out."""
    names = sorted({k[0] for k in counts})
    return {name: [((i + 0.5) * bucket, float(counts.get((name, i), 0))) for i in range(n)]
            for name in names}


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def duration_s(value: Any) -> float:
    """A scenario file's duration (90, "20s", "250ms", "2m") in seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def weighted_pct(pairs: Sequence[tuple[float, float]], q: float) -> float:
    """The q-quantile of (value, weight) pairs."""
    ordered = sorted(pairs)
    goal = q * sum(w for _, w in ordered)
    acc = 0.0
    for value, weight in ordered:
        acc += weight
        if acc >= goal - 1e-9:
            return value
    return ordered[-1][0]


def phase_bands(scenarios: Sequence[Mapping[str, Any]], fetched_at: float, origin: float,
                end: float) -> list[Band]:
    """The started scenarios' phases as [start, end) seconds since `origin`, repeats
    included, up to `end`. A scenario's `elapsed_s` when fetched dates its start."""
    bands: list[Band] = []
    for s in scenarios:
        if not s.get("started") or s.get("elapsed_s") is None:
            continue
        began = fetched_at - float(s["elapsed_s"]) - origin
        for p in (s.get("document") or {}).get("phases") or ():
            try:
                after = duration_s(p.get("after", 0))
                length = duration_s(p["for"])
                repeat = duration_s(p["repeat"]) if p.get("repeat") else None
            except (KeyError, ValueError):
                continue
            name = str(p.get("name") or "phase")
            at = began + after
            while at < end and len(bands) < 200:
                bands.append((at, min(at + length, end), name))
                if not repeat:
                    break
                at += repeat
    return bands


def simulator_view(admin: Admin, *, origin: float, end: float, bucket: float,
                   sampled: Sampled | None = None) -> dict[str, Any]:
    """The simulator's view of the run [origin, end] (epoch seconds) from its admin API:
    every payment it holds (`/payments/summary`, no list limit), what `sampled` read of
    the journal during the run (else the journal's last 10,000 entries, said so), the
    webhook deliveries, the scenario's phases, and its process."""
    n = full_buckets(origin, end, bucket)
    notes: list[str] = []
    summary = admin.call("GET", "/payments/summary", bucket=bucket, origin=origin)
    counts = summary["counts"]
    outcomes: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    declines: Counter[str] = Counter()
    for c in counts:
        outcomes[f"{c['provider']}: {c['status']}"] += c["count"]
        routes[f"{c['currency']}: {c['provider']}"] += c["count"]
        if c.get("decline"):
            declines[f"{c['provider']}: {c['decline']}"] += c["count"]
    created: dict[tuple[str, int], float] = defaultdict(float)
    for c in summary["created"]:
        i = math.floor((float(c["at"]) - origin) / bucket + 1e-9)
        created[(c["provider"], i)] += c["count"]
    health = admin.call("GET", "/health")
    evicted = int(((health.get("store") or {}).get("evictions") or {}).get("payments", 0))
    if evicted:
        notes.append(f"The store had evicted {evicted} older payments (its retention: "
                     "--retain-payments per key, --max-payments in all); the payment "
                     "charts cover the ones it still held.")
    if sampled is None:
        entries = admin.call("GET", "/journal", limit=JOURNAL_PAGE,
                             bodies="false")["entries"]
        sampler = SimulatorSampler(admin, origin=origin, bucket_s=bucket)
        for e in reversed(entries):
            if origin <= float(e.get("at", origin)) <= end:
                sampler.fold(e)
        sampled = sampler.data
        if len(entries) >= JOURNAL_PAGE:
            notes.append(f"Provider requests: the journal's last {JOURNAL_PAGE:,} only "
                         "(the run was not sampled while it ran).")
    if sampled.missed:
        notes.append(f"{sampled.missed} provider requests went by unread (the journal "
                     "turned over between two reads); the provider charts leave them out.")
    notes += [f"Could not read the simulator's {p}" for p in sampled.problems]
    latency: dict[str, list[tuple[float, float | None]]] = {}
    latency_table = []
    for provider in sorted({k[0] for k in sampled.latency}):
        latency[provider] = [((i + 0.5) * bucket, _pct(sampled.latency[(provider, i)], 0.95)
                              if sampled.latency.get((provider, i)) else None)
                             for i in range(n)]
        # Each bucket's reservoir stands for all the requests of its bucket.
        weighted = [(ms, sampled.seen[key] / len(sample))
                    for key, sample in sampled.latency.items() if key[0] == provider
                    for ms in sample]
        latency_table.append((provider, sum(sampled.seen[k] for k in sampled.seen
                                            if k[0] == provider),
                              *(f"{weighted_pct(weighted, q):.0f}" for q in (0.5, 0.95, 0.99)),
                              f"{max(ms for ms, _ in weighted):.0f}"))
    errors = counts_series({(kind, b): v for (b, kind), v in sampled.errors.items()},
                           n, bucket)
    answers = Counter({f"{p}: {status_words(s, f or None)}": c
                       for (p, s, f), c in sampled.answers.items()})
    # Webhook deliveries: latency from the event to the end of the attempt that landed.
    deliveries = admin.call("GET", "/webhooks/deliveries", limit=10_000)["deliveries"]
    if len(deliveries) >= 10_000:
        notes.append("Webhook deliveries: the last 10,000 only.")
    hooks: Counter[str] = Counter(f"{d['provider']}: {d['state']}" for d in deliveries)
    hook_latency: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for d in deliveries:
        landed = [a for a in d.get("attempts") or () if a.get("status") and
                  200 <= int(a["status"]) < 300]
        if landed and d.get("event_created") is not None:
            a = landed[0]
            ms = (float(a["at"]) - float(d["event_created"])) * 1000 + float(a["duration_ms"])
            hook_latency[d["provider"]].append((float(d["event_created"]) - origin, ms))
    hook_series: dict[str, list[tuple[float, float | None]]] = {}
    for provider, pts in sorted(hook_latency.items()):
        by: dict[int, list[float]] = defaultdict(list)
        for x, ms in pts:
            by[int(x // bucket)].append(ms)
        hook_series[f"{provider} p95"] = [((i + 0.5) * bucket, _pct(by[i], 0.95)
                                           if by.get(i) else None) for i in range(n)]
    hook_table = [(p, len(v), f"{_pct([m for _, m in v], 0.5):.0f}",
                   f"{_pct([m for _, m in v], 0.95):.0f}",
                   f"{max(m for _, m in v):.0f}") for p, v in sorted(hook_latency.items())]
    # The simulator process: CPU (% of one core) and resident memory over the run.
    cpu: list[tuple[float, float | None]] = []
    rss: list[tuple[float, float | None]] = []
    prev: tuple[float, float] | None = None
    for t, cpu_s, rss_b in sampled.process:
        if cpu_s is not None:
            if prev is not None and t > prev[0]:
                cpu.append((t - origin, (cpu_s - prev[1]) / (t - prev[0]) * 100))
            prev = (t, cpu_s)
        if rss_b is not None:
            rss.append((t - origin, rss_b / 2**20))
    fetched = time.time()
    scenarios = admin.call("GET", "/scenarios")["scenarios"]
    bands = phase_bands(scenarios, fetched, origin, end - origin)
    return {"payments": int(summary["payments"]), "evicted": evicted, "outcomes": outcomes,
            "routes": routes, "declines": declines,
            "timeline": counts_series(created, n, bucket),
            "answers": answers, "faults": sampled.faults, "rules": sampled.rules,
            "errors": errors, "latency": latency, "latency_table": latency_table,
            "journal_entries": sampled.entries,
            "webhooks": hooks, "webhook_count": len(deliveries),
            "webhook_latency": hook_series, "webhook_table": hook_table,
            "cpu": {"CPU % of one core": cpu}, "memory": {"resident MiB": rss},
            "pid": sampled.pid, "bands": bands, "notes": notes}


# -- the page --------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:58rem;color:#222;
padding:0 1rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ddd;
padding:.25rem .5rem;text-align:right;font-size:.9rem}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}figure{margin:1.2rem 0}figcaption{font-weight:600;
margin-bottom:.3rem}svg{max-width:100%;height:auto;display:block}.note{color:#555;
font-size:.85rem;margin:.2rem 0}.pass{color:#2e7d32}.fail{color:#c62828;font-weight:600}
.phases{background:#fbeaea;border-left:4px solid #e29a9a;padding:.3rem .6rem}
.disputes td:nth-child(2),.disputes th:nth-child(2){text-align:left}"""


def _rates(rows: Sequence[tuple[float, dict[str, str]]],
           column: str) -> list[tuple[float, float | None]]:
    """Per second between two history rows, from Locust's running totals: what happened
    in that interval (Locust's own Requests/s is a moving average that lags)."""
    out: list[tuple[float, float | None]] = []
    for (x0, a), (x1, b) in itertools.pairwise(rows):
        if x1 > x0:
            done = max(0.0, _num(b[column]) - _num(a[column]))
            out.append(((x0 + x1) / 2, done / (x1 - x0)))
    return out


def _locust_series(report: Path, origin: float, end: float) -> dict[str, Any]:
    """Locust's history, on the report's time axis, rows outside the run left out."""
    history = _rows(report / "locust_stats_history.csv")
    total = [r for r in history if r["Name"] == "Aggregated"]
    inside = [(_num(r["Timestamp"]) - origin, r) for r in total
              if origin - 1 <= _num(r["Timestamp"]) <= end]
    per_request: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    for r in history:
        if r["Name"] == "Aggregated" or not origin - 1 <= _num(r["Timestamp"]) <= end:
            continue
        value = r.get("95%", "N/A")
        per_request[request_label(r.get("Type", ""), r["Name"])].append(
            (_num(r["Timestamp"]) - origin, _num(value) if value not in ("N/A", "0") else None))
    return {
        "rps": {"requests/s": _rates(inside, "Total Request Count"),
                "failures/s": _rates(inside, "Total Failure Count")},
        "latency": {q: [(x, _num(r[c]) if r[c] != "N/A" else None) for x, r in inside]
                    for q, c in (("p50", "50%"), ("p95", "95%"), ("p99", "99%"))},
        "users": {"users": [(x, _num(r["User Count"])) for x, r in inside]},
        "per_request": dict(sorted(per_request.items())),
        "first": _num(total[0]["Timestamp"]) if total else None,
        "last": _num(total[-1]["Timestamp"]) if total else None,
    }


def _errors_series(report: Path, origin: float, n: int,
                   bucket: float) -> dict[str, list[tuple[float, float | None]]]:
    path = report / "errors.json"
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
    except ValueError:
        return {}
    counts: Counter[tuple[str, int]] = Counter()
    for second, kinds in raw.items():
        for kind, c in kinds.items():
            counts[(error_kind(kind), int((int(second) - origin) // bucket))] += c
    return counts_series(counts, n, bucket)


def build_report(report: Path, *, simulator: Admin | None, title: str,
                 scenario: str | None = None, slo: Sequence[Mapping[str, Any]] = (),
                 run: Mapping[str, Any] | None = None,
                 window: tuple[float, float] | None = None,
                 sampled: Sampled | None = None,
                 disputes: Mapping[str, Any] | None = None) -> str:
    """Write report.html and summary.md into `report`; return the Markdown summary.
    `window`: the load's start and end (epoch seconds); without it, Locust's history
    gives it. `sampled`: the journal and process read during the run. `disputes`: the
    run's disputes (`simulator` and `service`: counts by (provider, reason, outcome);
    `note`: how they were settled), see loadtests/disputes.py."""
    stats = _rows(report / "locust_stats.csv")
    failures = _rows(report / "locust_failures.csv")
    total_row = next((r for r in stats if r["Name"] == "Aggregated"), None)
    loc = _locust_series(report, 0, float("inf"))
    if window is None:
        first = loc["first"] if loc["first"] is not None else time.time()
        window = (first, loc["last"] if loc["last"] is not None else first)
    origin, end = window
    duration = max(end - origin, 0.0)
    bucket = bucket_for(duration)
    n = full_buckets(origin, end, bucket)
    loc = _locust_series(report, origin, end)
    view: dict[str, Any] | None = None
    view_error = ""
    if simulator is not None:
        try:
            view = simulator_view(simulator, origin=origin, end=end, bucket=bucket,
                                  sampled=sampled)
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            view_error = f"the simulator's view is missing: {exc}"
    bands: list[Band] = view["bands"] if view else []
    x_range = (0.0, max(duration, 1.0))
    cut = (f"Counts per {bucket:g} s; the last bucket, cut short by the end of the run, "
           "is left out." if duration - n * bucket > 1e-6 else f"Counts per {bucket:g} s.")

    def chart(title: str, series: Series, **kw: Any) -> str:
        return line_chart(title, series, bands=bands, x_range=x_range, **kw)

    run_words = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (run or {}).items()
                          if v not in (None, 0, ""))
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>"
             f"{html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>Generated {time.strftime('%Y-%m-%d %H:%M:%S')}; the load ran "
             f"{duration:.0f} s from {time.strftime('%H:%M:%S', time.localtime(origin))}. "
             + (f"Scenario <code>{html.escape(scenario)}</code>. " if scenario else "")
             + (html.escape(run_words) + ". " if run_words else "")
             + "Locust's own report: <a href='locust.html'>locust.html</a>; CSV: "
               "<code>locust_stats.csv</code>, <code>locust_stats_history.csv</code>, "
               "<code>locust_failures.csv</code>.</p>"]
    if bands:
        parts.append("<p class='phases'>Shaded on every time series: "
                     + html.escape("; ".join(f"{label} {b0:.0f} to {b1:.0f} s"
                                             for b0, b1, label in bands)) + ".</p>")
    if slo:
        parts.append("<h2>SLO gates</h2>")
        parts.append(table(["gate", "request", "value", "verdict"], [
            (v["slo"], v["request"], slo_value(v.get("metric", ""), v["value"]),
             "PASS" if v["passed"] else "FAIL") for v in slo]))
    parts.append("<h2>Load (Locust)</h2>")
    parts.append(chart("Throughput", loc["rps"], unit="/s"))
    parts.append(chart("Response time percentiles, all requests (over the previous 10 s)",
                       loc["latency"], unit=" ms"))
    volume = {request_label(r["Type"], r["Name"]): _num(r["Request Count"]) for r in stats}
    busiest = sorted(loc["per_request"], key=lambda k: -volume.get(k, 0))[:TOP_REQUESTS]
    parts.append(chart("p95 response time per request (over the previous 10 s)",
                       {k: loc["per_request"][k] for k in sorted(busiest)}, unit=" ms",
                       note=f"The {TOP_REQUESTS} most made requests; every request is in "
                            "the table below." if len(loc["per_request"]) > TOP_REQUESTS
                       else ""))
    parts.append(chart("Failed requests by kind (what the users saw)",
                       _errors_series(report, origin, n, bucket), note=cut,
                       empty="No request failed."))
    parts.append(chart("Users", loc["users"]))
    parts.append(table(["request", "requests", "failures", "median ms", "p95 ms", "p99 ms",
                        "max ms", "req/s"],
                       [(request_label(r["Type"], r["Name"]), r["Request Count"],
                         r["Failure Count"], r["50%"], r["95%"], r["99%"],
                         f"{_num(r['Max Response Time']):.0f}", f"{_num(r['Requests/s']):.1f}")
                        for r in stats]))
    if failures:
        parts.append("<h3>Failures</h3>")
        parts.append(table(["request", "error", "occurrences"],
                           [(request_label(r["Method"], r["Name"]), _error_words(r["Error"]),
                             r["Occurrences"]) for r in failures]))
    parts.append("<h2>The simulator's view</h2>")
    if view is None:
        parts.append(f"<p>{html.escape(view_error or 'no simulator given')}</p>")
    else:
        parts.append(f"<p>{view['payments']:,} payments; {view['journal_entries']:,} provider "
                     f"requests read from the journal during the run; "
                     f"{view['webhook_count']:,} webhook deliveries.</p>")
        for note in view["notes"]:
            parts.append(f"<p class='note'>{html.escape(note)}</p>")
        parts.append(chart("Payments created per provider: failover shows as one line "
                           "falling while another rises", view["timeline"], note=cut))
        parts.append(chart("Provider latency, p95 per provider (the simulator's time to "
                           "answer, injected latency included)", view["latency"],
                           unit=" ms"))
        if view["latency_table"]:
            parts.append(table(["provider", "requests", "p50 ms", "p95 ms", "p99 ms",
                                "max ms"], view["latency_table"]))
        parts.append(chart("Provider errors by kind (injected faults, 5xx, 429)",
                           view["errors"], note=cut, empty="No provider error."))
        parts.append(chart("Webhook delivery latency, p95 per provider (event to delivered)",
                           view["webhook_latency"], unit=" ms"))
        if view["webhook_table"]:
            parts.append(table(["provider", "delivered", "p50 ms", "p95 ms", "max ms"],
                               view["webhook_table"]))
        pid = f" (pid {view['pid']})" if view.get("pid") else ""
        parts.append(chart(f"Simulator CPU{pid}", view["cpu"], unit="%"))
        parts.append(chart(f"Simulator memory{pid}", view["memory"], unit=" MiB"))
        parts.append(bar_chart("Payments by provider and outcome",
                               sorted(view["outcomes"].items())))
        parts.append(bar_chart("Payments by currency and provider: a currency at a second "
                               "provider is failover", sorted(view["routes"].items())))
        parts.append(bar_chart("Declines by provider and reason",
                               sorted(view["declines"].items())))
        parts.append(bar_chart("Provider answers by status", sorted(view["answers"].items())))
        parts.append(bar_chart("Injected faults", sorted(view["faults"].items())))
        parts.append(bar_chart("Scenario rules applied", sorted(view["rules"].items())))
        parts.append(bar_chart("Webhook deliveries by state", sorted(view["webhooks"].items())))
    if disputes:
        parts += dispute_section(disputes)
    parts.append("</body></html>")
    (report / "report.html").write_text("\n".join(parts))

    md = [f"# {title}", ""]
    if total_row:
        n_req, f = int(_num(total_row["Request Count"])), int(_num(total_row["Failure Count"]))
        md.append(f"- requests: {n_req}, failures: {f} "
                  f"({percent(f / n_req) if n_req else '0%'}), "
                  f"{_num(total_row['Requests/s']):.1f} req/s, p50 {total_row['50%']} ms, "
                  f"p95 {total_row['95%']} ms, p99 {total_row['99%']} ms")
    for v in slo:
        md.append(f"- SLO {v['slo']}: {'PASS' if v['passed'] else 'FAIL'} "
                  f"({v['request']}: {slo_value(v.get('metric', ''), v['value'])})")
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
        md += [f"- {note}" for note in view["notes"]]
    elif view_error:
        md.append(f"- {view_error}")
    if disputes:
        md += dispute_lines(disputes)
    md.append(f"- report: {report / 'report.html'}")
    summary = "\n".join(md) + "\n"
    (report / "summary.md").write_text(summary)
    return summary


#: The columns of the dispute tables: where a dispute stands, as the simulator says it
#: (`expired`: lost unanswered) and as the reference service books it (`opened` counts
#: every dispute it heard of).
SIMULATOR_OUTCOMES = ("needs_response", "under_review", "won", "lost", "accepted", "expired")
SERVICE_OUTCOMES = ("opened", "won", "lost", "expired")
DisputeCounts = Mapping[tuple[str, str, str], int]


def _dispute_rows(counts: DisputeCounts, outcomes: Sequence[str],
                  total: bool) -> list[list[Any]]:
    pairs = sorted({(p, r) for p, r, _ in counts})
    rows: list[list[Any]] = []
    for provider, reason in pairs:
        row = [counts.get((provider, reason, o), 0) for o in outcomes]
        rows.append([provider, reason, *([sum(row)] if total else []), *row])
    return rows


def dispute_section(disputes: Mapping[str, Any]) -> list[str]:
    """The report's disputes: by provider, reason and outcome at the simulator and as the
    service booked them, with a chart of outcomes per provider."""
    sim: DisputeCounts = disputes.get("simulator") or {}
    svc: DisputeCounts | None = disputes.get("service")
    parts = ["<h2>Disputes</h2><div class='disputes'>"]
    if disputes.get("note"):
        parts.append(f"<p>{html.escape(str(disputes['note']))}</p>")
    by_outcome: Counter[str] = Counter()
    for (provider, _, outcome), n in sim.items():
        by_outcome[f"{provider}: {outcome}"] += n
    parts.append(bar_chart("Disputes by provider and outcome (the simulator)",
                           sorted(by_outcome.items())))
    parts.append("<h3>At the simulator</h3>")
    parts.append(table(["provider", "reason", "disputes", *SIMULATOR_OUTCOMES],
                       _dispute_rows(sim, SIMULATOR_OUTCOMES, True)) if sim else
                 "<p>No dispute was opened.</p>")
    parts.append("<h3>Booked by the service under test</h3>")
    if svc is None:
        parts.append("<p class='note'>The service under test has no <code>/stats</code> "
                     "with dispute counts (the reference payment service has).</p>")
    else:
        parts.append(table(["provider", "reason (provider's words)", *SERVICE_OUTCOMES],
                           _dispute_rows(svc, SERVICE_OUTCOMES, False)) if svc else
                     "<p>The service booked no dispute.</p>")
    parts.append("</div>")
    return parts


def _dispute_words(counts: DisputeCounts) -> str:
    return ", ".join(f"{p} {r} {o} {n}" for (p, r, o), n in sorted(counts.items())) or "none"


def dispute_lines(disputes: Mapping[str, Any]) -> list[str]:
    lines = [f"- disputes at the simulator: {_dispute_words(disputes.get('simulator') or {})}"]
    if disputes.get("service") is not None:
        lines.append(f"- disputes booked by the service: {_dispute_words(disputes['service'])}")
    if disputes.get("note"):
        lines.append(f"- {disputes['note']}")
    return lines


def _error_words(error: str) -> str:
    """A failure as Locust keeps it (`CatchResponseError('HTTP 0: ')`) in words."""
    text = error
    for wrapper in ("CatchResponseError(", "HTTPError(", "RescheduleTask("):
        if text.startswith(wrapper) and text.endswith(")"):
            text = text[len(wrapper):-1].strip("'\"")
    kind = error_kind(text)
    detail = text.split(": ", 1)[1] if ": " in text and text.startswith("HTTP ") else ""
    return (f"{kind}: {detail}" if detail else kind)[:200]


