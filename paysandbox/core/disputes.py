"""Disputes: a cardholder contests a captured payment, weeks after it was made.

A dispute is kept on its payment (`Payment.disputes`) and every step is a pure function
from one payment to the next, so the store applies it with compare-and-set like any
other transition and the money invariant holds whatever the interleaving: what is
refunded plus what open or lost chargebacks hold never exceeds what was captured.

The life of one dispute, whatever provider renders it:

    needs_response --submit--> under_review --decide--> won | lost
          |  \\--accept--> accepted                     (won) --reopen--> needs_response
          \\--evidence_due_by passes--> lost (expired)           (second cycle)

An inquiry (a retrieval request) moves no money; a chargeback withdraws its amount when
it opens and gives it back when the merchant wins. A provider with a second cycle
(Adyen's second chargeback and pre-arbitration) reopens a won dispute at a later
`stage`: the funds are withdrawn again and a new evidence window opens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from paysandbox.core.payments import (
    AmountExceeded,
    HistoryEntry,
    Payment,
    PaymentError,
    Status,
    check_invariants,
)


class DisputeReason(StrEnum):
    """The canonical reasons; each provider maps them to its own words and, where it
    shows them, the card schemes' reason codes."""

    FRAUDULENT = "fraudulent"
    PRODUCT_NOT_RECEIVED = "product_not_received"
    PRODUCT_UNACCEPTABLE = "product_unacceptable"
    DUPLICATE = "duplicate"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    CREDIT_NOT_PROCESSED = "credit_not_processed"
    UNRECOGNIZED = "unrecognized"
    GENERAL = "general"


class DisputeKind(StrEnum):
    INQUIRY = "inquiry"  # the issuer asks; no money moves
    CHARGEBACK = "chargeback"  # the issuer takes the money back until the merchant wins


class DisputeStatus(StrEnum):
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    ACCEPTED = "accepted"


class DisputeStage(StrEnum):
    """Which cycle a dispute is in: most end after the first; some providers have a
    second one after the merchant won the first."""

    FIRST = "chargeback"
    SECOND_CHARGEBACK = "second_chargeback"
    PRE_ARBITRATION = "pre_arbitration"


#: How a dispute ends when it is decided: what a trigger may ask for (`ends:`).
ENDINGS = frozenset({DisputeStatus.WON, DisputeStatus.LOST, DisputeStatus.ACCEPTED})
CLOSED = ENDINGS
OPEN = frozenset({DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW})

#: Defaults when a trigger does not say: a week to answer (Stripe's test disputes give
#: about that), a decision an hour after the evidence is in (the sandboxes decide in
#: minutes; real networks take weeks: the clock can be advanced).
DEFAULT_EVIDENCE_WINDOW = 7 * 86400.0
DEFAULT_DECISION_DELAY = 3600.0


class UnknownDisputeReason(ValueError):
    def __init__(self, given: object) -> None:
        names = ", ".join(r.value for r in DisputeReason)
        super().__init__(f"Unknown dispute reason {given!r}; use one of: {names}.")


def dispute_reason(value: object) -> DisputeReason:
    try:
        return DisputeReason(str(value).lower())
    except ValueError:
        raise UnknownDisputeReason(value) from None


class DisputeError(PaymentError):
    """A dispute step that the dispute's state does not allow."""

    def __init__(self, payment: Payment, dispute_id: str, action: str, message: str) -> None:
        self.payment = payment
        self.dispute_id = dispute_id
        self.action = action
        super().__init__(message)


class NoSuchDispute(DisputeError):
    def __init__(self, payment: Payment, dispute_id: str, action: str) -> None:
        super().__init__(payment, dispute_id, action,
                         f"Payment {payment.id} has no dispute {dispute_id}.")


@dataclass(frozen=True, slots=True)
class DisputeEntry:
    at: float
    action: str  # opened, evidence, submitted, accepted, won, lost, expired, reopened
    status: DisputeStatus


