"""Payments, refunds and the lifecycle state machine.

Every transition is a pure function from one immutable `Payment` to the next, so a
store can apply it with compare-and-set and the invariants hold whatever the
interleaving: captured <= authorized, refunded + charged back <= captured, nothing
after void or expiry. Disputes on a payment are in paysandbox/core/disputes.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict

from paysandbox.core.credentials import Credential, without_customer
from paysandbox.core.outcomes import DeclineReason, Outcome, OutcomeKind

if TYPE_CHECKING:
    from paysandbox.core.disputes import Dispute


class Status(StrEnum):
    CREATED = "created"
    REQUIRES_ACTION = "requires_action"
    PENDING = "pending"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"
    EXPIRED = "expired"


# Where a payment may go from each status. FAILED is not terminal: as with Stripe's
# PaymentIntents, a declined attempt can be retried with another payment method.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.CREATED: frozenset(
        {Status.REQUIRES_ACTION, Status.PENDING, Status.AUTHORIZED, Status.CAPTURED,
         Status.FAILED, Status.VOIDED, Status.EXPIRED}
    ),
    Status.FAILED: frozenset(
        {Status.REQUIRES_ACTION, Status.PENDING, Status.AUTHORIZED, Status.CAPTURED,
         Status.FAILED, Status.VOIDED, Status.EXPIRED}
    ),
    # REQUIRES_ACTION again: one action leading into the next (a 3DS2 device fingerprint,
    # then a challenge).
    Status.REQUIRES_ACTION: frozenset(
        {Status.REQUIRES_ACTION, Status.PENDING, Status.AUTHORIZED, Status.CAPTURED,
         Status.FAILED, Status.VOIDED, Status.EXPIRED}
    ),
    Status.PENDING: frozenset(
        {Status.AUTHORIZED, Status.CAPTURED, Status.FAILED, Status.VOIDED, Status.EXPIRED}
    ),
    Status.AUTHORIZED: frozenset({Status.AUTHORIZED, Status.CAPTURED, Status.VOIDED,
                                  Status.EXPIRED}),
    Status.CAPTURED: frozenset({Status.PARTIALLY_REFUNDED, Status.REFUNDED}),
    Status.PARTIALLY_REFUNDED: frozenset({Status.PARTIALLY_REFUNDED, Status.REFUNDED}),
    Status.REFUNDED: frozenset(),
    Status.VOIDED: frozenset(),
    Status.EXPIRED: frozenset(),
}

#: Statuses from which a new authorization attempt may start.
ATTEMPTABLE = frozenset({Status.CREATED, Status.FAILED})


class PaymentError(Exception):
    """A command that the payment's current state does not allow."""


class NoSuchPayment(LookupError):
    """A command named a payment that does not exist (or no longer: retention)."""

    def __init__(self, namespace: str, key: str) -> None:
        self.namespace = namespace
        self.key = key
        super().__init__(f"No such object: {key}")


class InvalidTransition(PaymentError):
    def __init__(self, payment: Payment, action: str, allowed: frozenset[Status]) -> None:
        self.payment = payment
        self.action = action
        self.status = payment.status
        self.allowed = allowed
        names = ", ".join(sorted(s.value for s in allowed)) or "none"
        super().__init__(
            f"Cannot {action} payment {payment.id}: its status is {payment.status.value}; "
            f"allowed from: {names}."
        )


class AmountExceeded(PaymentError):
    def __init__(self, payment: Payment, action: str, requested: int, available: int) -> None:
        self.payment = payment
        self.action = action
        self.requested = requested
        self.available = available
        super().__init__(
            f"Cannot {action} {requested} on payment {payment.id}: only {available} is available."
        )


