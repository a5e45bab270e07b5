"""The payment lifecycle: what each command does, what it refuses, and the invariants
no sequence of commands can break."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from paysandbox.core import payments
from paysandbox.core.outcomes import DeclineReason, Outcome, OutcomeKind
from paysandbox.core.payments import (
    AmountExceeded,
    InvalidTransition,
    InvariantViolation,
    Payment,
    PaymentError,
    Status,
)

NOW = 1_700_000_000.0
TERMINAL = {Status.VOIDED, Status.EXPIRED, Status.REFUNDED}


def new_payment(amount: int = 1000, *, manual: bool = False, **fields: Any) -> Payment:
    return Payment(id="pay_1", namespace="ns", provider="stripe", amount=amount,
                   currency="USD", created=NOW, capture_manual=manual, **fields)


def authorized(amount: int = 1000) -> Payment:
    return payments.attempt(new_payment(amount, manual=True), Outcome.approve(), NOW)


def captured(amount: int = 1000) -> Payment:
    return payments.attempt(new_payment(amount), Outcome.approve(), NOW)


# -- happy paths ----------------------------------------------------------------------

def test_approved_attempt_with_automatic_capture_is_captured() -> None:
    p = payments.attempt(new_payment(1500), Outcome.approve(), NOW)
    assert p.status is Status.CAPTURED
    assert (p.amount_authorized, p.amount_captured, p.amount_refunded) == (1500, 1500, 0)
    assert p.amount_refundable == 1500
    assert p.amount_capturable == 0
    assert p.version == 1
    assert [h.action for h in p.history] == ["authorize"]


def test_approved_attempt_with_manual_capture_is_authorized_then_captured_in_full() -> None:
    p = payments.attempt(new_payment(1500, manual=True), Outcome.approve(), NOW)
    assert p.status is Status.AUTHORIZED
    assert (p.amount_authorized, p.amount_captured) == (1500, 0)
    assert p.amount_capturable == 1500

    c = payments.capture(p, None, NOW + 1)
    assert c.status is Status.CAPTURED
    assert c.amount_captured == 1500
    assert c.amount_capturable == 0
    assert c.amount_refundable == 1500


def test_partial_capture_releases_the_rest() -> None:
    c = payments.capture(authorized(1000), 600, NOW)
    assert c.status is Status.CAPTURED
    assert c.amount_captured == 600
    assert c.amount_refundable == 600
    with pytest.raises(InvalidTransition):  # the remainder cannot be captured later
        payments.capture(c, 400, NOW)


def test_partial_refunds_then_the_rest_makes_it_refunded() -> None:
    p = captured(1000)
    p = payments.refund(p, "re_1", 300, NOW, reason="requested_by_customer",
                        metadata={"ticket": "42"})
    assert p.status is Status.PARTIALLY_REFUNDED
    assert p.amount_refunded == 300
    assert p.amount_refundable == 700
    p = payments.refund(p, "re_2", 200, NOW)
    assert p.status is Status.PARTIALLY_REFUNDED
    assert p.amount_refunded == 500
    p = payments.refund(p, "re_3", None, NOW)  # None: whatever is left
    assert p.status is Status.REFUNDED
    assert p.amount_refunded == 1000
    assert p.amount_refundable == 0
    assert [(r.id, r.amount) for r in p.refunds] == [("re_1", 300), ("re_2", 200), ("re_3", 500)]
    first = p.refund("re_1")
    assert first is not None
    assert first.reason == "requested_by_customer"
    assert dict(first.metadata) == {"ticket": "42"}
    assert p.refund("re_missing") is None


def test_a_single_full_refund_makes_it_refunded() -> None:
    p = payments.refund(captured(1000), "re_1", 1000, NOW)
    assert p.status is Status.REFUNDED
    assert p.amount_refunded == p.amount_captured == 1000


def test_refund_of_a_partial_capture_is_bounded_by_what_was_captured() -> None:
    p = payments.capture(authorized(1000), 400, NOW)
    with pytest.raises(AmountExceeded) as info:
        payments.refund(p, "re_1", 401, NOW)
    assert (info.value.requested, info.value.available) == (401, 400)
    assert payments.refund(p, "re_1", None, NOW).status is Status.REFUNDED


@pytest.mark.parametrize("make", [
    lambda: new_payment(),
    lambda: authorized(),
    lambda: payments.attempt(new_payment(), Outcome.decline("do_not_honor"), NOW),
    lambda: payments.attempt(new_payment(), Outcome.requires_action(), NOW),
    lambda: payments.attempt(new_payment(), Outcome.pending(), NOW),
], ids=["created", "authorized", "failed", "requires_action", "pending"])
def test_void_is_allowed_before_any_money_moved(make: Callable[[], Payment]) -> None:
    before = make()
    p = payments.void(before, NOW, reason="requested_by_customer")
    assert p.status is Status.VOIDED
    assert p.amount_captured == 0
    assert p.action is None and p.then is None
    assert p.history[-1].action == "void"
    assert p.history[-1].detail == "requested_by_customer"


@pytest.mark.parametrize("reason", ["insufficient_funds", "expired_card", "fraudulent"])
def test_decline_fails_the_attempt_and_a_retry_is_allowed(reason: str) -> None:
    failed = payments.attempt(new_payment(), Outcome.decline(reason), NOW)
    assert failed.status is Status.FAILED
    assert failed.decline is DeclineReason(reason)
    assert (failed.amount_authorized, failed.amount_captured) == (0, 0)

    retried = payments.attempt(failed, Outcome.approve(), NOW + 1)
    assert retried.status is Status.CAPTURED
    assert retried.decline is None
    assert retried.decline_code is None
    assert retried.amount_captured == 1000


def test_a_native_decline_code_is_kept() -> None:
    p = payments.attempt(new_payment(), Outcome.decline("generic_decline", native_code="05"), NOW)
    assert p.status is Status.FAILED
    assert p.decline_code == "05"


def test_a_failed_payment_can_be_declined_again() -> None:
    p = payments.attempt(new_payment(), Outcome.decline("insufficient_funds"), NOW)
    p = payments.attempt(p, Outcome.decline("expired_card"), NOW)
    assert p.status is Status.FAILED
    assert p.decline is DeclineReason.EXPIRED_CARD


def test_attempt_applies_changes_such_as_a_new_payment_method() -> None:
    p = new_payment(extra={"client_secret": "cs"})
    p = payments.attempt(p, Outcome.approve(), NOW, extra={"payment_method": "pm_1"},
                         metadata={"order": "7"})
    assert dict(p.extra) == {"client_secret": "cs", "payment_method": "pm_1"}
    assert dict(p.metadata) == {"order": "7"}


def test_requires_action_then_success_approves() -> None:
    p = payments.attempt(new_payment(), Outcome.requires_action("three_ds_challenge"), NOW)
    assert p.status is Status.REQUIRES_ACTION
    assert p.action == "three_ds_challenge"
    done = payments.complete_action(p, True, NOW)
    assert done.status is Status.CAPTURED
    assert done.action is None
    assert done.amount_captured == 1000


def test_requires_action_with_manual_capture_becomes_authorized() -> None:
    p = payments.attempt(new_payment(manual=True), Outcome.requires_action(), NOW)
    assert payments.complete_action(p, True, NOW).status is Status.AUTHORIZED


def test_requires_action_then_failure_is_an_authentication_failure() -> None:
    p = payments.attempt(new_payment(), Outcome.requires_action(), NOW)
    done = payments.complete_action(p, False, NOW)
    assert done.status is Status.FAILED
    assert done.decline is DeclineReason.AUTHENTICATION_FAILED
    assert done.action is None
    # and the shopper may try again
    assert payments.attempt(done, Outcome.approve(), NOW).status is Status.CAPTURED


def test_then_outcome_applies_after_the_action_succeeds() -> None:
    outcome = Outcome.requires_action(then=Outcome.decline("insufficient_funds"))
    p = payments.attempt(new_payment(), outcome, NOW)
    assert p.status is Status.REQUIRES_ACTION
    done = payments.complete_action(p, True, NOW)
    assert done.status is Status.FAILED
    assert done.decline is DeclineReason.INSUFFICIENT_FUNDS
    assert done.then is None


def test_action_then_pending_then_approved() -> None:
    outcome = Outcome.requires_action("redirect", then=Outcome.pending())
    p = payments.attempt(new_payment(), outcome, NOW)
    p = payments.complete_action(p, True, NOW)
    assert p.status is Status.PENDING
    p = payments.complete_action(p, True, NOW)
    assert p.status is Status.CAPTURED


def test_pending_then_decline() -> None:
    p = payments.attempt(new_payment(), Outcome.pending(then=Outcome.decline("do_not_honor")),
                         NOW)
    assert p.status is Status.PENDING
    p = payments.complete_action(p, True, NOW)
    assert p.status is Status.FAILED
    assert p.decline is DeclineReason.DO_NOT_HONOR


def test_an_action_never_chains_into_another_action() -> None:
    p = payments.attempt(new_payment(),
                         Outcome.requires_action(then=Outcome.requires_action("redirect")), NOW)
    assert payments.complete_action(p, True, NOW).status is Status.CAPTURED


def test_a_chained_completion_leads_into_the_next_action() -> None:
    outcome = Outcome.requires_action(
        "three_ds_fingerprint",
        then=Outcome.requires_action("three_ds_challenge",
                                     then=Outcome.decline("insufficient_funds")))
    p = payments.attempt(new_payment(), outcome, NOW)
    challenged = payments.complete_action(p, True, NOW, chain=True)
    assert challenged.status is Status.REQUIRES_ACTION
    assert challenged.action == "three_ds_challenge"
    assert challenged.then == Outcome.decline("insufficient_funds")
    assert challenged.version == p.version + 1
    assert challenged.history[-1].action == "complete"
    done = payments.complete_action(challenged, True, NOW, chain=True)
    assert done.status is Status.FAILED
    assert done.decline is DeclineReason.INSUFFICIENT_FUNDS


def test_a_chained_completion_with_no_further_action_settles() -> None:
    p = payments.attempt(new_payment(), Outcome.requires_action("three_ds_fingerprint"), NOW)
    assert payments.complete_action(p, True, NOW, chain=True).status is Status.CAPTURED
    failed = payments.complete_action(
        payments.attempt(new_payment(), Outcome.requires_action(
            then=Outcome.requires_action("three_ds_challenge")), NOW), False, NOW, chain=True)
    assert failed.status is Status.FAILED
    assert failed.decline is DeclineReason.AUTHENTICATION_FAILED


def test_a_chained_completion_never_turns_a_pending_payment_into_an_action() -> None:
    p = payments.attempt(new_payment(), Outcome.pending(then=Outcome.requires_action()), NOW)
    assert payments.complete_action(p, True, NOW, chain=True).status is Status.CAPTURED


def test_update_before_an_attempt_changes_details_and_merges_extra() -> None:
    p = new_payment(extra={"a": 1})
    u = payments.update(p, NOW, amount=2500, description="x", extra={"b": 2})
    assert u.status is Status.CREATED
    assert u.amount == 2500
    assert u.description == "x"
    assert dict(u.extra) == {"a": 1, "b": 2}
    assert u.version == p.version + 1
    assert payments.attempt(u, Outcome.approve(), NOW).amount_captured == 2500


def test_expire_an_authorization() -> None:
    p = payments.expire(authorized(), NOW)
    assert p.status is Status.EXPIRED
    assert p.amount_capturable == 0


def test_history_records_every_step_in_order() -> None:
    p = authorized(1000)
    p = payments.capture(p, 800, NOW + 1)
    p = payments.refund(p, "re_1", 100, NOW + 2)
    assert [(h.action, h.status, h.amount) for h in p.history] == [
        ("authorize", Status.AUTHORIZED, 1000),
        ("capture", Status.CAPTURED, 800),
        ("refund", Status.PARTIALLY_REFUNDED, 100),
    ]
    assert [h.at for h in p.history] == [NOW, NOW + 1, NOW + 2]
    assert p.version == 3


# -- refusals -------------------------------------------------------------------------

def test_capture_twice_is_an_invalid_transition() -> None:
    c = payments.capture(authorized(), None, NOW)
    with pytest.raises(InvalidTransition) as info:
        payments.capture(c, None, NOW)
    assert info.value.status is Status.CAPTURED
    assert info.value.allowed == frozenset({Status.AUTHORIZED})
    assert "capture" in str(info.value) and "captured" in str(info.value)


@pytest.mark.parametrize("make", [
    lambda: new_payment(),
    lambda: authorized(),
    lambda: payments.attempt(new_payment(), Outcome.decline("do_not_honor"), NOW),
    lambda: payments.attempt(new_payment(), Outcome.requires_action(), NOW),
    lambda: payments.attempt(new_payment(), Outcome.pending(), NOW),
], ids=["created", "authorized", "failed", "requires_action", "pending"])
def test_refund_before_capture_is_an_invalid_transition(make: Callable[[], Payment]) -> None:
    with pytest.raises(InvalidTransition):
        payments.refund(make(), "re_1", None, NOW)


def test_capture_of_an_uncaptured_auto_capture_payment_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        payments.capture(new_payment(), None, NOW)


def test_an_attempt_after_success_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        payments.attempt(captured(), Outcome.approve(), NOW)
    with pytest.raises(InvalidTransition):
        payments.attempt(authorized(), Outcome.approve(), NOW)


def test_void_after_capture_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        payments.void(captured(), NOW)


def test_complete_without_an_action_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        payments.complete_action(new_payment(), True, NOW)
    with pytest.raises(InvalidTransition):
        payments.complete_action(authorized(), True, NOW)


def test_update_after_authorization_is_refused() -> None:
    with pytest.raises(InvalidTransition):
        payments.update(authorized(), NOW, amount=1)


_EVERY_COMMAND: dict[str, Callable[[Payment], Payment]] = {
    "attempt": lambda p: payments.attempt(p, Outcome.approve(), NOW),
    "complete": lambda p: payments.complete_action(p, True, NOW),
    "fail_action": lambda p: payments.complete_action(p, False, NOW),
    "capture": lambda p: payments.capture(p, None, NOW),
    "void": lambda p: payments.void(p, NOW),
    "expire": lambda p: payments.expire(p, NOW),
    "refund": lambda p: payments.refund(p, "re_x", None, NOW),
    "update": lambda p: payments.update(p, NOW, description="late"),
}

_ENDED: dict[str, Callable[[], Payment]] = {
    "voided": lambda: payments.void(authorized(), NOW),
    "voided_before_attempt": lambda: payments.void(new_payment(), NOW),
    "expired": lambda: payments.expire(authorized(), NOW),
    "expired_before_attempt": lambda: payments.expire(new_payment(), NOW),
    "refunded": lambda: payments.refund(captured(), "re_1", None, NOW),
}


@pytest.mark.parametrize("command", sorted(_EVERY_COMMAND))
@pytest.mark.parametrize("ended", sorted(_ENDED))
def test_nothing_is_allowed_after_void_expiry_or_full_refund(ended: str, command: str) -> None:
    p = _ENDED[ended]()
    snapshot = copy.deepcopy(p)
    with pytest.raises(InvalidTransition):
        _EVERY_COMMAND[command](p)
    assert p == snapshot


@pytest.mark.parametrize("amount", [1001, 10**9])
def test_capture_more_than_authorized_is_amount_exceeded(amount: int) -> None:
    with pytest.raises(AmountExceeded) as info:
        payments.capture(authorized(1000), amount, NOW)
    assert (info.value.requested, info.value.available) == (amount, 1000)
    assert info.value.action == "capture"


@pytest.mark.parametrize("amount", [0, -1, -1000])
def test_capture_of_zero_or_negative_is_refused(amount: int) -> None:
    with pytest.raises(AmountExceeded):
        payments.capture(authorized(1000), amount, NOW)


@pytest.mark.parametrize("amount", [0, -1, 1001])
def test_refund_of_zero_negative_or_too_much_is_refused(amount: int) -> None:
    with pytest.raises(AmountExceeded) as info:
        payments.refund(captured(1000), "re_1", amount, NOW)
    assert info.value.action == "refund"
    assert info.value.available == 1000


def test_refund_beyond_what_is_left_after_earlier_refunds_is_refused() -> None:
    p = payments.refund(captured(1000), "re_1", 700, NOW)
    with pytest.raises(AmountExceeded) as info:
        payments.refund(p, "re_2", 301, NOW)
    assert info.value.available == 300


def test_refused_commands_leave_the_payment_untouched() -> None:
    p = payments.refund(captured(1000), "re_1", 700, NOW)
    snapshot = copy.deepcopy(p)
    for bad in (lambda: payments.refund(p, "re_2", 301, NOW),
                lambda: payments.capture(p, None, NOW),
                lambda: payments.void(p, NOW)):
        with pytest.raises(PaymentError):
            bad()
    assert p == snapshot


# -- invariants under any sequence ----------------------------------------------------

_leaf = st.sampled_from([
    Outcome.approve(),
    Outcome.decline("insufficient_funds"),
    Outcome.decline("do_not_honor", native_code="05"),
])
_pending = st.builds(lambda then: Outcome.pending(then=then), st.none() | _leaf)
_action = st.builds(lambda then: Outcome.requires_action(then=then),
                    st.none() | _leaf | _pending)
outcomes = _leaf | _pending | _action
# An amount: none (all of it), any number, or one close to the current limit, where
# off-by-one mistakes live.
AmountSpec = int | tuple[str, int] | None
starts = st.sampled_from(["created", "failed", "requires_action", "pending", "authorized",
                          "captured", "partially_refunded"])
amounts = st.one_of(st.none(), st.sampled_from([0, -1, 1]),
                    st.integers(min_value=-5, max_value=2500),
                    st.tuples(st.just("limit"), st.integers(min_value=-2, max_value=2)))


def resolve(spec: AmountSpec, limit: int) -> int | None:
    if isinstance(spec, tuple):
        return limit + spec[1]
    return spec


class PaymentLifecycle(RuleBasedStateMachine):
    """Drives one payment through random commands, checking each against a model of
    what must be allowed and that invariants hold after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.p = new_payment(1000)
        self.refund_count = 0

    def _fresh(self, start: str, amount: int, then: Outcome | None, part: int) -> None:
        manual = start == "authorized"
        p = new_payment(amount, manual=manual)
        if start in ("authorized", "captured", "partially_refunded"):
            p = payments.attempt(p, Outcome.approve(), NOW)
        elif start == "failed":
            p = payments.attempt(p, Outcome.decline("insufficient_funds"), NOW)
        elif start == "requires_action":
            p = payments.attempt(p, Outcome.requires_action(then=then), NOW)
        elif start == "pending":
            p = payments.attempt(p, Outcome.pending(then=then if then is None or
                                                    then.kind is not OutcomeKind.PENDING
                                                    else None), NOW)
        if start == "partially_refunded" and amount > 1:
            p = payments.refund(p, "re_0", 1 + part % (amount - 1), NOW)
        self.p = p

    # Start anywhere in the lifecycle, equally often, so that every status is explored:
    # most commands leave a status after one step.
    @initialize(start=starts, amount=st.integers(min_value=1, max_value=2000),
                then=st.none() | _leaf | _pending, part=st.integers(min_value=0))
    def begin(self, start: str, amount: int, then: Outcome | None, part: int) -> None:
        self._fresh(start, amount, then, part)

    @precondition(lambda self: self.p.status in TERMINAL)
    @rule(start=starts, amount=st.integers(min_value=1, max_value=2000),
          then=st.none() | _leaf | _pending, part=st.integers(min_value=0))
    def start_another(self, start: str, amount: int, then: Outcome | None, part: int) -> None:
        """A terminal payment goes nowhere; keep exploring with a new one."""
        self._fresh(start, amount, then, part)

    def _apply(self, op: Callable[[Payment], Payment]) -> Payment | PaymentError:
        before = self.p
        snapshot = copy.deepcopy(before)
        try:
            after = op(before)
        except InvariantViolation as exc:  # never a user error: a bug
            raise AssertionError(f"invariant violated: {exc}") from exc
        except PaymentError as exc:
            assert before == snapshot
            return exc
        assert before == snapshot, "the input payment was mutated"
        assert before.status not in TERMINAL, f"{before.status} changed to {after.status}"
        assert after.version == before.version + 1
        assert len(after.history) == len(before.history) + 1
        assert after.history[: len(before.history)] == before.history
        self.p = after
        return after

    @rule(outcome=outcomes, manual=st.booleans())
    def attempt(self, outcome: Outcome, manual: bool) -> None:
        before = self.p
        got = self._apply(lambda p: payments.attempt(p, outcome, NOW, capture_manual=manual))
        if before.status in (Status.CREATED, Status.FAILED):
            assert isinstance(got, Payment)
            expected = {
                OutcomeKind.APPROVE: Status.AUTHORIZED if manual else Status.CAPTURED,
                OutcomeKind.DECLINE: Status.FAILED,
                OutcomeKind.REQUIRES_ACTION: Status.REQUIRES_ACTION,
                OutcomeKind.PENDING: Status.PENDING,
            }[outcome.kind]
            assert got.status is expected
        else:
            assert isinstance(got, InvalidTransition)

    @rule(success=st.booleans())
    def complete(self, success: bool) -> None:
        before = self.p
        got = self._apply(lambda p: payments.complete_action(p, success, NOW))
        if before.status in (Status.REQUIRES_ACTION, Status.PENDING):
            assert isinstance(got, Payment)
            if not success:
                assert got.status is Status.FAILED
                assert got.decline is DeclineReason.AUTHENTICATION_FAILED
        else:
            assert isinstance(got, InvalidTransition)

    @rule(spec=amounts)
    def capture(self, spec: AmountSpec) -> None:
        before = self.p
        amount = resolve(spec, before.amount_authorized)
        got = self._apply(lambda p: payments.capture(p, amount, NOW))
        if before.status is not Status.AUTHORIZED:
            assert isinstance(got, InvalidTransition)
        elif amount is not None and not 0 < amount <= before.amount_authorized:
            assert isinstance(got, AmountExceeded)
        else:
            assert isinstance(got, Payment)
            assert got.amount_captured == (before.amount_authorized if amount is None
                                           else amount)

    @rule(spec=amounts)
    def refund(self, spec: AmountSpec) -> None:
        before = self.p
        amount = resolve(spec, before.amount_refundable)
        self.refund_count += 1
        rid = f"re_{self.refund_count}"
        got = self._apply(lambda p: payments.refund(p, rid, amount, NOW))
        if before.status not in (Status.CAPTURED, Status.PARTIALLY_REFUNDED):
            assert isinstance(got, InvalidTransition)
        elif amount is not None and not 0 < amount <= before.amount_refundable:
            assert isinstance(got, AmountExceeded)
        else:
            assert isinstance(got, Payment)
            wanted = before.amount_refundable if amount is None else amount
            assert got.amount_refunded == before.amount_refunded + wanted
            assert got.status is (Status.REFUNDED if got.amount_refunded == got.amount_captured
                                  else Status.PARTIALLY_REFUNDED)
            assert got.refund(rid) is not None

    @rule(how=st.sampled_from(["void", "expire"]))
    def end(self, how: str) -> None:
        before = self.p
        op = payments.void if how == "void" else payments.expire
        got = self._apply(lambda p: op(p, NOW))
        allowed = {Status.CREATED, Status.FAILED, Status.REQUIRES_ACTION, Status.PENDING,
                   Status.AUTHORIZED}
        if before.status in allowed:
            assert isinstance(got, Payment)
            assert got.status is (Status.VOIDED if how == "void" else Status.EXPIRED)
            assert got.amount_capturable == 0
        else:
            assert isinstance(got, InvalidTransition)

    @precondition(lambda self: self.p.status in (Status.CREATED, Status.FAILED))
    @rule(key=st.sampled_from(["a", "b"]), value=st.text(max_size=3))
    def update(self, key: str, value: str) -> None:
        got = self._apply(lambda p: payments.update(p, NOW, metadata={key: value}))
        assert isinstance(got, Payment)

    @invariant()
    def amounts_are_consistent(self) -> None:
        p = self.p
        assert 0 <= p.amount_captured <= p.amount_authorized
        assert 0 <= p.amount_refunded <= p.amount_captured
        assert sum(r.amount for r in p.refunds) == p.amount_refunded
        assert len({r.id for r in p.refunds}) == len(p.refunds)
        assert p.version == len(p.history)
        if p.status is Status.REFUNDED:
            assert p.amount_refunded == p.amount_captured > 0
        if p.status is Status.CAPTURED:
            assert p.amount_refunded == 0
        if p.status is Status.PARTIALLY_REFUNDED:
            assert 0 < p.amount_refunded < p.amount_captured
        if p.status in (Status.CREATED, Status.FAILED, Status.REQUIRES_ACTION, Status.PENDING,
                        Status.AUTHORIZED):
            assert p.amount_captured == 0


