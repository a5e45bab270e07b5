"""Payments as data: the versioned format a shared store keeps them in.

A stored payment is one JSON object, `{"v": 2, ...its fields}`, written with orjson.
Decoding reads plain values (strings, numbers, lists, objects) and builds only the
simulator's own types from them, field by field; nothing in a record can name a type to
construct or code to run. A record that is not such an object (a pickle written by a
paysandbox before this format, a key someone else wrote) is refused with `BadRecord`,
whose message names the key and what to do; it is never loaded.

A new field with a default needs no new version: records without it decode to the
default. A change that old records cannot be read under bumps `VERSION` and decodes
the older versions it can, or refuses them with what to do.

Versions: 1, payments before disputes; 2 adds `disputes` (a version-1 record reads as a
payment with none, so a store written by the previous release keeps working). A
release that reads only version 1 refuses a version-2 record rather than drop its
disputes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from paysandbox.core.credentials import Credential, Initiator, MitType
from paysandbox.core.disputes import (
    Dispute,
    DisputeEntry,
    DisputeKind,
    DisputeReason,
    DisputeStage,
    DisputeStatus,
)
from paysandbox.core.outcomes import DeclineReason, Outcome, OutcomeKind
from paysandbox.core.payments import CardDetails, HistoryEntry, Payment, Refund, Status
from paysandbox.store.base import StoreUnavailable

VERSION = 2
#: The versions this release reads.
READABLE = frozenset({1, 2})

#: What a pickle starts with (protocol 2 and later): the format stores held before.
_PICKLE = b"\x80"


class BadRecord(StoreUnavailable):
    """A stored record that is not a payment in this format; it was not loaded. The
    store cannot be used as it is: the message says how to fix it."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"refusing the stored record {key}: {problem}")


def encode_payment(p: Payment) -> bytes:
    return orjson.dumps({
        "v": VERSION, "id": p.id, "namespace": p.namespace, "provider": p.provider,
        "amount": p.amount, "currency": p.currency, "created": p.created,
        "status": p.status.value, "capture_manual": p.capture_manual,
        "amount_authorized": p.amount_authorized, "amount_captured": p.amount_captured,
        "amount_refunded": p.amount_refunded,
        "refunds": [{"id": r.id, "amount": r.amount, "created": r.created,
                     "status": r.status, "reason": r.reason, "metadata": r.metadata}
                    for r in p.refunds],
        "card": None if p.card is None else {
            "brand": p.card.brand, "last4": p.card.last4, "bin": p.card.bin,
            "exp_month": p.card.exp_month, "exp_year": p.card.exp_year,
            "funding": p.card.funding, "country": p.card.country,
            "fingerprint": p.card.fingerprint},
        "method": p.method, "decline": None if p.decline is None else p.decline.value,
        "decline_code": p.decline_code, "action": p.action, "then": _outcome(p.then),
        "metadata": p.metadata, "description": p.description, "extra": p.extra,
        "history": [[h.at, h.action, h.status.value, h.amount, h.detail] for h in p.history],
        "version": p.version,
        "disputes": [_dispute(d) for d in p.disputes],
        "credential": _credential(p.credential),
    }, default=_plain, option=orjson.OPT_NON_STR_KEYS)


def _credential(c: Credential | None) -> list[Any] | None:
    if c is None:
        return None
    return [c.initiator.value, None if c.mit_type is None else c.mit_type.value,
            c.network_transaction_id, c.original_network_transaction_id, c.stored_method,
            c.saves]


def _load_credential(raw: Any) -> Credential | None:
    if raw is None:
        return None
    initiator, mit_type, nti, original, stored, saves = _list(raw)
    return Credential(Initiator(initiator), None if mit_type is None else MitType(mit_type),
                      _opt_str(nti), _opt_str(original), _opt_str(stored), _bool(saves))