@dataclass(frozen=True, slots=True)
class CardDetails:
    """What a provider may show of a card: never the full number."""

    brand: str
    last4: str
    bin: str
    exp_month: int
    exp_year: int
    funding: str = "credit"
    country: str = "US"
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class Refund:
    id: str
    amount: int
    created: float
    status: str = "succeeded"
    reason: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: float
    action: str
    status: Status
    amount: int | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment as the simulator keeps it, whatever provider it came from.

    `extra` carries provider-specific fields the provider needs to render it (Stripe's
    client secret, the charge id, …); the engine never reads it.
    """

    id: str
    namespace: str
    provider: str
    amount: int
    currency: str
    created: float
    status: Status = Status.CREATED
    capture_manual: bool = False
    amount_authorized: int = 0
    amount_captured: int = 0
    amount_refunded: int = 0
    refunds: tuple[Refund, ...] = ()
    card: CardDetails | None = None
    method: str = "card"
    decline: DeclineReason | None = None
    decline_code: str | None = None
    action: str | None = None
    then: Outcome | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[HistoryEntry, ...] = ()
    version: int = 0
    disputes: tuple[Dispute, ...] = ()
    credential: Credential | None = None  # a saved card's use (core/credentials.py)

    @property
    def amount_capturable(self) -> int:
        return self.amount_authorized if self.status is Status.AUTHORIZED else 0

    @property
    def amount_refundable(self) -> int:
        """What is captured and neither refunded nor held by a chargeback (open, lost or
        accepted): what a refund may still return."""
        return self.amount_captured - self.amount_refunded - self.amount_disputed

    @property
    def amount_disputed(self) -> int:
        """What chargebacks on this payment hold (an inquiry, or a won one, none)."""
        return sum(d.holds for d in self.disputes) if self.disputes else 0

    def refund(self, refund_id: str) -> Refund | None:
        return next((r for r in self.refunds if r.id == refund_id), None)


_FIELDS = tuple(f.name for f in dataclasses.fields(Payment))
_set = object.__setattr__


def _replacer() -> Callable[[Payment, Mapping[str, Any]], Payment]:
    """dataclasses.replace without its generic machinery, unrolled over Payment's fields
    once at import: this runs on every state change."""
    lines = ["def _replace(p, changes):", "    new = _new(Payment)"]
    lines += [f"    _set(new, {name!r}, changes[{name!r}] if {name!r} in changes "
              f"else p.{name})" for name in _FIELDS]
    lines.append("    return new")
    scope: dict[str, Any] = {"_new": object.__new__, "_set": _set, "Payment": Payment}
    exec("\n".join(lines), scope)  # the code is made here, from the field names alone
    made: Callable[[Payment, Mapping[str, Any]], Payment] = scope["_replace"]
    return made


_replace = _replacer()


def _move(
    p: Payment, to: Status, verb: str, now: float, *, moved: int | None = None,
    detail: str | None = None, **changes: Any,
) -> Payment:
    """The one way a payment changes status: checked, recorded, versioned."""
    if to not in TRANSITIONS[p.status]:
        raise InvalidTransition(p, verb, frozenset(s for s in TRANSITIONS if to in TRANSITIONS[s]))
    changes["status"] = to
    changes["history"] = (*p.history, HistoryEntry(now, verb, to, moved, detail))
    changes["version"] = p.version + 1
    new = _replace(p, changes)
    _check_invariants(new)
    return new


class InvariantViolation(PaymentError):
    """A transition that would break an invariant: a bug, never a user error."""


def _check_invariants(p: Payment) -> None:
    if not 0 <= p.amount_captured <= p.amount_authorized:
        raise InvariantViolation(f"{p.id}: captured {p.amount_captured} > authorized")
    if not 0 <= p.amount_refunded <= p.amount_captured:
        raise InvariantViolation(f"{p.id}: refunded {p.amount_refunded} > captured")
    if p.disputes and p.amount_refunded + p.amount_disputed > p.amount_captured:
        raise InvariantViolation(f"{p.id}: refunded {p.amount_refunded} + charged back "
                                 f"{p.amount_disputed} > captured {p.amount_captured}")
    if sum(r.amount for r in p.refunds) != p.amount_refunded:
        raise InvariantViolation(f"{p.id}: refunds do not add up to amount_refunded")


check_invariants = _check_invariants


#: What a command may change on a payment besides its status (the engine's moves own
#: status, history and version).
CHANGEABLE = frozenset(_FIELDS) - {"id", "namespace", "provider", "status", "history",
                                   "version", "created", "disputes"}


class PaymentChanges(TypedDict, total=False):
    """The fields a provider's command may set on a payment, by name and type."""

    amount: int
    currency: str
    capture_manual: bool
    card: CardDetails | None
    method: str
    metadata: Mapping[str, str]
    description: str | None
    extra: Mapping[str, Any]
    credential: Credential | None