@dataclass(frozen=True, slots=True)
class Dispute:
    id: str
    amount: int
    reason: DisputeReason
    created: float
    evidence_due_by: float
    kind: DisputeKind = DisputeKind.CHARGEBACK
    status: DisputeStatus = DisputeStatus.NEEDS_RESPONSE
    stage: DisputeStage = DisputeStage.FIRST
    #: Evidence as the provider's API took it (field -> text or file id), free-form.
    evidence: Mapping[str, Any] = field(default_factory=dict)
    submissions: int = 0
    #: How the trigger (a test value, a scenario rule, the admin API) wants it to end
    #: once decided; None: as the evidence says, else won.
    ends: DisputeStatus | None = None
    decide_after: float = DEFAULT_DECISION_DELAY
    funds_withdrawn: bool = False
    funds_reinstated: bool = False
    network_reason_code: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    history: tuple[DisputeEntry, ...] = ()

    @property
    def holds(self) -> int:
        """What this dispute keeps from the merchant: a chargeback's amount while it is
        open, lost or accepted; nothing for an inquiry or once won."""
        if self.kind is DisputeKind.CHARGEBACK and self.status is not DisputeStatus.WON:
            return self.amount
        return 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def expired(self) -> bool:
        return bool(self.history) and self.history[-1].action == "expired"


@dataclass(frozen=True, slots=True)
class DisputePlan:
    """A dispute to open later (a scenario rule's `dispute:`, a provider's test card):
    what it will be, and when after the capture it opens."""

    reason: DisputeReason = DisputeReason.FRAUDULENT
    after: float = 0.0
    kind: DisputeKind = DisputeKind.CHARGEBACK
    amount: int | None = None
    evidence_window: float = DEFAULT_EVIDENCE_WINDOW
    ends: DisputeStatus | None = None
    decide_after: float = DEFAULT_DECISION_DELAY
    network_reason_code: str | None = None


# -- on a payment ---------------------------------------------------------------------

#: Payments a dispute can be opened on: something was captured.
DISPUTABLE = frozenset({Status.CAPTURED, Status.PARTIALLY_REFUNDED, Status.REFUNDED})


def disputed(p: Payment) -> int:
    """What chargebacks on `p` hold."""
    return sum(d.holds for d in p.disputes)


def find(p: Payment, dispute_id: str, action: str) -> Dispute:
    for d in p.disputes:
        if d.id == dispute_id:
            return d
    raise NoSuchDispute(p, dispute_id, action)


def _step(p: Payment, new: Dispute, verb: str, now: float, *, moved: int | None = None
          ) -> Payment:
    """Put `new` in place of the dispute with its id, recorded in the payment's history
    (its status does not change: a disputed payment stays captured)."""
    entry = DisputeEntry(now, verb, new.status)
    new = dataclasses.replace(new, history=(*new.history, entry))
    found = False
    disputes = []
    for d in p.disputes:
        if d.id == new.id:
            disputes.append(new)
            found = True
        else:
            disputes.append(d)
    if not found:
        disputes.append(new)
    after = dataclasses.replace(
        p, disputes=tuple(disputes), version=p.version + 1,
        history=(*p.history, HistoryEntry(now, f"dispute_{verb}", p.status, moved, new.id)))
    check_invariants(after)
    return after


def open_dispute(p: Payment, dispute_id: str, now: float, *, reason: DisputeReason,
                 amount: int | None = None, kind: DisputeKind = DisputeKind.CHARGEBACK,
                 evidence_window: float = DEFAULT_EVIDENCE_WINDOW,
                 ends: DisputeStatus | None = None,
                 decide_after: float = DEFAULT_DECISION_DELAY,
                 network_reason_code: str | None = None) -> Payment:
    """The cardholder's bank opens a dispute on all or part of what was captured and is
    neither refunded nor already charged back. A chargeback withdraws its amount."""
    if p.status not in DISPUTABLE:
        raise DisputeError(p, dispute_id, "open",
                           f"Cannot dispute payment {p.id}: its status is {p.status.value}; "
                           "only a captured payment can be disputed.")
    if any(d.id == dispute_id for d in p.disputes):
        raise DisputeError(p, dispute_id, "open", f"Dispute {dispute_id} already exists.")
    available = p.amount_captured - p.amount_refunded - disputed(p)
    if kind is DisputeKind.INQUIRY:
        available = p.amount_captured - p.amount_refunded
    amount = available if amount is None else amount
    if amount <= 0 or amount > available:
        raise AmountExceeded(p, "dispute", amount, available)
    d = Dispute(id=dispute_id, amount=amount, reason=reason, created=now,
                evidence_due_by=now + max(0.0, evidence_window), kind=kind,
                ends=ends, decide_after=max(0.0, decide_after),
                funds_withdrawn=kind is DisputeKind.CHARGEBACK,
                network_reason_code=network_reason_code)
    return _step(p, d, "opened", now, moved=amount)


