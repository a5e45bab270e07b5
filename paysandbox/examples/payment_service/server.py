"""Start the service: on the command line (`python -m paysandbox.examples.payment_service`) or in
a background thread of a test process (`ServiceServer`)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from typing import Any

from aiohttp import web

from paysandbox.examples.payment_service.app import SERVICE, PaymentService, create_app
from paysandbox.examples.payment_service.config import KNOWN, ServiceConfig


def simulator_providers(simulator_url: str) -> list[str]:
    """The providers this service has adapters for that the simulator imitates."""
    with urllib.request.urlopen(f"{simulator_url}/__admin/health", timeout=10) as resp:
        mounted = json.loads(resp.read())["providers"]
    return [p for p in KNOWN if p in mounted]


#: Providers whose API carries the webhook URL and that sign nothing (Mollie's
#: `webhookUrl`, Daraja's `CallBackURL`): nothing to set in a dashboard. Mercado Pago's
#: `notification_url` is per payment too, but its signing secret is the dashboard's.
URL_IN_API = frozenset({"mollie", "daraja"})


def register_webhooks(config: ServiceConfig, *, admin_token: str | None = None) -> None:
    """Tell the simulator where each provider's webhooks go and the secret to sign with,
    as one would in each provider's dashboard. Scoped to our credential's namespace."""
    if not config.simulator_url or not config.public_url:
        return
    for name, p in config.providers.items():
        if name in URL_IN_API:
            continue
        body = json.dumps({"url": f"{config.public_url}/webhooks/{name}",
                           "secret": p.webhook_secret, "namespace": p.api_key}).encode()
        headers = {"Content-Type": "application/json"}
        if admin_token:
            headers["Authorization"] = f"Bearer {admin_token}"
        req = urllib.request.Request(f"{config.simulator_url}/__admin/webhooks/{name}",
                                     data=body, method="PUT", headers=headers)
        with urllib.request.urlopen(req, timeout=10):
            pass


class ServiceServer:
    """The service on a free loopback port, in a thread with its own event loop."""

    def __init__(self, config: ServiceConfig, *, register: bool = True) -> None:
        self.config, self.register = config, register
        self.port = 0
        self.app: web.Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service(self) -> PaymentService:
        assert self.app is not None
        return self.app[SERVICE]

    def start(self) -> ServiceServer:
        self._thread = threading.Thread(target=self._serve, name="payment-service", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError("the payment service failed to start") from self._error
        self.config = self.config.with_public_url(self.url)
        self.service.public_url = self.config.public_url
        if self.register:
            register_webhooks(self.config)
        return self

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            self.app = create_app(self.config)
            runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """A JSON call to the running service (for tests and scripts)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
