"""A webhook receiver on loopback, and a free port, for the fleet outbox tests."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import Counter

import stripe
from aiohttp import web

from paysandbox.settings import default_secret

SECRET = default_secret("stripe")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A webhook receiver on loopback that checks Stripe's signature, answers each event's
    first attempt 503 (after a moment, so senders hold deliveries while it thinks; unless
    `fail_first` is off) and every later one 200, and records what it was sent."""

    def __init__(self, *, fail_first: bool = True) -> None:
        self.port = free_port()
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.bad_signatures = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _hook(self, request: web.Request) -> web.Response:
        payload = (await request.read()).decode()
        try:
            stripe.WebhookSignature.verify_header(
                payload, request.headers.get("Stripe-Signature", ""), SECRET, tolerance=600)
        except stripe.SignatureVerificationError:
            with self.lock:
                self.bad_signatures += 1
            return web.Response(status=400)
        event_id = json.loads(payload)["id"]
        with self.lock:
            self.attempts[event_id] += 1
            first = self.attempts[event_id] == 1
        if first and self.fail_first:
            await asyncio.sleep(0.3)
            return web.Response(status=503)
        with self.lock:
            self.delivered[event_id] += 1
        return web.Response(status=200)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the receiver did not start"

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def delivered_ids(self) -> set[str]:
        with self.lock:
            return set(self.delivered)



