"""Run a simulator on a free loopback port in a background thread, with an admin client."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from paysandbox.settings import Settings
from paysandbox.testing.client import AdminClient


class SimulatorServer:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = (settings or Settings()).replace(port=0)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.app: web.Application | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="paysandbox", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError("the simulator failed to start") from self._error
        if not self.port:
            raise RuntimeError("the simulator did not start within 30 s")

    def _serve(self) -> None:
        from paysandbox.app import create_app

        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.app = create_app(self.settings)
            self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
        except BaseException as exc:  # report it to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    def call(self, loop_coro: Any) -> Any:
        """Run a coroutine on the server's loop from the test's thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(loop_coro, self._loop).result(30)

    @property
    def client(self) -> AdminClient:
        return AdminClient(self.base_url, token=self.settings.admin_token)

    def _admin_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.settings.admin_token:
            headers["Authorization"] = f"Bearer {self.settings.admin_token}"
        return headers

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """A raw admin call; raises urllib's HTTPError on a 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base_url}/__admin{path}", data=data, method=method,
                                     headers=self._admin_headers())
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def reset(self) -> None:
        """Forget every payment, event and delivery, and unload every scenario."""
        self.client.reset()
        self.client.clear_scenarios()

    # The admin client's conveniences, on the fixture itself.

    def use_scenario(self, scenario: str | Path | Mapping[str, Any]) -> str:
        return self.client.use_scenario(scenario)

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        return self.client.journal(**filters)

    def advance_clock(self, by: str | float) -> Any:
        return self.client.advance_clock(by)

    def wait_for_webhook(self, event_type: str, **options: Any) -> dict[str, Any]:
        return self.client.wait_for_webhook(event_type, **options)

