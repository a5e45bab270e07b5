"""Stored credentials in the core: network transaction ids, and what an attempt without
the customer becomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from paysandbox.core import payments
from paysandbox.core.cards import luhn_valid, redact_pans
from paysandbox.core.credentials import (
    Credential,
    Initiator,
    MitType,
    issue_network_transaction_id,
    network_transaction_id_matches,
)
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import CardDetails, Payment, Status
from paysandbox.scenarios.runtime import compile_match
from paysandbox.store.codec import decode_payment, encode_payment

KEY = b"k" * 32
VISA = CardDetails("visa", "4242", "424242", 12, 2030)
NOW = datetime(2026, 12, 3, tzinfo=UTC).timestamp()
MIT = Credential(Initiator.MERCHANT, MitType.RECURRING, stored_method="pm_1")


def test_a_network_transaction_id_is_15_digits_and_checks_against_its_card() -> None:
    nti = issue_network_transaction_id(KEY, VISA)
    assert len(nti) == 15 and nti.isdigit()
    assert network_transaction_id_matches(KEY, nti, VISA)
    # the same card seen by another acquirer (another expiry after a reissue, too)
    assert network_transaction_id_matches(KEY, nti, CardDetails("visa", "4242", "424242",
                                                                 1, 2031))
    assert not network_transaction_id_matches(KEY, nti, CardDetails("visa", "1111",
                                                                     "411111", 12, 2030))
    assert not network_transaction_id_matches(b"other" * 8, nti, VISA)
    assert not network_transaction_id_matches(KEY, nti[:-1] + str((int(nti[-1]) + 1) % 10),
                                              VISA)
    assert not network_transaction_id_matches(KEY, "abc", VISA)
    assert issue_network_transaction_id(KEY, VISA) != nti


def test_a_network_transaction_id_is_never_masked_as_a_card_number() -> None:
    """About one 15-digit number in ten passes Luhn, and logs and the journal mask those:
    none issued does, so a renewal's quoted id can be found where it was sent."""
    issued = [issue_network_transaction_id(KEY, VISA) for _ in range(300)]
    assert not any(luhn_valid(nti) for nti in issued)
    assert all(redact_pans(f'{{"previous_payment_id": "{nti}"}}').count(nti) == 1
               for nti in issued)
    assert all(network_transaction_id_matches(KEY, nti, VISA) for nti in issued)


def _payment(card: CardDetails | None = VISA) -> Payment:
    return Payment("pay_1", "ns", "stripe", 1000, "EUR", NOW, card=card)


def test_a_challenge_on_a_merchant_initiated_payment_is_authentication_required() -> None:
    after = payments.attempt(_payment(), Outcome.requires_action(), NOW, credential=MIT)
    assert after.status is Status.FAILED
    assert after.decline is DeclineReason.AUTHENTICATION_REQUIRED
    assert after.credential == MIT
    # the same challenge with the customer present is a challenge
    present = payments.attempt(_payment(), Outcome.requires_action(), NOW)
    assert present.status is Status.REQUIRES_ACTION


def test_a_card_expired_since_it_was_saved_is_declined_without_the_customer() -> None:
    expired = CardDetails("visa", "4242", "424242", 11, 2026)
    after = payments.attempt(_payment(expired), Outcome.approve(), NOW, credential=MIT)
    assert after.decline is DeclineReason.EXPIRED_CARD
    still_valid = CardDetails("visa", "4242", "424242", 12, 2026)
    assert payments.attempt(_payment(still_valid), Outcome.approve(), NOW,
                            credential=MIT).status is Status.CAPTURED


def test_only_a_merchant_initiated_payment_has_an_mit_type() -> None:
    with pytest.raises(ValueError, match="mit_type"):
        Credential(Initiator.CUSTOMER, MitType.RECURRING)


def test_a_payment_keeps_its_credential_through_the_store_codec() -> None:
    p = payments.attempt(_payment(), Outcome.approve(), NOW, credential=Credential(
        Initiator.MERCHANT, MitType.INSTALLMENT, "123456789012345", "987654321098765",
        "pm_1", False))
    assert decode_payment(encode_payment(p), "k").credential == p.credential
    assert decode_payment(encode_payment(_payment()), "k").credential is None


@pytest.mark.parametrize(("spec", "facts", "matches"), [
    ({"initiator": "merchant"}, {"initiator": "merchant", "mit_type": "recurring"}, True),
    ({"initiator": "merchant"}, {"initiator": "customer"}, False),
    ({"mit_type": ["recurring", "installment"]}, {"initiator": "merchant",
                                                  "mit_type": "installment"}, True),
    ({"mit_type": "unscheduled"}, {"initiator": "customer", "mit_type": None}, False),
])
def test_rules_match_on_who_initiated_a_payment(spec: dict[str, object],
                                                facts: dict[str, object],
                                                matches: bool) -> None:
    assert compile_match(spec)(facts, 0.0) is matches
