"""What retention costs a request: the memory store's writes of one Stripe
create+confirm (create, the confirm's transition, an alias, an idempotency claim and its
record, an event) with every bound hit, against the same writes under bounds never
reached, alternating in one run. Not a test; run it by hand:

    python tests/bench/eviction_cost.py [--payments 200000] [--rounds 5]

Prints the time per request's writes each way, the ratio, and what the difference is
as a share of a whole create+confirm served over HTTP (--request-us, measured by
loadbench.py / soak.py on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

from paysandbox.core import payments
from paysandbox.core.outcomes import APPROVED
from paysandbox.core.payments import Payment
from paysandbox.store.memory import MemoryStore
from paysandbox.webhooks.dispatcher import Event

NOW = 1_700_000_000.0
NS = "sk_test_bench"


async def writes(store: MemoryStore, n: int, offset: int) -> float:
    """Seconds for `n` requests' worth of writes."""
    started = time.perf_counter()
    for i in range(offset, offset + n):
        pid = f"pi_{i}"
        await store.idempotency_begin(NS, f"key_{i}", "fp", NOW + i * 0.001)
        await store.create(Payment(id=pid, namespace=NS, provider="stripe", amount=1000,
                                   currency="USD", created=NOW, capture_manual=False))
        await store.transition(NS, pid, lambda p: payments.attempt(p, APPROVED, NOW))
        await store.link(NS, f"ch_{i}", pid)
        await store.append_events(NS, [Event(id=f"evt_{i}", provider="stripe", namespace=NS,
                                             type="payment_intent.succeeded", created=NOW,
                                             render=lambda: b"{}")])
        await store.idempotency_finish(NS, f"key_{i}", 200, b"{}", {})
    return time.perf_counter() - started


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=200_000,
                        help="requests per measured round (default 200000)")
    parser.add_argument("--retain", type=int, default=10_000,
                        help="the bounds of the evicting store (default 10000, the default)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--request-us", type=float, default=300.0,
                        help="a whole create+confirm over HTTP, in microseconds")
    args = parser.parse_args()

    names = ("evicting", "unbounded", "same size")
    per_request: dict[str, list[float]] = {name: [] for name in names}
    big = 10**12
    for _ in range(args.rounds):
        for name in names:
            bound = args.retain if name == "evicting" else big
            store = MemoryStore(retain_payments=bound, max_idempotency_keys=bound)
            # fill to the bound first, so every measured request evicts
            await writes(store, args.retain, 0)
            gc.collect()
            if name == "same size":
                # no eviction and no growth: the store is emptied (untimed) every
                # `retain` requests, so it holds as much as the evicting one
                took = 0.0
                for start in range(args.retain, args.retain + args.payments, args.retain):
                    await store.reset()
                    await writes(store, args.retain, 0)
                    took += await writes(store, args.retain, start)
            else:
                took = await writes(store, args.payments, args.retain)
            per_request[name].append(took / args.payments * 1e6)
            del store
            gc.collect()
    median = {name: statistics.median(per_request[name]) for name in names}
    print(f"{args.payments} requests per round, {args.rounds} rounds alternating, bound "
          f"{args.retain}; medians of the time of one request's writes:")
    print(f"  every bound evicting (payment, alias, idempotency key, event): "
          f"{median['evicting']:.2f} us")
    print(f"  no bound, the store growing to {args.retain + args.payments} payments: "
          f"{median['unbounded']:.2f} us")
    print(f"  no bound, the store kept at {args.retain}-{2 * args.retain} payments: "
          f"{median['same size']:.2f} us")
    for other in ("unbounded", "same size"):
        extra = median["evicting"] - median[other]
        print(f"  evicting vs {other}: ratio {median['evicting'] / median[other]:.3f}, "
              f"{extra:+.2f} us per request = {extra / args.request_us * 100:+.2f}% of a "
              f"{args.request_us:.0f} us create+confirm")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