PaymentLifecycle.TestCase.settings = settings(max_examples=200, stateful_step_count=30,
                                              deadline=None)
test_payment_lifecycle = PaymentLifecycle.TestCase


@given(st.lists(st.tuples(st.sampled_from(sorted(_EVERY_COMMAND)), outcomes, amounts),
                max_size=25))
@settings(deadline=None)
def test_terminal_statuses_are_absorbing(steps: list[tuple[str, Outcome, AmountSpec]]) -> None:
    """Whatever happened before, once voided, expired or fully refunded, nothing moves."""
    ops: dict[str, Callable[[Payment, Outcome, AmountSpec], Payment]] = {
        "attempt": lambda p, o, a: payments.attempt(p, o, NOW),
        "complete": lambda p, o, a: payments.complete_action(p, True, NOW),
        "fail_action": lambda p, o, a: payments.complete_action(p, False, NOW),
        "capture": lambda p, o, a: payments.capture(p, resolve(a, p.amount_authorized), NOW),
        "void": lambda p, o, a: payments.void(p, NOW),
        "expire": lambda p, o, a: payments.expire(p, NOW),
        "refund": lambda p, o, a: payments.refund(p, f"re_{len(p.refunds)}",
                                                  resolve(a, p.amount_refundable), NOW),
        "update": lambda p, o, a: payments.update(p, NOW, description="d"),
    }
    p = new_payment(1000, manual=True)
    ended_at: Payment | None = None
    for name, outcome, amount in steps:
        with contextlib.suppress(InvalidTransition, AmountExceeded):
            p = ops[name](p, outcome, amount)
        if ended_at is not None:
            assert p is ended_at
        elif p.status in TERMINAL:
            ended_at = p


# -- adjusting an authorization ---------------------------------------------------------

def test_an_authorization_can_grow_or_shrink_before_capture() -> None:
    grown = payments.adjust(authorized(1000), 1500, NOW)
    assert (grown.status, grown.amount, grown.amount_authorized) == (
        Status.AUTHORIZED, 1500, 1500)
    assert grown.history[-1].action == "adjust" and grown.history[-1].amount == 1500
    shrunk = payments.adjust(grown, 400, NOW)
    assert payments.capture(shrunk, None, NOW).amount_captured == 400
    with pytest.raises(payments.AmountExceeded):
        payments.capture(shrunk, 500, NOW)


def test_only_an_authorization_can_be_adjusted() -> None:
    with pytest.raises(payments.InvalidTransition) as info:
        payments.adjust(captured(), 500, NOW)
    assert info.value.allowed == frozenset({Status.AUTHORIZED})
    with pytest.raises(payments.AmountExceeded):
        payments.adjust(authorized(), 0, NOW)
