from __future__ import annotations

import dataclasses

import pytest

from paysandbox.core.outcomes import (
    APPROVED,
    CATEGORIES,
    REASONS,
    DeclineReason,
    Outcome,
    OutcomeKind,
    ReasonInfo,
    UnknownDeclineReason,
    decline_reason,
)

EXPECTED_REASONS = {
    "GENERIC_DECLINE", "INSUFFICIENT_FUNDS", "DO_NOT_HONOR", "EXPIRED_CARD", "INCORRECT_CVC",
    "INCORRECT_NUMBER", "LOST_CARD", "STOLEN_CARD", "FRAUDULENT", "CARD_VELOCITY_EXCEEDED",
    "CARD_NOT_SUPPORTED", "CURRENCY_NOT_SUPPORTED", "PROCESSING_ERROR", "ISSUER_UNAVAILABLE",
    "AUTHENTICATION_FAILED", "INVALID_AMOUNT", "RESTRICTED_CARD", "TRY_AGAIN_LATER",
    "PICKUP_CARD", "INVALID_ACCOUNT", "WITHDRAWAL_COUNT_LIMIT_EXCEEDED",
    "TRANSACTION_NOT_ALLOWED", "AUTHENTICATION_REQUIRED", "REVOCATION_OF_AUTHORIZATION",
}  # fmt: skip


def test_decline_reason_members_and_values() -> None:
    assert {r.name for r in DeclineReason} == EXPECTED_REASONS
    for reason in DeclineReason:
        assert reason.value == reason.name.lower()


def test_reasons_cover_every_member() -> None:
    assert set(REASONS) == set(DeclineReason)
    for reason, info in REASONS.items():
        assert isinstance(info, ReasonInfo)
        assert info.category in CATEGORIES, reason
        assert info.description.endswith("."), reason


def test_reasons_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        REASONS[DeclineReason.LOST_CARD] = REASONS[DeclineReason.STOLEN_CARD]  # type: ignore[index]


@pytest.mark.parametrize(
    "reason",
    [
        DeclineReason.INSUFFICIENT_FUNDS,
        DeclineReason.ISSUER_UNAVAILABLE,
        DeclineReason.TRY_AGAIN_LATER,
        DeclineReason.PROCESSING_ERROR,
        DeclineReason.CARD_VELOCITY_EXCEEDED,
        DeclineReason.DO_NOT_HONOR,
        DeclineReason.GENERIC_DECLINE,
        DeclineReason.WITHDRAWAL_COUNT_LIMIT_EXCEEDED,
    ],
)
def test_soft_declines(reason: DeclineReason) -> None:
    assert REASONS[reason].soft


@pytest.mark.parametrize(
    "reason",
    [
        DeclineReason.EXPIRED_CARD,
        DeclineReason.INCORRECT_NUMBER,
        DeclineReason.INCORRECT_CVC,
        DeclineReason.LOST_CARD,
        DeclineReason.STOLEN_CARD,
        DeclineReason.PICKUP_CARD,
        DeclineReason.FRAUDULENT,
        DeclineReason.INVALID_ACCOUNT,
        DeclineReason.CURRENCY_NOT_SUPPORTED,
        DeclineReason.TRANSACTION_NOT_ALLOWED,
    ],
)
def test_hard_declines(reason: DeclineReason) -> None:
    assert not REASONS[reason].soft


def test_categories_of_representative_reasons() -> None:
    assert REASONS[DeclineReason.STOLEN_CARD].category == "fraud"
    assert REASONS[DeclineReason.ISSUER_UNAVAILABLE].category == "technical"
    assert REASONS[DeclineReason.AUTHENTICATION_FAILED].category == "authentication"
    assert REASONS[DeclineReason.INVALID_AMOUNT].category == "request"
    assert REASONS[DeclineReason.EXPIRED_CARD].category == "card"
    assert REASONS[DeclineReason.INSUFFICIENT_FUNDS].category == "issuer"


def test_reason_info_rejects_unknown_category() -> None:
    with pytest.raises(ValueError, match="category"):
        ReasonInfo("x.", soft=True, category="network")


@pytest.mark.parametrize(
    "name",
    ["insufficient_funds", "INSUFFICIENT_FUNDS", " Insufficient-Funds ", "insufficient funds"],
)
def test_decline_reason_parses_forgivingly(name: str) -> None:
    assert decline_reason(name) is DeclineReason.INSUFFICIENT_FUNDS


