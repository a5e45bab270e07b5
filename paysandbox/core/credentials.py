"""Stored credentials: saved cards and the payments a merchant makes with them.

A customer pays once, present (a customer-initiated transaction, CIT), and agrees that the
merchant keeps the card; later the merchant charges it without them (a merchant-initiated
transaction, MIT: unscheduled, recurring or an instalment), quoting the network
transaction id the card scheme gave the first payment. What only happens here:

- an issuer that wants the cardholder to authenticate cannot challenge someone who is
  not there: a 3DS step on an MIT becomes the soft decline `authentication_required`
  (the service must bring the customer back on-session);
- a card that has expired since it was saved is declined `expired_card`;
- a network transaction id that the schemes never issued for this card is refused
  (`transaction_not_allowed`). One issued by any imitated acquirer is accepted by all of
  them, as the schemes allow, so renewals can fail over between acquirers.

Network transaction ids are self-checking: a random part and an HMAC of it with the card
(its BIN and last four digits) under the store's fingerprint key. Any process of one
simulator, for any provider, verifies one without a lookup, so they cost no storage and
never expire from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from paysandbox.core.cards import is_expired, luhn_valid
from paysandbox.core.outcomes import DeclineReason, Outcome, OutcomeKind

if TYPE_CHECKING:
    from paysandbox.core.payments import CardDetails

__all__ = ["Credential", "Initiator", "MitType", "issue_network_transaction_id",
           "network_transaction_id_matches", "without_customer"]


class Initiator(StrEnum):
    CUSTOMER = "customer"
    MERCHANT = "merchant"


class MitType(StrEnum):
    """Why a merchant charges a saved card without the customer."""

    UNSCHEDULED = "unscheduled"  # top-ups, usage charges: card on file, no fixed plan
    RECURRING = "recurring"  # a subscription: the same agreement at fixed intervals
    INSTALLMENT = "installment"  # one purchase paid in agreed parts


@dataclass(frozen=True, slots=True)
class Credential:
    """How a payment uses a stored credential.

    `network_transaction_id` is the id the scheme gave this payment; an MIT quotes the one
    its customer's first payment got as `original_network_transaction_id` (None when the
    acquirer keeps it with its own token and quotes it itself). `stored_method` names the
    saved card (a provider's token id), `saves` marks a first payment that saves it."""

    initiator: Initiator = Initiator.CUSTOMER
    mit_type: MitType | None = None
    network_transaction_id: str | None = None
    original_network_transaction_id: str | None = None
    stored_method: str | None = None
    saves: bool = False

    def __post_init__(self) -> None:
        if self.mit_type is not None and self.initiator is not Initiator.MERCHANT:
            raise ValueError("only a merchant-initiated payment has an mit_type")

    @property
    def merchant_initiated(self) -> bool:
        return self.initiator is Initiator.MERCHANT


_DIGITS = 15  # Visa's transaction identifier is 15 digits; every brand gets that shape
_RANDOM = 7


def _mac(key: bytes, random_part: str, card: CardDetails) -> str:
    digest = hmac.new(key, f"nti:{random_part}:{card.bin}:{card.last4}".encode(),
                      hashlib.sha256).digest()
    return str(int.from_bytes(digest[:8], "big") % 10 ** (_DIGITS - _RANDOM)) \
        .zfill(_DIGITS - _RANDOM)


def issue_network_transaction_id(key: bytes, card: CardDetails) -> str:
    """A new network transaction id for a payment with `card` (15 digits). Never one that
    passes Luhn: logs and the journal mask those as card numbers, and an id must stay
    readable wherever it is quoted (about one draw in ten is drawn again)."""
    while True:
        random_part = str(secrets.randbelow(10 ** _RANDOM)).zfill(_RANDOM)
        nti = random_part + _mac(key, random_part, card)
        if not luhn_valid(nti):
            return nti


def network_transaction_id_matches(key: bytes, nti: str, card: CardDetails) -> bool:
    """Whether `nti` was issued, by any imitated acquirer, for a payment with `card`."""
    if len(nti) != _DIGITS or not nti.isdigit():
        return False
    return hmac.compare_digest(nti[_RANDOM:], _mac(key, nti[:_RANDOM], card))


def without_customer(outcome: Outcome, card: CardDetails | None, now: float) -> Outcome:
    """What an attempt's `outcome` becomes when the customer is not there to act: a
    card expired since it was saved is declined, and an authentication step the issuer
    asks for is the soft decline `authentication_required`."""
    if card is not None and 1 <= card.exp_month <= 12 and card.exp_year > 0 \
            and is_expired(card.exp_month, card.exp_year, datetime.fromtimestamp(now, UTC)):
        return Outcome.decline(DeclineReason.EXPIRED_CARD)
    if outcome.kind is OutcomeKind.REQUIRES_ACTION:
        return Outcome.decline(DeclineReason.AUTHENTICATION_REQUIRED)
    return outcome
