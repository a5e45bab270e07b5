"""Microbenchmarks of the Stripe create+confirm hot path, each beside its baseline.

Not part of the CI run (pyproject's `norecursedirs`); run them with

    python -m pytest tests/bench -p no:cacheprovider --benchmark-only

Each group pairs a piece of the simulator with the least the same job can cost (the
stdlib parser, orjson on a ready dict, a bare deque append…), measured in the same run,
so the ratio means something on any machine. The tests assert what was computed, never
how long it took.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import secrets
import string
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest

pytest.importorskip("pytest_benchmark", reason="pip install -e '.[bench]'")

from paysandbox.core import payments
from paysandbox.core.cards import detect_brand
from paysandbox.core.clock import VirtualClock
from paysandbox.core.commands import Authorize, Result
from paysandbox.core.outcomes import APPROVED
from paysandbox.core.payments import CardDetails, Payment, Status
from paysandbox.journal import Journal
from paysandbox.providers.stripe import magic, wire
from paysandbox.providers.stripe.routes import StripeProvider

BODY = "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa"
CONTRACT = "create_payment_intent.request"
NOW = 1_795_295_144.0


@pytest.fixture(scope="module")
def created() -> Payment:
    """A PaymentIntent as create_payment_intent builds it, before confirmation."""
    pi_id = "pi_3QkBenchA1b2C3d4E5f6G7h8"
    return Payment(
        id=pi_id, namespace="sk_test_bench", provider="stripe", amount=2000, currency="USD",
        created=NOW, metadata={}, description=None,
        extra={"client_secret": f"{pi_id}_secret_0123456789abcdef01234567",
               "payment_method_types": ["card"]})


@pytest.fixture(scope="module")
def changes() -> dict[str, Any]:
    """What _confirm asks the engine to merge in for pm_card_visa."""
    return {
        "card": CardDetails(brand="visa", last4="4242", bin="424242", exp_month=12,
                            exp_year=2028, funding="credit", country="US",
                            fingerprint="0123456789abcdef"),
        "extra": {"payment_method": "pm_1QkBenchE5f6G7h8I9j0K1l2",
                  "charge": "ch_3QkBenchA1b2C3d4E5f6G7h8", "charge_created": NOW,
                  "action_url": "http://127.0.0.1:12111/__hosted/3ds/abcdefghijklmnop"},
    }


@pytest.fixture(scope="module")
def succeeded(created: Payment, changes: dict[str, Any]) -> Payment:
    p = payments.attempt(created, APPROVED, NOW, **changes)
    assert p.status is Status.CAPTURED
    return p


# -- parse: form body -> validated, typed parameters ------------------------------------

@pytest.mark.benchmark(group="parse")
def test_parse_baseline_parse_qsl(benchmark: Any) -> None:
    pairs = benchmark(parse_qsl, BODY)
    assert len(pairs) == 4


@pytest.mark.benchmark(group="parse")
def test_parse_form(benchmark: Any) -> None:
    form = benchmark(wire.parse_form, BODY)
    assert form["amount"] == "2000"


@pytest.mark.benchmark(group="parse")
def test_parse_params(benchmark: Any) -> None:
    wire.parse_params(BODY, CONTRACT)  # compile the contract before timing starts
    params = benchmark(wire.parse_params, BODY, CONTRACT)
    assert params == {"amount": 2000, "currency": "usd", "confirm": True,
                      "payment_method": "pm_card_visa"}


@pytest.mark.benchmark(group="parse")
def test_parse_validate_only(benchmark: Any) -> None:
    """The compiled contract check alone, on parameters already typed."""
    _, validate = wire._contract(CONTRACT)
    data = {"amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"}
    assert benchmark(validate, data) == data


# -- render: Payment -> Stripe's PaymentIntent JSON -------------------------------------

@pytest.mark.benchmark(group="render")
def test_render_baseline_orjson_of_ready_dict(benchmark: Any, succeeded: Payment) -> None:
    ready = wire.payment_intent(succeeded)
    body = benchmark(orjson.dumps, ready)
    assert body == orjson.dumps(wire.payment_intent(succeeded))


@pytest.mark.benchmark(group="render")
def test_render_payment_intent(benchmark: Any, succeeded: Payment) -> None:
    body = benchmark(lambda: orjson.dumps(wire.payment_intent(succeeded)))
    obj = orjson.loads(body)
    assert obj["status"] == "succeeded"
    assert obj["latest_charge"] == "ch_3QkBenchA1b2C3d4E5f6G7h8"


# -- state: the authorization attempt as a pure transition ------------------------------

@pytest.mark.benchmark(group="state")
def test_state_baseline_one_replace(benchmark: Any, created: Payment) -> None:
    """One dataclasses.replace of a Payment: the unit the transition is built from."""
    p = benchmark(dataclasses.replace, created, status=Status.CAPTURED, version=1)
    assert p.status is Status.CAPTURED


@pytest.mark.benchmark(group="state")
def test_state_attempt(benchmark: Any, created: Payment, changes: dict[str, Any]) -> None:
    p = benchmark(payments.attempt, created, APPROVED, NOW, **changes)
    assert p.status is Status.CAPTURED and p.amount_captured == 2000


# -- ids and tokens: per create+confirm, 5 new_id (pi, pm, 3 evt), 3 secrets tokens ----

@pytest.mark.benchmark(group="ids")
def test_ids_baseline_getrandbits(benchmark: Any) -> None:
    """The randomness a 24-character base62 id needs (143 bits), in one call."""
    assert benchmark(random.getrandbits, 143) >= 0


@pytest.mark.benchmark(group="ids")
def test_ids_new_id(benchmark: Any) -> None:
    i = benchmark(wire.new_id, "pi")
    assert i.startswith("pi_") and len(i) == 27


@pytest.mark.benchmark(group="ids")
def test_ids_reference_translate(benchmark: Any) -> None:
    """For comparison, not the simulator's code: the same shape of id with the loop in
    C, 24 random bytes mapped onto the 62 characters by bytes.translate (slightly
    biased towards the first 8 characters, which ids that need to be unique, not
    secret, can afford)."""
    table = ((string.ascii_letters + string.digits) * 5)[:256].encode()

    def new_id(prefix: str) -> str:
        return prefix + "_" + random.randbytes(24).translate(table).decode()

    i = benchmark(new_id, "pi")
    assert i.startswith("pi_") and len(i) == 27 and i[3:].isalnum()


@pytest.mark.benchmark(group="ids")
def test_ids_token_hex_12(benchmark: Any) -> None:
    """The client secret's suffix (secrets, i.e. os.urandom, per request)."""
    assert len(benchmark(secrets.token_hex, 12)) == 24