def test_decline_reason_passes_members_through() -> None:
    assert decline_reason(DeclineReason.LOST_CARD) is DeclineReason.LOST_CARD


def test_decline_reason_typo_suggests_the_intended_name() -> None:
    with pytest.raises(UnknownDeclineReason) as info:
        decline_reason("insufficent_funds")
    assert info.value.name == "insufficent_funds"
    assert str(info.value).startswith("Unknown decline reason 'insufficent_funds'.")
    assert "'insufficient_funds'" in str(info.value)
    assert info.value.suggestions[0] == "insufficient_funds"
    assert isinstance(info.value, ValueError)


def test_decline_reason_without_close_match_lists_all_names() -> None:
    with pytest.raises(UnknownDeclineReason) as info:
        decline_reason("zzz")
    for reason in DeclineReason:
        assert reason.value in str(info.value)


@pytest.mark.parametrize("bad", ["", None, 5])
def test_decline_reason_rejects_empty_and_non_strings(bad: object) -> None:
    with pytest.raises(UnknownDeclineReason):
        decline_reason(bad)  # type: ignore[arg-type]


def test_outcome_kind_values() -> None:
    assert [k.value for k in OutcomeKind] == ["approve", "decline", "requires_action", "pending"]


def test_approve() -> None:
    outcome = Outcome.approve()
    assert outcome.kind is OutcomeKind.APPROVE
    assert outcome.is_approved
    assert outcome == APPROVED
    assert APPROVED.reason is None


def test_decline_from_member_or_name() -> None:
    by_member = Outcome.decline(DeclineReason.EXPIRED_CARD)
    by_name = Outcome.decline("expired_card")
    assert by_member == by_name
    assert by_name.reason is DeclineReason.EXPIRED_CARD
    assert by_name.kind is OutcomeKind.DECLINE
    assert not by_name.is_approved


def test_decline_with_native_code() -> None:
    outcome = Outcome.decline("do_not_honor", native_code="05")
    assert outcome.reason is DeclineReason.DO_NOT_HONOR
    assert outcome.native_code == "05"


def test_decline_with_only_a_native_code() -> None:
    outcome = Outcome(OutcomeKind.DECLINE, native_code="57")
    assert outcome.reason is None
    assert outcome.native_code == "57"


def test_decline_with_unknown_name_raises() -> None:
    with pytest.raises(UnknownDeclineReason, match="stolen_card"):
        Outcome.decline("stolen_crad")


def test_requires_action_defaults_to_3ds_challenge() -> None:
    outcome = Outcome.requires_action()
    assert outcome.kind is OutcomeKind.REQUIRES_ACTION
    assert outcome.action == "three_ds_challenge"
    assert outcome.then is None
    assert not outcome.is_approved


def test_chained_outcomes() -> None:
    outcome = Outcome.requires_action(
        "redirect", then=Outcome.pending(then=Outcome.decline("insufficient_funds"))
    )
    assert outcome.action == "redirect"
    assert outcome.then is not None
    assert outcome.then.kind is OutcomeKind.PENDING
    assert outcome.then.then == Outcome.decline(DeclineReason.INSUFFICIENT_FUNDS)


def test_string_kinds_and_reasons_are_coerced() -> None:
    outcome = Outcome("decline", "lost_card")  # type: ignore[arg-type]
    assert outcome.kind is OutcomeKind.DECLINE
    assert outcome.reason is DeclineReason.LOST_CARD


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": OutcomeKind.DECLINE}, "reason or a native_code"),
        ({"kind": OutcomeKind.APPROVE, "reason": DeclineReason.LOST_CARD}, "Only a decline"),
        ({"kind": OutcomeKind.REQUIRES_ACTION}, "needs an action"),
        ({"kind": OutcomeKind.REQUIRES_ACTION, "action": ""}, "needs an action"),
        ({"kind": OutcomeKind.PENDING, "action": "redirect"}, "Only requires_action"),
        ({"kind": OutcomeKind.APPROVE, "then": APPROVED}, "'then'"),
        ({"kind": "refund"}, "Unknown outcome kind"),
    ],
)
def test_invariants(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Outcome(**kwargs)  # type: ignore[arg-type]


def test_outcomes_are_frozen_and_hashable() -> None:
    outcome = Outcome.decline("fraudulent")
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.kind = OutcomeKind.APPROVE  # type: ignore[misc]
    assert len({outcome, Outcome.decline(DeclineReason.FRAUDULENT), APPROVED}) == 2