def update_evidence(p: Payment, dispute_id: str, now: float, *,
                    evidence: Mapping[str, Any] | None = None,
                    metadata: Mapping[str, str] | None = None, submit: bool = False,
                    ends: DisputeStatus | None = None) -> Payment:
    """Stage evidence (merged field by field) and metadata; with `submit`, send it to
    the issuer: the dispute goes under review. `ends` is what the provider read in the
    evidence (a test value that decides the outcome)."""
    d = find(p, dispute_id, "update")
    if not d.is_open:
        if evidence is None and not submit and metadata is not None:
            return _step(p, dataclasses.replace(d, metadata=dict(metadata)), "metadata", now)
        raise DisputeError(p, d.id, "update",
                           f"Dispute {d.id} is closed ({d.status.value}); its evidence "
                           "can no longer be changed.")
    if submit and d.status is DisputeStatus.UNDER_REVIEW:
        raise DisputeError(p, d.id, "submit",
                           f"Dispute {d.id}'s evidence was already submitted; it is under "
                           "review.")
    if (evidence is not None or submit) and now >= d.evidence_due_by:
        raise DisputeError(p, d.id, "update",
                           f"Dispute {d.id}'s evidence was due by {d.evidence_due_by:.0f} "
                           "(seconds since the epoch); it can no longer be answered.")
    if evidence is not None and d.status is DisputeStatus.UNDER_REVIEW:
        raise DisputeError(p, d.id, "update",
                           f"Dispute {d.id}'s evidence was already submitted; it can no "
                           "longer be changed.")
    changes: dict[str, Any] = {}
    if evidence is not None:
        changes["evidence"] = {**d.evidence, **evidence}
    if metadata is not None:
        changes["metadata"] = dict(metadata)
    if ends is not None:
        changes["ends"] = ends
    if submit:
        changes["status"] = DisputeStatus.UNDER_REVIEW
        changes["submissions"] = d.submissions + 1
    return _step(p, dataclasses.replace(d, **changes), "submitted" if submit else "evidence",
                 now)


def accept(p: Payment, dispute_id: str, now: float) -> Payment:
    """The merchant concedes: the funds stay with the cardholder."""
    d = find(p, dispute_id, "accept")
    if not d.is_open:
        raise DisputeError(p, d.id, "accept",
                           f"Dispute {d.id} is already closed ({d.status.value}).")
    return _step(p, dataclasses.replace(d, status=DisputeStatus.ACCEPTED), "accepted", now)


def resolve(p: Payment, dispute_id: str, now: float,
            outcome: DisputeStatus | None = None) -> Payment:
    """The issuer decides a dispute under review: `outcome`, else what its trigger or
    evidence asked for, else won (the merchant answered). Winning a chargeback gives the
    funds back."""
    d = find(p, dispute_id, "resolve")
    if d.status is not DisputeStatus.UNDER_REVIEW:
        raise DisputeError(p, d.id, "resolve",
                           f"Dispute {d.id} is {d.status.value}, not under review.")
    ending = outcome or d.ends or DisputeStatus.WON
    if ending not in ENDINGS:
        raise ValueError(f"a dispute ends won, lost or accepted, not {ending}")
    won = ending is DisputeStatus.WON
    new = dataclasses.replace(d, status=ending,
                              funds_reinstated=won and d.funds_withdrawn)
    return _step(p, new, ending.value, now, moved=d.amount if won else None)


def expire(p: Payment, dispute_id: str, now: float, *, due_by: float | None = None) -> Payment:
    """The evidence window closed without an answer: the dispute is lost. A dispute
    answered in time, or reopened with a later window than `due_by`, is left as it is."""
    d = find(p, dispute_id, "expire")
    if d.status is not DisputeStatus.NEEDS_RESPONSE:
        raise DisputeError(p, d.id, "expire",
                           f"Dispute {d.id} is {d.status.value}: nothing to expire.")
    if now < d.evidence_due_by or (due_by is not None and due_by != d.evidence_due_by):
        raise DisputeError(p, d.id, "expire",
                           f"Dispute {d.id}'s evidence is due by {d.evidence_due_by}.")
    return _step(p, dataclasses.replace(d, status=DisputeStatus.LOST), "expired", now)


