"""The baseline of the load benchmark: the least an aiohttp server can do for a POST.

It reads the request body (as the simulator must) and answers with a static JSON body
shaped like a Stripe PaymentIntent, padded to a chosen size. No middleware, no access
log, uvloop when installed: the same stack the simulator runs on, minus the simulator.
With --shaped, the same handler is mounted the way the simulator mounts its own (see
make_app), to measure what that structure costs.

    python tests/bench/raw_server.py --port 0 --body-bytes 1800 [--shaped]

prints `raw baseline listening on http://127.0.0.1:PORT (body N bytes)` once bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import orjson
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A PaymentIntent as Stripe returns it after a successful create+confirm.
PAYMENT_INTENT = {
    "id": "pi_3QkBenchBaselineA1b2C3d4", "object": "payment_intent", "amount": 2000,
    "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": 2000,
    "application": None, "application_fee_amount": None, "automatic_payment_methods": None,
    "canceled_at": None, "cancellation_reason": None, "capture_method": "automatic_async",
    "client_secret": "pi_3QkBenchBaselineA1b2C3d4_secret_0123456789abcdef01234567",
    "confirmation_method": "automatic", "created": 1795295144, "currency": "usd",
    "customer": None, "description": None, "last_payment_error": None,
    "latest_charge": "ch_3QkBenchBaselineA1b2C3d4", "livemode": False, "metadata": {},
    "next_action": None, "on_behalf_of": None, "payment_method": "pm_1QkBenchBaselineE5f6G7h8",
    "payment_method_configuration_details": None,
    "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                        "network": None, "request_three_d_secure": "automatic"}},
    "payment_method_types": ["card"], "processing": None, "receipt_email": None,
    "review": None, "setup_future_usage": None, "shipping": None, "source": None,
    "statement_descriptor": None, "statement_descriptor_suffix": None, "status": "succeeded",
    "transfer_data": None, "transfer_group": None,
}


def static_body(size: int) -> bytes:
    """The PaymentIntent, padded through its description to exactly `size` bytes when
    that is larger than the object itself."""
    bare = orjson.dumps({**PAYMENT_INTENT, "description": ""})
    pad = max(0, size - len(bare))
    if pad == 0:
        return orjson.dumps(PAYMENT_INTENT)
    return orjson.dumps({**PAYMENT_INTENT, "description": "x" * pad})


def make_app(body: bytes, *, shaped: bool = False) -> web.Application:
    """The bare handler at `POST /`; or, `shaped`, the same handler where and how the
    simulator mounts its own (paysandbox/providers/base.py, `mount`): at
    `/stripe/v1/payment_intents` on the root app among the other routes of its provider,
    wrapped in a pass-through envelope, with a catch-all route below the prefix,
    answering with the simulator's response headers. The difference between the two is
    what the simulator's application structure costs, apart from anything it computes."""

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    if not shaped:
        app = web.Application()
        app.router.add_post("/", answer)
        return app

    def wrap(handler: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await passthrough(request, handler)
        return handle

    async def passthrough(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request)

    async def answer_like_stripe(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, headers={
            "Content-Type": "application/json", "Request-Id": "req_0123456789abcd",
            "Stripe-Version": request.headers.get("Stripe-Version", "2026-10-28.endive")})

    async def missing(request: web.Request) -> web.Response:
        return web.Response(status=404)

    app = web.Application()
    for method, path in (("GET", "/v1/payment_intents"), ("POST", "/v1/payment_intents"),
                         ("GET", "/v1/payment_intents/{id}"),
                         ("POST", "/v1/payment_intents/{id}/confirm")):
        app.router.add_route(method, "/stripe" + path, wrap(answer_like_stripe))
    app.router.add_route("*", "/stripe{tail:(/.*)?}", wrap(missing))
    return app


async def serve(app: web.Application, host: str, port: int, banner: str) -> None:
    """Serve `app` until SIGINT or SIGTERM, printing `banner` (with `{url}` filled in)
    once bound: what loadbench.py waits for. floor_server.py serves this way too."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    print(banner.format(url=f"http://{host}:{runner.addresses[0][1]}"), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def run(main: Coroutine[Any, Any, None]) -> None:
    """On uvloop when installed, as the simulator runs."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional on some platforms
        asyncio.run(main)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--body-bytes", type=int, default=1800)
    parser.add_argument("--shaped", action="store_true",
                        help="answer at /stripe/v1/payment_intents as the simulator mounts "
                             "its routes (beside others, wrapped in an envelope)")
    args = parser.parse_args()
    body = static_body(args.body_bytes)
    run(serve(make_app(body, shaped=args.shaped), args.host, args.port,
              f"raw baseline listening on {{url}} (body {len(body)} bytes)"))


if __name__ == "__main__":
    main()
