"""`POST /__admin/payments/{id}/dispute`: open a dispute on a captured payment now, as
the cardholder's bank would, whatever provider took it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from paysandbox.core.commands import OpenDispute
from paysandbox.core.disputes import (
    DEFAULT_DECISION_DELAY,
    DEFAULT_EVIDENCE_WINDOW,
    Dispute,
    DisputeKind,
    DisputeStatus,
    UnknownDisputeReason,
    dispute_reason,
)
from paysandbox.core.payments import Payment

_FIELDS = frozenset({"reason", "amount", "kind", "evidence_window", "decide_after", "ends",
                     "network_reason_code"})


class BadDispute(ValueError):
    """A request body that names no dispute the simulator can open; the message says
    what to send instead."""


def open_command(p: Payment, data: Mapping[str, Any], new_id: str,
                 duration: Callable[[Any], float]) -> OpenDispute:
    """The command that opens the dispute `data` describes on `p`:
    `{reason, amount?, kind?, evidence_window?, decide_after?, ends?}`."""
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadDispute(f"Unknown field(s) {', '.join(unknown)}; a dispute takes "
                         f"{', '.join(sorted(_FIELDS))}.")
    try:
        reason = dispute_reason(data.get("reason", "fraudulent"))
    except UnknownDisputeReason as exc:
        raise BadDispute(str(exc)) from None
    amount = data.get("amount")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)
                               or amount <= 0):
        raise BadDispute("amount must be a positive integer in minor units (1999 for "
                         "19.99); leave it out to dispute all that is left.")
    kinds = [k.value for k in DisputeKind]
    if data.get("kind", "chargeback") not in kinds:
        raise BadDispute(f"kind must be one of {', '.join(kinds)}.")
    ends = data.get("ends")
    if ends is not None and ends not in ("won", "lost", "expired"):
        raise BadDispute("ends must be won or lost (how the dispute ends once evidence is "
                         "submitted and decided; leave it out: as the evidence says), or "
                         "expired (it opens with no time left to answer).")
    code = data.get("network_reason_code")
    if code is not None and not isinstance(code, str):
        raise BadDispute("network_reason_code must be a string (Visa's 10.4, "
                         "Mastercard's 4837).")
    window = 0.0 if ends == "expired" else \
        duration(data.get("evidence_window", DEFAULT_EVIDENCE_WINDOW))
    return OpenDispute(
        p.id, dispute_id=new_id, reason=reason, amount=amount,
        kind=DisputeKind(data.get("kind", "chargeback")), evidence_window=window,
        decide_after=duration(data.get("decide_after", DEFAULT_DECISION_DELAY)),
        ends=None if ends in (None, "expired") else DisputeStatus(ends),
        network_reason_code=code)


def dispute_json(d: Dispute) -> dict[str, Any]:
    return {"id": d.id, "kind": d.kind.value, "reason": d.reason.value, "amount": d.amount,
            "status": d.status.value, "stage": d.stage.value, "created": d.created,
            "evidence_due_by": d.evidence_due_by, "expired": d.expired,
            "submissions": d.submissions, "evidence": dict(d.evidence),
            "ends": None if d.ends is None else d.ends.value,
            "funds_withdrawn": d.funds_withdrawn, "funds_reinstated": d.funds_reinstated,
            "history": [{"at": h.at, "action": h.action, "status": h.status.value}
                        for h in d.history]}
