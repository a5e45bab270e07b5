"""Canonical commands: what a provider's route asks the engine to do.

Small frozen dataclasses; `operation` is the name scenarios match on. A provider
turns its wire request into one of these and renders the `Result`; the engine never
learns a provider's vocabulary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from paysandbox.core.credentials import Credential
from paysandbox.core.disputes import (
    DEFAULT_DECISION_DELAY,
    DEFAULT_EVIDENCE_WINDOW,
    Dispute,
    DisputeKind,
    DisputePlan,
    DisputeReason,
    DisputeStage,
    DisputeStatus,
)
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import Payment, PaymentChanges, Refund, Status

#: Every canonical operation, by name, with the command that carries it: the one
#: vocabulary scenarios match on (`match: {operation: …}`); scenario.schema.json's enum is
#: checked against it (tests/unit/test_operations.py).
OPERATIONS: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Record:
    """A provider's own object (a payment method, a hosted page's token), saved in the
    same atomic step as the state change that made it."""

    kind: str
    id: str
    value: Mapping[str, Any]
    namespace: str | None = None  # another namespace (the hosted pages'); else the command's


@dataclass(frozen=True, slots=True)
class Writes:
    """What a command writes beside the payment, applied with its transition as one unit
    (one compare-and-set in memory, one script call on Redis): never a payment without
    its charge alias, never a challenge page without its payment."""

    aliases: tuple[str, ...] = ()  # other ids that resolve to the payment
    records: tuple[Record, ...] = ()
    # Written only when the payment then waits for the shopper (a challenge's token).
    on_action: tuple[Record, ...] = ()

    def records_for(self, after: Payment) -> tuple[Record, ...]:
        if self.on_action and after.status is Status.REQUIRES_ACTION:
            return (*self.records, *self.on_action)
        return self.records

    def __bool__(self) -> bool:
        return bool(self.aliases or self.records or self.on_action)


NO_WRITES = Writes()


@dataclass(frozen=True, slots=True)
class Command:
    operation: ClassVar[str] = ""
    payment_id: str
    writes: Writes = field(default=NO_WRITES, kw_only=True)

    def __init_subclass__(cls) -> None:  # (no zero-argument super() in a slots dataclass)
        name = cls.__dict__.get("operation")
        if not name:
            return
        known = OPERATIONS.setdefault(name, cls.__qualname__)
        if known != cls.__qualname__:  # (dataclass(slots=True) makes each class twice)
            raise TypeError(f"operation {name!r} is {known}'s already; {cls.__qualname__} "
                            "needs a name of its own")


@dataclass(frozen=True, slots=True)
class Create(Command):
    """Register a payment without attempting it yet."""

    operation: ClassVar[str] = "create"
    payment: Payment


@dataclass(frozen=True, slots=True)
class Authorize(Command):
    """Attempt a payment. `outcome` is what the provider's magic test values say."""

    operation: ClassVar[str] = "authorize"
    outcome: Outcome | None = None
    changes: PaymentChanges = field(default_factory=lambda: PaymentChanges())
    create: Payment | None = None


@dataclass(frozen=True, slots=True)
class Update(Command):
    operation: ClassVar[str] = "update"
    changes: PaymentChanges = field(default_factory=lambda: PaymentChanges())
    # Only descriptive details (metadata, description, …) change: allowed in any status,
    # where a provider allows that (Stripe does).
    details_only: bool = False


@dataclass(frozen=True, slots=True)
class Complete(Command):
    """A shopper finished (or failed) a 3DS challenge, redirect or async approval."""

    operation: ClassVar[str] = "complete"
    success: bool = True
    reason: DeclineReason | None = None  # why it failed, when not authentication
    native_code: str | None = None  # the provider's own code for that failure
    chain: bool = False  # a passed action may lead into the next action its `then` names


@dataclass(frozen=True, slots=True)
class Expire(Command):
    """An unfinished payment ran out of time (a QR code, a voucher, a prompt); a
    payment that has moved on is left as it is (InvalidTransition)."""

    operation: ClassVar[str] = "expire"


@dataclass(frozen=True, slots=True)
class Capture(Command):
    operation: ClassVar[str] = "capture"
    amount: int | None = None


@dataclass(frozen=True, slots=True)
class Adjust(Command):
    """Change the amount an authorization holds (Adyen's amountUpdates)."""

    operation: ClassVar[str] = "adjust"
    amount: int = 0


@dataclass(frozen=True, slots=True)
class Void(Command):
    operation: ClassVar[str] = "void"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RefundPayment(Command):
    operation: ClassVar[str] = "refund"
    refund_id: str = ""
    amount: int | None = None
    reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Renew(Command):
    """A provider's subscription (a mandate charged on a schedule) is due: the provider's
    `Renews` hook (providers/hooks.py) turns it into the period's merchant-initiated
    payment, `payment_id`, and says when the next one is due. `plan` names the
    subscription, `sequence` counts its periods from 1."""

    operation: ClassVar[str] = "renew"
    plan: str = ""
    sequence: int = 1


