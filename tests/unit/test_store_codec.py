"""Stored payments are data: every field survives the codec, and a record that is not a
payment in the current format is refused with what to do, never constructed."""

from __future__ import annotations

import pickle

import orjson
import pytest

from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import CardDetails, HistoryEntry, Payment, Refund, Status
from paysandbox.store.base import StoreUnavailable
from paysandbox.store.codec import BadRecord, decode_payment, encode_payment

KEY = "paysandbox:sk_test_a:pay:pi_1"


def full_payment() -> Payment:
    return Payment(
        id="pi_1", namespace="sk_test_a", provider="stripe", amount=4200, currency="EUR",
        created=1_700_000_000.5, status=Status.PARTIALLY_REFUNDED, capture_manual=True,
        amount_authorized=4200, amount_captured=4000, amount_refunded=1500,
        refunds=(Refund("re_1", 1500, 1_700_000_100.0, reason="requested_by_customer",
                        metadata={"ticket": "t-1"}),),
        card=CardDetails("visa", "4242", "424242", 12, 2030, "debit", "GB", "a1b2c3"),
        method="card", decline=DeclineReason.INSUFFICIENT_FUNDS, decline_code="51",
        action="three_ds_challenge",
        then=Outcome.requires_action("three_ds_challenge", then=Outcome.pending()),
        metadata={"order": "o-1"}, description="Order 1",
        extra={"client_secret": "pi_1_secret_x", "nested": {"list": [1, "two", None]}},
        history=(HistoryEntry(1_700_000_000.5, "authorize", Status.AUTHORIZED, 4200),
                 HistoryEntry(1_700_000_050.0, "capture", Status.CAPTURED, 4000, "partial")),
        version=3)


def test_every_field_survives_the_round_trip() -> None:
    p = full_payment()
    assert decode_payment(encode_payment(p), KEY) == p


def test_a_bare_payment_survives_the_round_trip() -> None:
    p = Payment(id="pi_2", namespace="ns", provider="adyen", amount=1, currency="USD",
                created=0)
    assert decode_payment(encode_payment(p), KEY) == p


class _Payload:
    """What an attacker writes: unpickling it would call print(), or anything else."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return print, ("unpickled!",)


def test_a_pickle_is_refused_with_how_to_empty_the_store(capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    with pytest.raises(BadRecord) as info:
        decode_payment(pickle.dumps(_Payload(), pickle.HIGHEST_PROTOCOL), KEY)
    message = str(info.value)
    assert KEY in message and "pickle" in message and "never loaded" in message
    assert "/__admin/reset" in message
    assert capsys.readouterr().out == ""  # nothing ran
    assert isinstance(info.value, StoreUnavailable)  # served as the store's failure, a 503


@pytest.mark.parametrize("raw", [
    b"not json at all", b"[1, 2, 3]", b'"a string"', b'{"v": 2, "id": "pi_1"}',
    b'{"id": "pi_1"}',
])
def test_anything_else_that_is_not_a_current_record_is_refused(raw: bytes) -> None:
    with pytest.raises(BadRecord) as info:
        decode_payment(raw, KEY)
    assert str(info.value).startswith(f"refusing the stored record {KEY}: ")


@pytest.mark.parametrize("field, value", [
    ("amount", "4200"), ("status", "exploded"), ("card", {"brand": "visa"}),
    ("history", [[1, "authorize"]]), ("refunds", {"not": "a list"}), ("decline", "nope"),
    ("then", {"kind": "approve", "reason": "insufficient_funds", "native_code": None,
              "action": None, "then": None}),
])
def test_a_record_with_a_malformed_field_is_refused(field: str, value: object) -> None:
    doc = orjson.loads(encode_payment(full_payment()))
    doc[field] = value
    with pytest.raises(BadRecord) as info:
        decode_payment(orjson.dumps(doc), KEY)
    assert "missing or malformed" in str(info.value)