def decode_payment(raw: bytes, key: str) -> Payment:
    """The payment in `raw`, or BadRecord: never anything else."""
    if raw[:1] == _PICKLE:
        raise BadRecord(key, "it is a pickle, the format of paysandbox releases before "
                        "stored payments became data, which is never loaded (unpickling "
                        "runs code). Empty the store: `redis-cli --scan --pattern "
                        "'paysandbox:*' | xargs redis-cli unlink`, FLUSHDB on a Redis of "
                        "its own, or POST /__admin/reset.")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRecord(key, "it is not JSON; a store holds only what simulators write "
                        "(is another program writing under this prefix?)") from None
    version = doc.get("v") if isinstance(doc, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version not in READABLE:
        found = doc.get("v") if isinstance(doc, dict) else type(doc).__name__
        raise BadRecord(key, f"it is not a payment record of a version this release reads "
                        f"({', '.join(map(str, sorted(READABLE)))}; found {found!r}); reset "
                        "the store (POST /__admin/reset) to start afresh")
    try:
        return _payment(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadRecord(key, f"a field is missing or malformed ({type(exc).__name__}: "
                        f"{exc})") from None


def _payment(d: dict[str, Any]) -> Payment:
    card = d["card"]
    decline = d["decline"]
    return Payment(
        id=_str(d["id"]), namespace=_str(d["namespace"]), provider=_str(d["provider"]),
        amount=_int(d["amount"]), currency=_str(d["currency"]), created=_num(d["created"]),
        status=Status(d["status"]), capture_manual=_bool(d["capture_manual"]),
        amount_authorized=_int(d["amount_authorized"]),
        amount_captured=_int(d["amount_captured"]),
        amount_refunded=_int(d["amount_refunded"]),
        refunds=tuple(Refund(_str(r["id"]), _int(r["amount"]), _num(r["created"]),
                             _str(r["status"]), _opt_str(r["reason"]), _map(r["metadata"]))
                      for r in _list(d["refunds"])),
        card=None if card is None else CardDetails(
            _str(card["brand"]), _str(card["last4"]), _str(card["bin"]),
            _int(card["exp_month"]), _int(card["exp_year"]), _str(card["funding"]),
            _str(card["country"]), _str(card["fingerprint"])),
        method=_str(d["method"]), decline=None if decline is None else DeclineReason(decline),
        decline_code=_opt_str(d["decline_code"]), action=_opt_str(d["action"]),
        then=_load_outcome(d["then"]), metadata=_map(d["metadata"]),
        description=_opt_str(d["description"]), extra=_map(d["extra"]),
        history=tuple(HistoryEntry(_num(at), _str(action), Status(status),
                                   None if amount is None else _int(amount), _opt_str(detail))
                      for at, action, status, amount, detail in _list(d["history"])),
        version=_int(d["version"]),
        disputes=tuple(_load_dispute(x) for x in _list(d.get("disputes", []))),
        credential=_load_credential(d.get("credential")))


def _dispute(d: Dispute) -> dict[str, Any]:
    return {"id": d.id, "amount": d.amount, "reason": d.reason.value, "created": d.created,
            "evidence_due_by": d.evidence_due_by, "kind": d.kind.value,
            "status": d.status.value, "stage": d.stage.value, "evidence": d.evidence,
            "submissions": d.submissions, "ends": None if d.ends is None else d.ends.value,
            "decide_after": d.decide_after, "funds_withdrawn": d.funds_withdrawn,
            "funds_reinstated": d.funds_reinstated,
            "network_reason_code": d.network_reason_code, "metadata": d.metadata,
            "history": [[h.at, h.action, h.status.value] for h in d.history]}


def _load_dispute(x: Any) -> Dispute:
    if not isinstance(x, dict):
        raise TypeError(f"expected a dispute object, got {type(x).__name__}")
    ends = x["ends"]
    return Dispute(
        id=_str(x["id"]), amount=_int(x["amount"]), reason=DisputeReason(x["reason"]),
        created=_num(x["created"]), evidence_due_by=_num(x["evidence_due_by"]),
        kind=DisputeKind(x["kind"]), status=DisputeStatus(x["status"]),
        stage=DisputeStage(x["stage"]), evidence=_map(x["evidence"]),
        submissions=_int(x["submissions"]),
        ends=None if ends is None else DisputeStatus(ends),
        decide_after=_num(x["decide_after"]), funds_withdrawn=_bool(x["funds_withdrawn"]),
        funds_reinstated=_bool(x["funds_reinstated"]),
        network_reason_code=_opt_str(x["network_reason_code"]), metadata=_map(x["metadata"]),
        history=tuple(DisputeEntry(_num(at), _str(action), DisputeStatus(status))
                      for at, action, status in _list(x["history"])))


def _outcome(o: Outcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"kind": o.kind.value, "reason": None if o.reason is None else o.reason.value,
            "native_code": o.native_code, "action": o.action, "then": _outcome(o.then)}


def _load_outcome(d: Any, depth: int = 0) -> Outcome | None:
    if d is None:
        return None
    if depth > 8:  # an action leads into at most one more; anything deeper is not ours
        raise ValueError("outcomes nested too deep")
    reason = d["reason"]
    return Outcome(OutcomeKind(d["kind"]), None if reason is None else DeclineReason(reason),
                   _opt_str(d["native_code"]), _opt_str(d["action"]),
                   _load_outcome(d["then"], depth + 1))


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a payment")


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {type(v).__name__}")
    return v


def _opt_str(v: Any) -> str | None:
    return None if v is None else _str(v)


def _int(v: Any) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"expected an integer, got {type(v).__name__}")
    return v


def _num(v: Any) -> float:
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise TypeError(f"expected a number, got {type(v).__name__}")
    return float(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"expected true or false, got {type(v).__name__}")
    return v


def _list(v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise TypeError(f"expected a list, got {type(v).__name__}")
    return v


def _map(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise TypeError(f"expected an object, got {type(v).__name__}")
    return v
