"""python -m paysandbox.examples.payment_service --port 8000 --simulator http://127.0.0.1:12111"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from paysandbox.examples.payment_service.app import create_app
from paysandbox.examples.payment_service.config import DEFAULT_SIMULATOR, for_simulator, from_file
from paysandbox.examples.payment_service.server import register_webhooks, simulator_providers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m paysandbox.examples.payment_service",
        description="The reference payment service (a reference, not a product): routes "
                    "card payments across acquirers with retries, circuit breakers and "
                    "failover, local methods (iDEAL, Bancontact, PIX, OXXO, UPI, M-Pesa) "
                    "to the provider that offers them, and receives their webhooks.")
    parser.add_argument("--host", default=os.environ.get("SERVICE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SERVICE_PORT", 8000)))
    parser.add_argument("--simulator", default=os.environ.get("PAYSANDBOX_URL",
                                                              DEFAULT_SIMULATOR),
                        help="a payments-sandbox simulator; provider base URLs point at it")
    parser.add_argument("--providers", default=os.environ.get("SERVICE_PROVIDERS"),
                        help="comma-separated acquirers to use (default: every one the "
                             "simulator imitates that this service has an adapter for)")
    parser.add_argument("--config", help="a JSON configuration file instead of --simulator")
    parser.add_argument("--public-url", default=os.environ.get("SERVICE_PUBLIC_URL"),
                        help="how the providers reach this service's webhook receivers "
                             "(default http://HOST:PORT)")
    parser.add_argument("--no-register-webhooks", action="store_true",
                        help="do not configure the simulator's webhook endpoints")
    parser.add_argument("--timeout", type=float, default=5.0, help="per provider call (s)")
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--breaker-threshold", type=int, default=5)
    parser.add_argument("--breaker-reset", type=float, default=10.0)
    args = parser.parse_args(argv)

    options = {"timeout_s": args.timeout, "retries": args.retries,
               "breaker_threshold": args.breaker_threshold,
               "breaker_reset_s": args.breaker_reset}
    if args.config:
        config = from_file(args.config)
    else:
        try:
            providers = (args.providers.split(",") if args.providers
                         else simulator_providers(args.simulator))
        except OSError as exc:
            print(f"cannot reach the simulator at {args.simulator}: {exc}", file=sys.stderr)
            return 1
        config = for_simulator(args.simulator, providers, **options)
    public = args.public_url or config.public_url or \
        f"http://{'127.0.0.1' if args.host == '0.0.0.0' else args.host}:{args.port}"
    config = config.with_public_url(public)
    app = create_app(config)

    async def announce(app: web.Application) -> None:
        if not args.no_register_webhooks:
            try:
                register_webhooks(config, admin_token=os.environ.get("PAYSANDBOX_ADMIN_TOKEN"))
            except OSError as exc:
                print(f"could not register webhooks with the simulator: {exc}",
                      file=sys.stderr)
        print(f"reference payment service on http://{args.host}:{args.port} "
              f"(acquirers: {', '.join(config.providers)})", flush=True)

    app.on_startup.append(announce)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