@pytest.mark.benchmark(group="ids")
def test_ids_idempotency_fingerprint(benchmark: Any) -> None:
    """_once hashes method, path and body on every request, with or without a key."""
    raw = BODY.encode()
    digest = benchmark(lambda: hashlib.sha256(
        b"POST" + b"/stripe/v1/payment_intents" + b"?" + raw).hexdigest())
    assert len(digest) == 64


# -- payment method: a test token makes a new PaymentMethod on every confirm ------------

@pytest.mark.benchmark(group="payment_method")
def test_pm_baseline_alias_lookup(benchmark: Any) -> None:
    card = benchmark(magic.card_for_alias, "pm_card_visa")
    assert card is not None and card.number == "4242424242424242"


@pytest.mark.benchmark(group="payment_method")
def test_pm_detect_brand(benchmark: Any) -> None:
    assert benchmark(detect_brand, "4242424242424242").value == "visa"


@pytest.mark.benchmark(group="payment_method")
def test_pm_card_of(benchmark: Any) -> None:
    """What _confirm does with the saved PaymentMethod record: its CardDetails."""
    record = {"id": "pm_1", "created": int(NOW), "magic": "4242424242424242",
              "billing_details": None, "metadata": {},
              "card": {"brand": "visa", "last4": "4242", "bin": "424242", "exp_month": 12,
                       "exp_year": 2028, "funding": "credit", "country": "US",
                       "fingerprint": "0123456789abcdef", "checks": {}}}
    card = benchmark(wire.card_of, record)
    assert card.last4 == "4242"


# -- after the transition: webhook events and the journal -------------------------------

@pytest.mark.benchmark(group="after")
def test_after_events_for(benchmark: Any, created: Payment, succeeded: Payment,
                          changes: dict[str, Any]) -> None:
    """Three events per create+confirm (created, charge.succeeded, succeeded); their
    bodies render lazily, only when delivered or listed."""
    command = Authorize(created.id, APPROVED, changes, create=created)
    result = Result(succeeded, None, APPROVED)
    events = benchmark(StripeProvider().events_for, "sk_test_bench", command, result)
    assert [e.type for e in events] == ["payment_intent.created", "charge.succeeded",
                                        "payment_intent.succeeded"]


@pytest.mark.benchmark(group="after")
def test_after_journal_baseline_deque_append(benchmark: Any, succeeded: Payment) -> None:
    ring: deque[tuple[Any, ...]] = deque(maxlen=10_000)
    body = orjson.dumps(wire.payment_intent(succeeded))
    entry = (NOW, "stripe", "sk_test_bench", "POST", "/stripe/v1/payment_intents", "", 200,
             "0123456789abcd", BODY.encode(), body, 1.0, None)
    benchmark(ring.append, entry)
    assert len(ring) > 0


@pytest.mark.benchmark(group="after")
def test_after_journal_record(benchmark: Any, succeeded: Payment) -> None:
    journal = Journal(10_000)
    body = orjson.dumps(wire.payment_intent(succeeded))
    clock = VirtualClock()
    raw = BODY.encode()

    def record() -> None:
        journal.record(at=clock.now(), provider="stripe", namespace="sk_test_bench",
                       method="POST", path="/stripe/v1/payment_intents", query="",
                       status=200, request_id="0123456789abcd", request_body=raw,
                       response_body=body, duration_ms=1.0, notes=None)

    benchmark(record)
    assert len(journal) > 0