#: Where a second cycle may start from.
REOPENABLE = frozenset({DisputeStatus.WON})


def reopen(p: Payment, dispute_id: str, now: float, *, stage: DisputeStage,
           evidence_window: float = DEFAULT_EVIDENCE_WINDOW) -> Payment:
    """The issuer contests the merchant's win (a second chargeback, pre-arbitration):
    the funds are withdrawn again and a new evidence window opens. An inquiry reopened
    becomes a chargeback."""
    d = find(p, dispute_id, "reopen")
    if d.status not in REOPENABLE:
        raise DisputeError(p, d.id, "reopen",
                           f"Dispute {d.id} is {d.status.value}; only a won dispute can go "
                           "to a second cycle.")
    if stage is DisputeStage.FIRST:
        raise DisputeError(p, d.id, "reopen", "A dispute reopens at a later stage: "
                           "second_chargeback or pre_arbitration.")
    available = p.amount_captured - p.amount_refunded - disputed(p)
    if d.amount > available:
        raise AmountExceeded(p, "dispute", d.amount, available)
    new = dataclasses.replace(
        d, status=DisputeStatus.NEEDS_RESPONSE, stage=stage, kind=DisputeKind.CHARGEBACK,
        evidence_due_by=now + max(0.0, evidence_window), ends=None, funds_withdrawn=True,
        funds_reinstated=False)
    return _step(p, new, "reopened", now, moved=d.amount)


# -- the card schemes' reason codes -----------------------------------------------------

#: Each canonical reason's usual chargeback reason code at the schemes whose codes
#: providers show (Visa Claims Resolution, Mastercard), for providers that render
#: `network_reason_code`, `chargebackReasonCode` and the like. An inquiry (a retrieval
#: request) carries the scheme's retrieval code instead.
SCHEME_REASON_CODES: Mapping[str, Mapping[DisputeReason, str]] = {
    "visa": {
        DisputeReason.FRAUDULENT: "10.4", DisputeReason.PRODUCT_NOT_RECEIVED: "13.1",
        DisputeReason.PRODUCT_UNACCEPTABLE: "13.3", DisputeReason.DUPLICATE: "12.6.1",
        DisputeReason.SUBSCRIPTION_CANCELED: "13.2",
        DisputeReason.CREDIT_NOT_PROCESSED: "13.6", DisputeReason.UNRECOGNIZED: "10.4",
        DisputeReason.GENERAL: "13.7"},
    "mastercard": {
        DisputeReason.FRAUDULENT: "4837", DisputeReason.PRODUCT_NOT_RECEIVED: "4855",
        DisputeReason.PRODUCT_UNACCEPTABLE: "4853", DisputeReason.DUPLICATE: "4834",
        DisputeReason.SUBSCRIPTION_CANCELED: "4841",
        DisputeReason.CREDIT_NOT_PROCESSED: "4860", DisputeReason.UNRECOGNIZED: "4863",
        DisputeReason.GENERAL: "4853"},
}
INQUIRY_CODES: Mapping[str, str] = {"visa": "10", "mastercard": "6305"}


def scheme_reason_code(d: Dispute, brand: str | None) -> str | None:
    """The dispute's own code when its trigger gave one, else the scheme's usual code
    for its reason (None for a scheme without a table here)."""
    if d.network_reason_code is not None:
        return d.network_reason_code
    scheme = (brand or "").lower()
    if d.kind is DisputeKind.INQUIRY:
        return INQUIRY_CODES.get(scheme)
    return SCHEME_REASON_CODES.get(scheme, {}).get(d.reason)


@runtime_checkable
class RendersDisputes(Protocol):
    """A provider whose API shows disputes: its ids are shaped as the provider shapes
    them. Triggers (scenario rules, the admin API, test values) open disputes only at
    such providers."""

    def new_dispute_id(self) -> str: ...


@runtime_checkable
class DefendsDisputes(Protocol):
    """A provider whose API takes no answer (Mollie) but reverses a dispute itself: it
    says which newly opened disputes it defends, and those go under review at once."""

    def defends_dispute(self, d: Dispute) -> bool: ...