def _merged(p: Payment, changes: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` is merged key by key (a provider adds to it); other fields replace. A
    field the payment does not have is a bug in the caller, said at once rather than
    dropped."""
    unknown = changes.keys() - CHANGEABLE
    if unknown:
        raise TypeError(f"{p.id}: a command cannot change {', '.join(sorted(unknown))} "
                        f"(changeable: {', '.join(sorted(CHANGEABLE))})")
    if "extra" in changes:
        return {**changes, "extra": {**p.extra, **changes["extra"]}}
    return dict(changes)


def update(p: Payment, now: float, *, details_only: bool = False, **changes: Any) -> Payment:
    """Change details (amount, metadata, …) before any attempt is made; descriptive
    details alone (`details_only`) in any status."""
    if not details_only and p.status not in ATTEMPTABLE and p.status is not Status.REQUIRES_ACTION:
        raise InvalidTransition(p, "update", ATTEMPTABLE | {Status.REQUIRES_ACTION})
    entry = HistoryEntry(now, "update", p.status)
    new = _replace(p, {**_merged(p, changes), "history": (*p.history, entry),
                       "version": p.version + 1})
    _check_invariants(new)
    return new


def attempt(p: Payment, outcome: Outcome, now: float, **changes: Any) -> Payment:
    """Apply an authorization attempt's outcome: approve, decline, action or pending."""
    if p.status not in ATTEMPTABLE:
        raise InvalidTransition(p, "authorize", ATTEMPTABLE)
    merged = _merged(p, changes)
    credential = merged.get("credential", p.credential)
    if credential is not None and credential.merchant_initiated:
        outcome = without_customer(outcome, merged.get("card", p.card), now)
    return _settle(p, outcome, now, "authorize", merged)


def _settle(p: Payment, outcome: Outcome, now: float, verb: str,
            changes: Mapping[str, Any] | None = None) -> Payment:
    """Move to where `outcome` leads, applying `changes` in the same step."""
    c = dict(changes or {})
    kind = outcome.kind
    if kind is OutcomeKind.APPROVE:
        amount = c.get("amount", p.amount)
        c.update(amount_authorized=amount, decline=None, decline_code=None, action=None,
                 then=None)
        if c.get("capture_manual", p.capture_manual):
            return _move(p, Status.AUTHORIZED, verb, now, moved=amount, **c)
        return _move(p, Status.CAPTURED, verb, now, moved=amount, amount_captured=amount, **c)
    if kind is OutcomeKind.DECLINE:
        c.update(decline=outcome.reason, decline_code=outcome.native_code, action=None,
                 then=None)
        return _move(p, Status.FAILED, verb, now,
                     detail=outcome.native_code or str(outcome.reason), **c)
    if kind is OutcomeKind.REQUIRES_ACTION:
        c.update(action=outcome.action, then=outcome.then)
        return _move(p, Status.REQUIRES_ACTION, verb, now, detail=outcome.action, **c)
    c.update(then=outcome.then, action=None)
    return _move(p, Status.PENDING, verb, now, **c)


def complete_action(p: Payment, success: bool, now: float,
                    reason: DeclineReason | None = None, native_code: str | None = None,
                    *, chain: bool = False) -> Payment:
    """Finish a 3DS challenge, redirect or asynchronous approval: the shopper passed or
    failed it. A failure is an authentication failure unless `reason` says otherwise
    (an M-Pesa prompt can fail for insufficient funds). With `chain`, a passed action
    whose `then` is another action leads into it (a 3DS2 device fingerprint, then the
    challenge); without, it is approved."""
    if p.status not in (Status.REQUIRES_ACTION, Status.PENDING):
        raise InvalidTransition(p, "complete", frozenset({Status.REQUIRES_ACTION, Status.PENDING}))
    if not success:
        failed = Outcome.decline(reason or DeclineReason.AUTHENTICATION_FAILED,
                                 native_code=native_code)
        return _settle(p, failed, now, "complete")
    then = p.then or Outcome.approve()
    if chain and then.kind is OutcomeKind.REQUIRES_ACTION and p.status is Status.REQUIRES_ACTION:
        return _settle(p, then, now, "complete")
    if then.kind is OutcomeKind.REQUIRES_ACTION or (
            then.kind is OutcomeKind.PENDING and p.status is Status.PENDING):
        then = Outcome.approve()  # a step never leads into another step of its own kind
    return _settle(p, then, now, "complete")


def capture(p: Payment, amount: int | None, now: float) -> Payment:
    """Capture all or part of an authorization; the remainder is released."""
    if p.status is not Status.AUTHORIZED:
        raise InvalidTransition(p, "capture", frozenset({Status.AUTHORIZED}))
    amount = p.amount_authorized if amount is None else amount
    if amount <= 0 or amount > p.amount_authorized:
        raise AmountExceeded(p, "capture", amount, p.amount_authorized)
    return _move(p, Status.CAPTURED, "capture", now, moved=amount, amount_captured=amount)


def adjust(p: Payment, amount: int, now: float) -> Payment:
    """Change the amount held by an authorization (an incremental or decremental
    authorization: a hotel stay grows, an order shrinks before it ships)."""
    if p.status is not Status.AUTHORIZED:
        raise InvalidTransition(p, "adjust", frozenset({Status.AUTHORIZED}))
    if amount <= 0:
        raise AmountExceeded(p, "adjust", amount, p.amount_authorized)
    return _move(p, Status.AUTHORIZED, "adjust", now, moved=amount, amount=amount,
                 amount_authorized=amount)


def void(p: Payment, now: float, reason: str | None = None) -> Payment:
    if Status.VOIDED not in TRANSITIONS[p.status]:
        raise InvalidTransition(
            p, "void", frozenset(s for s, to in TRANSITIONS.items() if Status.VOIDED in to)
        )
    return _move(p, Status.VOIDED, "void", now, detail=reason, action=None, then=None)


#: Payments still waiting for the shopper: what a QR code or voucher running out ends.
UNFINISHED = frozenset({Status.CREATED, Status.REQUIRES_ACTION, Status.PENDING})


def expire(p: Payment, now: float, *, unfinished_only: bool = False) -> Payment:
    """Time ran out: an authorization hold lapsed, or (`unfinished_only`) the shopper
    never finished paying."""
    if unfinished_only and p.status not in UNFINISHED:
        raise InvalidTransition(p, "expire", UNFINISHED)
    return _move(p, Status.EXPIRED, "expire", now, action=None, then=None)


def refund(p: Payment, refund_id: str, amount: int | None, now: float, *,
           reason: str | None = None, metadata: Mapping[str, str] | None = None) -> Payment:
    """Refund all or part of what is captured and neither refunded nor held by a
    chargeback (as the providers refuse a refund of disputed funds); may repeat."""
    if p.status not in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
        raise InvalidTransition(p, "refund",
                                frozenset({Status.CAPTURED, Status.PARTIALLY_REFUNDED}))
    available = p.amount_refundable
    amount = available if amount is None else amount
    if amount <= 0 or amount > available:
        raise AmountExceeded(p, "refund", amount, available)
    total = p.amount_refunded + amount
    to = Status.REFUNDED if total == p.amount_captured else Status.PARTIALLY_REFUNDED
    r = Refund(refund_id, amount, now, reason=reason, metadata=dict(metadata or {}))
    return _move(p, to, "refund", now, moved=amount, amount_refunded=total,
                 refunds=(*p.refunds, r), detail=refund_id)