@dataclass(frozen=True, slots=True)
class Settle(Command):
    """A day of an account's funds became available (`day`, 00:00 UTC) and was paid out,
    or (`arrived`) that payout reached the bank: the provider's `Settles` hook
    (providers/hooks.py) says what it announces (a payout, a settlement report).
    `payment_id` is the payment whose capture was the day's first."""

    operation: ClassVar[str] = "settle"
    day: float = 0.0
    arrived: bool = False


@dataclass(frozen=True, slots=True)
class Retrieve(Command):
    operation: ClassVar[str] = "retrieve"


@dataclass(frozen=True, slots=True)
class Listing(Command):
    """A read that changes nothing and names no one payment (lists, events)."""

    operation: ClassVar[str] = "list"


# -- disputes (paysandbox/core/disputes.py) --------------------------------------------

@dataclass(frozen=True, slots=True)
class DisputeStep(Command):
    """A command on one dispute of a payment."""

    dispute_id: str = ""


@dataclass(frozen=True, slots=True)
class OpenDispute(DisputeStep):
    """The cardholder's bank disputes a captured payment. The engine links `dispute_id`
    to the payment and schedules the evidence deadline."""

    operation: ClassVar[str] = "open_dispute"
    reason: DisputeReason = DisputeReason.GENERAL
    amount: int | None = None  # None: all that is captured, unrefunded, undisputed
    kind: DisputeKind = DisputeKind.CHARGEBACK
    evidence_window: float = DEFAULT_EVIDENCE_WINDOW
    ends: DisputeStatus | None = None
    decide_after: float = DEFAULT_DECISION_DELAY
    network_reason_code: str | None = None

    @classmethod
    def planned(cls, payment_id: str, dispute_id: str, plan: DisputePlan) -> OpenDispute:
        return cls(payment_id, dispute_id=dispute_id, reason=plan.reason, amount=plan.amount,
                   kind=plan.kind, evidence_window=plan.evidence_window, ends=plan.ends,
                   decide_after=plan.decide_after,
                   network_reason_code=plan.network_reason_code)


@dataclass(frozen=True, slots=True)
class UpdateDispute(DisputeStep):
    """Stage evidence and metadata; `submit` sends it (the engine then schedules the
    decision). `ends`: the outcome the provider's evidence test values ask for."""

    operation: ClassVar[str] = "update_dispute"
    evidence: Mapping[str, Any] | None = None
    metadata: Mapping[str, str] | None = None
    submit: bool = False
    ends: DisputeStatus | None = None


@dataclass(frozen=True, slots=True)
class AcceptDispute(DisputeStep):
    operation: ClassVar[str] = "accept_dispute"


@dataclass(frozen=True, slots=True)
class ResolveDispute(DisputeStep):
    """The issuer's decision on submitted evidence (None: as the dispute's trigger or
    evidence asked, else won)."""

    operation: ClassVar[str] = "resolve_dispute"
    outcome: DisputeStatus | None = None


@dataclass(frozen=True, slots=True)
class ExpireDispute(DisputeStep):
    """The evidence window of `dispute_id` closed (scheduled at its `due_by`)."""

    operation: ClassVar[str] = "expire_dispute"
    due_by: float | None = None


@dataclass(frozen=True, slots=True)
class ReopenDispute(DisputeStep):
    """A second cycle on a won dispute (a second chargeback, pre-arbitration)."""

    operation: ClassVar[str] = "reopen_dispute"
    stage: DisputeStage = DisputeStage.SECOND_CHARGEBACK
    evidence_window: float = DEFAULT_EVIDENCE_WINDOW


@dataclass(frozen=True, slots=True)
class Result:
    payment: Payment
    previous: Payment | None = None
    outcome: Outcome | None = None
    refund: Refund | None = None
    dispute: Dispute | None = None  # the dispute a dispute command acted on, as it is now
    previous_dispute: Dispute | None = None  # and as it was (None: it was just opened)

    @staticmethod
    def of(before: Payment | None, after: Payment) -> Result:
        """A state change's result from the payment before (None: created) and after."""
        return Result(after, before)


def credential_facts(command: Command, payment: Payment | None) -> dict[str, Any]:
    """Who initiated a payment, for scenario rules (`initiator`, `mit_type`): from the
    credential an authorization sets or creates its payment with, else the payment's."""
    credential: Credential | None = None
    if isinstance(command, Authorize):
        credential = command.changes.get("credential") or (
            command.create.credential if command.create is not None else None)
    if credential is None and payment is not None:
        credential = payment.credential
    if credential is None:
        return {"initiator": "customer"}
    return {"initiator": credential.initiator.value,
            "mit_type": None if credential.mit_type is None else credential.mit_type.value}
