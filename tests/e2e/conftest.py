"""Fixtures for tests that drive the hosted pages in a real headless browser.

The browser is Debian's Chromium (`apt-get install chromium`), driven by the `playwright`
package from PyPI, whose wheel ships its own driver: `playwright install` is never
needed. On a developer's machine without Chromium these tests are skipped; on CI
(`CI` set) a missing browser fails the run, so a green CI always means the pages were
really clicked.

Playwright's async API, on pytest-asyncio's session loop: its sync API leaves its own
event loop marked as running in the main thread between calls, so a session-scoped sync
browser makes every asyncio test that runs after it fail. Browser tests therefore mark
themselves `pytest.mark.asyncio(loop_scope="session")`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, urlsplit

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
RETURN_PATH = "/checkout/done"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} CI must run the browser tests; install it in .ci/run.",
                    pytrace=False)
    pytest.skip(reason)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: run `apt-get install -y chromium`.")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("The playwright package is missing: run `pip install playwright` "
                     "(no `playwright install`: the tests use Debian's Chromium).")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM),
                                            args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh context per test: no cookies or history leak between tests."""
    context = await browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


class ReturnReceiver:
    """The merchant's return_url: a loopback server that records each query it gets."""

    def __init__(self) -> None:
        self.hits: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path != RETURN_PATH:  # the browser's own /favicon.ico
                    self.send_error(404)
                    return
                receiver.hits.append({k: v[-1] for k, v in parse_qs(url.query).items()})
                body = b"<!doctype html><title>Shop</title><p id='shop'>Back at the shop</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="return-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{RETURN_PATH}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@pytest.fixture(scope="session")
def return_receiver_server() -> Iterator[ReturnReceiver]:
    server = ReturnReceiver()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def return_receiver(return_receiver_server: ReturnReceiver) -> ReturnReceiver:
    return_receiver_server.hits.clear()
    return return_receiver_server
