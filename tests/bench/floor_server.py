"""The floor of the load benchmark: the least a stateful create+confirm can do on aiohttp.

One flat route, no middleware, no sub-application, no engine, no scenarios: the request
path the performance budget (DESIGN.md) asks of the simulator, written as one function
with every step at its cheapest. What it keeps is what the budget's own words require of
"a stateful Stripe create+confirm with the journal on":

- Stripe's auth: a Bearer `sk_test_…` key, checked, and the key as the namespace;
- the body read and checked (form content type, UTF-8), parsed, typed and validated
  against a compiled JSON Schema;
- the `Idempotency-Key` header looked up (the benchmark sends none);
- the test token resolved to its outcome; a PaymentMethod and a PaymentIntent kept in
  memory, with the intent's history;
- three events (created, charge succeeded, succeeded) kept in a bounded ring, and the
  namespace's webhook endpoints looked up;
- one entry in a bounded journal with both bodies;
- the PaymentIntent rendered with orjson, with Stripe's `Request-Id` and
  `Stripe-Version` headers.

Its req/s over raw_server.py's is the best ratio any implementation of the simulator's
request path can reach on this interpreter and this aiohttp: `loadbench.py --floor`
measures it in the same run as the others. `--no-gc` turns Python's cyclic garbage
collector off, which no long-running server can afford, to show what the collector costs.

    python tests/bench/floor_server.py --port 0 [--no-gc]

prints `floor listening on http://127.0.0.1:PORT` once bound.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import parse_qsl

import fastjsonschema
import orjson
from aiohttp import web
from raw_server import run, serve  # beside this file: run as a script, as loadbench does

VALIDATE = fastjsonschema.compile({
    "type": "object", "required": ["amount", "currency"], "additionalProperties": False,
    "properties": {
        "amount": {"type": "integer", "minimum": 1},
        "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
        "confirm": {"type": "boolean"},
        "payment_method": {"type": "string"},
        "capture_method": {"enum": ["automatic", "automatic_async", "manual"]},
        "description": {"type": "string"},
    }})
KEY = re.compile(r"[sr]k_test_\w+")
TEST_TOKENS = {"pm_card_visa": ("4242424242424242", "visa", True)}
BOOLEANS = {"true": True, "false": False}
ALPHABET = (b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" * 5)[:256]
RING = 10_000


def new_id(prefix: str) -> str:
    return prefix + "_" + random.randbytes(24).translate(ALPHABET).decode()


class State:
    def __init__(self) -> None:
        self.payments: defaultdict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.methods: defaultdict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.idempotency: defaultdict[str, dict[str, bytes]] = defaultdict(dict)
        self.endpoints: dict[str, list[str]] = {}
        self.events: deque[tuple[str, str, str, float, dict[str, Any]]] = deque(maxlen=RING)
        self.journal: deque[tuple[Any, ...]] = deque(maxlen=RING)


def render(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"], "object": "payment_intent", "amount": p["amount"],
        "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": p["received"], "application": None,
        "application_fee_amount": None, "automatic_payment_methods": None,
        "canceled_at": None, "cancellation_reason": None,
        "capture_method": p["capture_method"], "client_secret": p["client_secret"],
        "confirmation_method": "automatic", "created": p["created"],
        "currency": p["currency"], "customer": None, "description": p["description"],
        "last_payment_error": None, "latest_charge": p["charge"], "livemode": False,
        "metadata": p["metadata"], "next_action": None, "on_behalf_of": None,
        "payment_method": p["payment_method"],
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {
            "installments": None, "mandate_options": None, "network": None,
            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "processing": None, "receipt_email": None,
        "review": None, "setup_future_usage": None, "shipping": None, "source": None,
        "statement_descriptor": None, "statement_descriptor_suffix": None,
        "status": p["status"], "transfer_data": None, "transfer_group": None,
    }


def make_app() -> web.Application:
    state = State()

    async def create_payment_intent(request: web.Request) -> web.Response:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not KEY.fullmatch(key):
            return web.Response(status=401)
        raw = await request.read()
        if request.content_type != "application/x-www-form-urlencoded":
            return web.Response(status=400)
        params: dict[str, Any] = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        params["amount"] = int(params["amount"])
        if "confirm" in params:
            params["confirm"] = BOOLEANS[params["confirm"]]
        VALIDATE(params)
        idempotency_key = request.headers.get("Idempotency-Key")
        if idempotency_key is not None and idempotency_key in state.idempotency[key]:
            return web.Response(body=state.idempotency[key][idempotency_key])
        number, brand, approved = TEST_TOKENS[params["payment_method"]]
        now = time.time()
        pm_id = new_id("pm")
        state.methods[key][pm_id] = {"id": pm_id, "created": int(now), "card": {
            "brand": brand, "last4": number[-4:], "exp_month": 12, "exp_year": 2028}}
        pi_id = new_id("pi")
        p = {"id": pi_id, "amount": params["amount"], "currency": params["currency"],
             "created": int(now), "client_secret": pi_id + "_secret_" + random.randbytes(12).hex(),
             "capture_method": params.get("capture_method", "automatic_async"),
             "description": params.get("description"), "metadata": {},
             "payment_method": pm_id, "charge": "ch_" + pi_id[3:], "received": 0,
             "status": "requires_payment_method", "history": [(now, "created")]}
        if params.get("confirm") and approved:
            p["status"], p["received"] = "succeeded", p["amount"]
            p["history"].append((now, "captured"))
        state.payments[key][pi_id] = p
        for event_type in ("payment_intent.created", "charge.succeeded",
                           "payment_intent.succeeded"):
            state.events.append((new_id("evt"), key, event_type, now, p))
        state.endpoints.get(key)  # none are registered in the benchmark
        body = orjson.dumps(render(p))
        request_id = random.randbytes(7).hex()
        state.journal.append((now, "stripe", key, request.method, request.path, 200,
                              request_id, raw, body))
        return web.Response(body=body, headers={
            "Content-Type": "application/json", "Request-Id": "req_" + request_id,
            "Stripe-Version": request.headers.get("Stripe-Version", "2026-10-28.endive")})

    app = web.Application()
    app.router.add_post("/stripe/v1/payment_intents", create_payment_intent)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--no-gc", action="store_true",
                        help="turn the cyclic garbage collector off (reference counting "
                             "still frees what it can)")
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    run(serve(make_app(), args.host, args.port, "floor listening on {url}"))


if __name__ == "__main__":
    main()
