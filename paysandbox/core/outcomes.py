"""The canonical, provider-neutral result of a payment attempt.

Scenarios and magic test cards resolve to an ``Outcome``; each provider
adapter then renders it in its own wire format (Stripe ``decline_code``,
Adyen ``refusalReason``...). Keeping one vocabulary here means a scenario
written once behaves the same on every provider.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "APPROVED",
    "CATEGORIES",
    "REASONS",
    "DeclineReason",
    "Outcome",
    "OutcomeKind",
    "ReasonInfo",
    "UnknownDeclineReason",
    "decline_reason",
]


class DeclineReason(StrEnum):
    """Why a payment was declined, in Stripe-style snake_case."""

    GENERIC_DECLINE = "generic_decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    DO_NOT_HONOR = "do_not_honor"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    INCORRECT_NUMBER = "incorrect_number"
    LOST_CARD = "lost_card"
    STOLEN_CARD = "stolen_card"
    FRAUDULENT = "fraudulent"
    CARD_VELOCITY_EXCEEDED = "card_velocity_exceeded"
    CARD_NOT_SUPPORTED = "card_not_supported"
    CURRENCY_NOT_SUPPORTED = "currency_not_supported"
    PROCESSING_ERROR = "processing_error"
    ISSUER_UNAVAILABLE = "issuer_unavailable"
    AUTHENTICATION_FAILED = "authentication_failed"
    INVALID_AMOUNT = "invalid_amount"
    RESTRICTED_CARD = "restricted_card"
    TRY_AGAIN_LATER = "try_again_later"
    PICKUP_CARD = "pickup_card"
    INVALID_ACCOUNT = "invalid_account"
    WITHDRAWAL_COUNT_LIMIT_EXCEEDED = "withdrawal_count_limit_exceeded"
    TRANSACTION_NOT_ALLOWED = "transaction_not_allowed"
    # Merchant-initiated payments on a saved card (paysandbox/core/credentials.py).
    AUTHENTICATION_REQUIRED = "authentication_required"
    REVOCATION_OF_AUTHORIZATION = "revocation_of_authorization"


CATEGORIES: frozenset[str] = frozenset(
    {"issuer", "card", "fraud", "technical", "authentication", "request"}
)


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    """What a decline reason means and whether a retry can help."""

    description: str
    # True when retrying the same card later may succeed. Follows the card
    # networks' retry rules (Visa decline categories 2 and 4, Mastercard merchant
    # advice codes): funds, limits, outages and the generic do-not-honor codes
    # are soft; card data, lost/stolen/fraud and policy refusals are hard.
    soft: bool
    category: str  # one of CATEGORIES

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(
                f"Unknown decline category {self.category!r}; "
                f"expected one of {', '.join(sorted(CATEGORIES))}"
            )


_R = DeclineReason
REASONS: Mapping[DeclineReason, ReasonInfo] = MappingProxyType(
    {
        _R.GENERIC_DECLINE: ReasonInfo(
            "The issuer declined the payment without giving a reason.", True, "issuer"
        ),
        _R.INSUFFICIENT_FUNDS: ReasonInfo(
            "The account does not have enough funds or credit for this amount.", True, "issuer"
        ),
        _R.DO_NOT_HONOR: ReasonInfo(
            "The issuer declined the payment with the generic 'do not honor' code.",
            True,
            "issuer",
        ),
        _R.EXPIRED_CARD: ReasonInfo("The card has expired.", False, "card"),
        _R.INCORRECT_CVC: ReasonInfo("The card's security code is incorrect.", False, "card"),
        _R.INCORRECT_NUMBER: ReasonInfo("The card number is incorrect.", False, "card"),
        _R.LOST_CARD: ReasonInfo("The card has been reported lost.", False, "fraud"),
        _R.STOLEN_CARD: ReasonInfo("The card has been reported stolen.", False, "fraud"),
        _R.FRAUDULENT: ReasonInfo("The payment was declined as suspected fraud.", False, "fraud"),
        _R.CARD_VELOCITY_EXCEEDED: ReasonInfo(
            "The card has exceeded its spending or transaction-count limit.", True, "issuer"
        ),
        _R.CARD_NOT_SUPPORTED: ReasonInfo(
            "The card does not support this type of purchase.", False, "card"
        ),
        _R.CURRENCY_NOT_SUPPORTED: ReasonInfo(
            "The card does not support the payment's currency.", False, "request"
        ),
        _R.PROCESSING_ERROR: ReasonInfo(
            "An error occurred while processing the card.", True, "technical"
        ),
        _R.ISSUER_UNAVAILABLE: ReasonInfo(
            "The card issuer could not be reached to authorise the payment.", True, "technical"
        ),
        _R.AUTHENTICATION_FAILED: ReasonInfo(
            "Cardholder authentication (such as 3D Secure) failed.", False, "authentication"
        ),
        _R.INVALID_AMOUNT: ReasonInfo(
            "The amount is invalid or exceeds what the card allows.", False, "request"
        ),
        _R.RESTRICTED_CARD: ReasonInfo(
            "The card cannot be used for this payment (restricted by the issuer).",
            False,
            "card",
        ),
        _R.TRY_AGAIN_LATER: ReasonInfo(
            "The issuer asked for the payment to be retried later.", True, "issuer"
        ),
        _R.PICKUP_CARD: ReasonInfo(
            "The issuer asked for the card to be retained (possibly lost or stolen).",
            False,
            "fraud",
        ),
        _R.INVALID_ACCOUNT: ReasonInfo(
            "The card or its account is invalid or closed.", False, "card"
        ),
        _R.WITHDRAWAL_COUNT_LIMIT_EXCEEDED: ReasonInfo(
            "The account has exceeded its withdrawal count limit.", True, "issuer"
        ),
        _R.TRANSACTION_NOT_ALLOWED: ReasonInfo(
            "The issuer does not allow this kind of transaction on the card.", False, "issuer"
        ),
        _R.AUTHENTICATION_REQUIRED: ReasonInfo(
            "The issuer wants the cardholder to authenticate (3D Secure), which a payment "
            "made without them cannot do: bring the customer back to pay on-session.",
            True,
            "authentication",
        ),
        _R.REVOCATION_OF_AUTHORIZATION: ReasonInfo(
            "The cardholder told the issuer to stop this merchant's payments on the saved "
            "card: do not retry it.",
            False,
            "issuer",
        ),
    }
)
del _R


class UnknownDeclineReason(ValueError):
    """Raised for a decline reason name that is not a ``DeclineReason``."""

    def __init__(self, name: object) -> None:
        self.name: str = name if isinstance(name, str) else repr(name)
        valid = [reason.value for reason in DeclineReason]
        self.suggestions: tuple[str, ...] = tuple(
            difflib.get_close_matches(_normalise(self.name), valid, n=3, cutoff=0.5)
        )
        message = f"Unknown decline reason {name!r}."
        if self.suggestions:
            message += " Did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        else:
            message += " Valid reasons: " + ", ".join(valid) + "."
        super().__init__(message)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def decline_reason(name: str) -> DeclineReason:
    """Parse a reason name, forgiving case, dashes and spaces."""
    if isinstance(name, DeclineReason):
        return name
    if not isinstance(name, str):
        raise UnknownDeclineReason(name)
    try:
        return DeclineReason(_normalise(name))
    except ValueError:
        raise UnknownDeclineReason(name) from None


class OutcomeKind(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    REQUIRES_ACTION = "requires_action"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happens to a payment attempt.

    REQUIRES_ACTION and PENDING are intermediate: ``then`` is what the attempt
    becomes once the action or wait completes successfully (``None`` means
    it is approved). Invariants are checked on construction so a bad scenario
    fails when it is loaded, not halfway through a payment.
    """

    kind: OutcomeKind
    reason: DeclineReason | None = None
    # A provider-native code (e.g. an ISO 8583 response code) rendered instead
    # of the provider's mapping of ``reason``.
    native_code: str | None = None
    action: str | None = None  # e.g. "three_ds_challenge" or "redirect"
    then: Outcome | None = None

    def __post_init__(self) -> None:
        try:
            kind = OutcomeKind(self.kind)
        except ValueError:
            valid = ", ".join(k.value for k in OutcomeKind)
            raise ValueError(
                f"Unknown outcome kind {self.kind!r}; expected one of {valid}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if self.reason is not None:
            object.__setattr__(self, "reason", decline_reason(self.reason))

        if kind is OutcomeKind.DECLINE:
            if self.reason is None and self.native_code is None:
                raise ValueError("A decline needs a reason or a native_code")
        elif self.reason is not None:
            raise ValueError(f"Only a decline has a reason; got {kind.value} with {self.reason}")
        if kind is OutcomeKind.REQUIRES_ACTION and not self.action:
            raise ValueError("requires_action needs an action, e.g. 'three_ds_challenge'")
        if self.action is not None and kind is not OutcomeKind.REQUIRES_ACTION:
            raise ValueError(f"Only requires_action has an action; got {kind.value}")
        if self.then is not None and kind not in (OutcomeKind.REQUIRES_ACTION, OutcomeKind.PENDING):
            raise ValueError(
                f"Only requires_action and pending have a 'then' outcome; got {kind.value}"
            )

    @classmethod
    def approve(cls) -> Outcome:
        return cls(OutcomeKind.APPROVE)

    @classmethod
    def decline(cls, reason: DeclineReason | str, *, native_code: str | None = None) -> Outcome:
        return cls(OutcomeKind.DECLINE, reason=decline_reason(reason), native_code=native_code)

    @classmethod
    def requires_action(
        cls, action: str = "three_ds_challenge", *, then: Outcome | None = None
    ) -> Outcome:
        return cls(OutcomeKind.REQUIRES_ACTION, action=action, then=then)

    @classmethod
    def pending(cls, *, then: Outcome | None = None) -> Outcome:
        return cls(OutcomeKind.PENDING, then=then)

    @property
    def is_approved(self) -> bool:
        return self.kind is OutcomeKind.APPROVE


APPROVED: Outcome = Outcome.approve()
