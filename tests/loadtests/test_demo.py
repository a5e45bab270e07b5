"""`paysandbox demo`, end to end: a simulator and the reference service in subprocesses,
ten seconds of the checkout suite while Stripe goes down, and a report in which the
failover to the second acquirer shows; the report rendered in a real headless Chromium
(Debian's), every chart drawn and nothing outside its frame."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp_path = tmp_path_factory.mktemp("demo")
    report = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "paysandbox", "demo", "--run-time", "10s",
                           "--report", str(report)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return report, done.stdout


def test_demo_runs_ten_seconds_and_its_report_shows_the_failover(
        demo: tuple[Path, str]) -> None:
    report, out = demo
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


#: Every time series the demo's report draws (figure captions, as they start).
TIME_SERIES = ("Throughput", "Response time percentiles", "p95 response time per request",
               "Users", "Payments created per provider", "Provider latency",
               "Provider errors by kind", "Webhook delivery latency", "Simulator CPU",
               "Simulator memory")

_MEASURE = """() => [...document.querySelectorAll('figure')].map(f => {
  const svg = f.querySelector('svg');
  const caption = f.querySelector('figcaption').textContent;
  if (!svg) return {caption, drawn: false, text: f.textContent};
  const box = svg.getBoundingClientRect();
  const outside = [...svg.querySelectorAll('text, rect, polyline, line, circle')]
    .map(e => [e, e.getBoundingClientRect()])
    .filter(([e, r]) => r.width + r.height > 0 && (r.left < box.left - 0.5 ||
      r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5))
    .map(([e, r]) => e.textContent || e.tagName);
  return {caption, drawn: true, outside,
          lines: [...svg.querySelectorAll('polyline.series')].map(p => p.dataset.name),
          legend: [...svg.querySelectorAll('.legend-item text')].map(t => t.textContent),
          bands: svg.querySelectorAll('.band').length,
          overflows: box.right > document.body.getBoundingClientRect().right};
})"""


async def _render(page_file: Path, screenshot: Path) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM),
                                           args=["--headless", "--no-sandbox",
                                                 "--disable-gpu"])
        try:
            page = await browser.new_page(viewport={"width": 1000, "height": 900})
            await page.goto(page_file.as_uri())
            await page.screenshot(path=str(screenshot), full_page=True)
            found: list[dict[str, Any]] = await page.evaluate(_MEASURE)
            return found
        finally:
            await browser.close()


def test_the_demo_report_renders_every_chart_inside_its_frame(
        demo: tuple[Path, str]) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests.")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    report, _ = demo
    figures = asyncio.run(_render(report / "report.html", report / "report.png"))
    assert (report / "report.png").stat().st_size > 10_000
    by_caption = {f["caption"]: f for f in figures}
    for title in TIME_SERIES:
        figure = next((f for c, f in by_caption.items() if c.startswith(title)), None)
        assert figure is not None, f"no chart {title!r}: {list(by_caption)}"
        assert figure["drawn"], (title, figure.get("text"))
        # The outage is shaded on every time series, the legend names every line.
        assert figure["bands"] >= 1, title
        assert set(figure["lines"]) <= set(figure["legend"]), title
    for figure in figures:
        if figure["drawn"]:
            assert figure["outside"] == [], (figure["caption"], figure["outside"])
            assert not figure["overflows"], figure["caption"]
    payments = next(f for c, f in by_caption.items() if c.startswith("Payments created"))
    assert {"stripe", "checkoutcom"} <= set(payments["lines"])
