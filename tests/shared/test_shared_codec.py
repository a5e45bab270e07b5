"""Scheduled commands travel between a fleet's processes as data: each one scheduled
today reads back equal, and anything else is refused with what to do."""

from __future__ import annotations

import orjson
import pytest

from paysandbox.core.commands import (
    Capture,
    Command,
    Complete,
    Expire,
    ExpireDispute,
    OpenDispute,
    Record,
    Renew,
    ReopenDispute,
    ResolveDispute,
    Settle,
    UpdateDispute,
    Void,
    Writes,
)
from paysandbox.core.disputes import DisputeKind, DisputeReason, DisputeStage, DisputeStatus
from paysandbox.core.outcomes import DeclineReason
from paysandbox.shared.codec import SCHEDULED, BadCommand, Scheduled, decode, encode

EXAMPLES = [
    Complete("pay_1", False, reason=DeclineReason.INSUFFICIENT_FUNDS, native_code="1032",
             chain=True),
    Complete("pay_1"),
    Expire("pay_2"),
    Void("pay_3", "expired"),
    OpenDispute("pay_4", dispute_id="dp_1", reason=DisputeReason.FRAUDULENT, amount=700,
                kind=DisputeKind.INQUIRY, evidence_window=86400.0,
                ends=DisputeStatus.LOST, decide_after=60.0, network_reason_code="10.4"),
    UpdateDispute("pay_4", dispute_id="dp_1", evidence={"note": "x", "n": [1, 2]},
                  metadata={"k": "v"}, submit=True, ends=DisputeStatus.WON),
    ReopenDispute("pay_4", dispute_id="dp_1", stage=DisputeStage.SECOND_CHARGEBACK,
                  evidence_window=3600.0),
    ResolveDispute("pay_4", dispute_id="dp_1", outcome=DisputeStatus.WON),
    ExpireDispute("pay_4", dispute_id="dp_1", due_by=1_800_000_000.5),
    Renew("tr_6", plan="sub_1", sequence=3),
    Settle("pi_7", day=1_800_000_000.0, arrived=True),
    Expire("pay_5", writes=Writes(("alias_1",), (Record("token", "t1", {"a": 1}),),
                                  (Record("page", "p1", {"b": "c"}, namespace="ns2"),))),
]


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda c: type(c).__name__)
def test_every_scheduled_command_reads_back_equal(command: Command) -> None:
    item = Scheduled("tok", "stripe", "sk_test_1", 1_800_000_000.25, command)
    assert decode(encode(item)) == item


def test_every_scheduled_type_has_an_example() -> None:
    assert {type(c).__name__ for c in EXAMPLES} == set(SCHEDULED)


def test_a_command_that_is_never_scheduled_is_refused_with_where_to_add_it() -> None:
    with pytest.raises(BadCommand, match=r"Capture cannot be scheduled.*paysandbox/shared/codec"):
        encode(Scheduled("t", "stripe", "ns", 1.0, Capture("pay_1", amount=5)))


@pytest.mark.parametrize(("raw", "message"), [
    (b"not json", "does not read back"),
    (orjson.dumps({"type": "Capture", "fields": {}}), "unknown type 'Capture'"),
    (orjson.dumps({"type": "os.system", "fields": {}}), "unknown type"),
    (orjson.dumps({"type": "Expire", "token": "t", "provider": "p", "namespace": "n",
                   "at": 1, "fields": {"payment_id": "p", "command": "rm"}}),
     r"unknown fields \['command'\]"),
    (orjson.dumps({"type": "Complete", "token": "t", "provider": "p", "namespace": "n",
                   "at": 1, "fields": {"payment_id": "p", "reason": "no_such_reason"}}),
     "does not read back"),
])
def test_a_stored_command_that_is_not_ours_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(BadCommand, match=message):
        decode(raw)

