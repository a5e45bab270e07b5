"""Stripe's documented test values and what they do.

Source: https://docs.stripe.com/testing (cards by brand, declined payments, fraud
prevention, disputes, 3D Secure authentication). Each card has its `pm_card_*` and
`tok_*` aliases as Stripe documents them. Any other number that passes Luhn is approved,
as Stripe's test mode does.

Dispute cards succeed and are then disputed (or, 4000000000005423, draw an early fraud
warning) shortly after the charge is captured, on the virtual clock; Stripe's evidence
test values (`winning_evidence`, `losing_evidence` in `evidence[uncategorized_text]`)
decide how a submitted dispute ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from paysandbox.core.cards import Brand, detect_brand, luhn_valid
from paysandbox.core.disputes import DisputeKind, DisputePlan, DisputeReason, DisputeStatus
from paysandbox.core.outcomes import DeclineReason, Outcome

R = DeclineReason


@dataclass(frozen=True, slots=True)
class TestCard:
    number: str
    outcome: Outcome
    aliases: tuple[str, ...] = ()
    funding: str = "credit"
    country: str = "US"
    dispute: DisputePlan | None = None  # disputed once captured
    early_fraud_warning: bool = False  # draws an early fraud warning once it succeeds
    attaches: bool = False  # saved to a customer (attach, SetupIntent) though charges fail
    set_up_exempts: bool = False  # no authentication off-session once a setup passed 3DS

    @property
    def brand(self) -> Brand:
        return detect_brand(self.number)


def _ok(number: str, *aliases: str, funding: str = "credit", country: str = "US") -> TestCard:
    return TestCard(number, Outcome.approve(), aliases, funding, country)


def _no(number: str, reason: DeclineReason, *aliases: str) -> TestCard:
    return TestCard(number, Outcome.decline(reason), aliases)


#: How long after the capture a dispute card's dispute opens (virtual seconds): Stripe's
#: test mode opens it within moments, after the charge's own events.
DISPUTE_AFTER = 1.0


def _disputed(number: str, reason: DisputeReason, *aliases: str,
              kind: DisputeKind = DisputeKind.CHARGEBACK) -> TestCard:
    return TestCard(number, Outcome.approve(), aliases,
                    dispute=DisputePlan(reason=reason, kind=kind, after=DISPUTE_AFTER))


def _3ds(number: str, *aliases: str, then: Outcome | None = None) -> TestCard:
    return TestCard(number, Outcome.requires_action("three_ds_challenge", then=then), aliases)


CARDS: tuple[TestCard, ...] = (
    # Cards by brand: succeed.
    _ok("4242424242424242", "pm_card_visa", "tok_visa"),
    _ok("4000056655665556", "pm_card_visa_debit", "tok_visa_debit", funding="debit"),
    _ok("5555555555554444", "pm_card_mastercard", "tok_mastercard"),
    _ok("2223003122003222"),
    _ok("5200828282828210", "pm_card_mastercard_debit", "tok_mastercard_debit",
        funding="debit"),
    _ok("5105105105105100", "pm_card_mastercard_prepaid", "tok_mastercard_prepaid",
        funding="prepaid"),
    _ok("378282246310005", "pm_card_amex", "tok_amex"),
    _ok("371449635398431"),
    _ok("6011111111111117", "pm_card_discover", "tok_discover"),
    _ok("6011000990139424"),
    _ok("3056930009020004", "pm_card_diners", "tok_diners"),
    _ok("36227206271667"),
    _ok("3566002020360505", "pm_card_jcb", "tok_jcb"),
    _ok("6200000000000005", "pm_card_unionpay", "tok_unionpay"),
    # 3D Secure: supported but not required, so it succeeds.
    _ok("4000000000003055", "pm_card_threeDSecureOptional", "tok_threeDSecureOptional"),
    # Declined payments.
    _no("4000000000000002", R.GENERIC_DECLINE, "pm_card_visa_chargeDeclined",
        "pm_card_chargeDeclined", "tok_visa_chargeDeclined", "tok_chargeDeclined"),
    _no("4000000000009995", R.INSUFFICIENT_FUNDS, "pm_card_visa_chargeDeclinedInsufficientFunds",
        "pm_card_chargeDeclinedInsufficientFunds", "tok_visa_chargeDeclinedInsufficientFunds",
        "tok_chargeDeclinedInsufficientFunds"),
    _no("4000000000009987", R.LOST_CARD, "pm_card_visa_chargeDeclinedLostCard",
        "pm_card_chargeDeclinedLostCard", "tok_visa_chargeDeclinedLostCard",
        "tok_chargeDeclinedLostCard"),
    _no("4000000000009979", R.STOLEN_CARD, "pm_card_visa_chargeDeclinedStolenCard",
        "pm_card_chargeDeclinedStolenCard", "tok_visa_chargeDeclinedStolenCard",
        "tok_chargeDeclinedStolenCard"),
    _no("4000000000000069", R.EXPIRED_CARD, "pm_card_chargeDeclinedExpiredCard",
        "tok_chargeDeclinedExpiredCard"),
    _no("4000000000000127", R.INCORRECT_CVC, "pm_card_chargeDeclinedIncorrectCvc",
        "tok_chargeDeclinedIncorrectCvc"),
    _no("4000000000000119", R.PROCESSING_ERROR, "pm_card_chargeDeclinedProcessingError",
        "tok_chargeDeclinedProcessingError"),
    _no("4000000000006975", R.CARD_VELOCITY_EXCEEDED,
        "pm_card_visa_chargeDeclinedVelocityLimitExceeded",
        "tok_visa_chargeDeclinedVelocityLimitExceeded"),
    # Fraud prevention: always blocked by Radar.
    _no("4100000000000019", R.FRAUDULENT, "pm_card_radarBlock", "tok_radarBlock",
        "pm_card_chargeDeclinedFraudulent", "tok_chargeDeclinedFraudulent"),
    # Saved cards: attaching succeeds, charging the customer fails.
    TestCard("4000000000000341", Outcome.decline(R.GENERIC_DECLINE),
             ("pm_card_chargeCustomerFail", "tok_chargeCustomerFail"), attaches=True),
    # Disputes.
    _disputed("4000000000000259", DisputeReason.FRAUDULENT, "pm_card_createDispute",
              "tok_createDispute"),
    _disputed("4000000000002685", DisputeReason.PRODUCT_NOT_RECEIVED,
              "pm_card_createDisputeProductNotReceived",
              "tok_createDisputeProductNotReceived"),
    _disputed("4000000000001976", DisputeReason.FRAUDULENT, "pm_card_createDisputeInquiry",
              "tok_createDisputeInquiry", kind=DisputeKind.INQUIRY),
    TestCard("4000000000005423", Outcome.approve(),
             ("pm_card_createIssuerFraudRecord", "tok_createIssuerFraudRecord"),
             early_fraud_warning=True),
    # 3D Secure authentication.
    TestCard("4000002500003155", Outcome.requires_action("three_ds_challenge"),
             ("pm_card_authenticationRequiredOnSetup", "tok_authenticationRequiredOnSetup"),
             set_up_exempts=True),
    _3ds("4000002760003184", "pm_card_authenticationRequired", "tok_authenticationRequired"),
    _3ds("4000008260003178", "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
         "tok_authenticationRequiredChargeDeclinedInsufficientFunds",
         then=Outcome.decline(R.INSUFFICIENT_FUNDS)),
    _3ds("4000000000003220", "pm_card_threeDSecure2Required", "tok_threeDSecure2Required"),
    _3ds("4000000000003063", "pm_card_threeDSecureRequired", "tok_threeDSecureRequired"),
    _3ds("4000008400001629", "pm_card_threeDSecureRequiredChargeDeclined",
         "tok_threeDSecureRequiredChargeDeclined", then=Outcome.decline(R.GENERIC_DECLINE)),
)

BY_NUMBER: dict[str, TestCard] = {c.number: c for c in CARDS}
BY_ALIAS: dict[str, TestCard] = {a: c for c in CARDS for a in c.aliases}

#: Stripe's evidence test values (evidence[uncategorized_text]) and how they end a
#: submitted dispute.
EVIDENCE_OUTCOMES: dict[str, DisputeStatus] = {"winning_evidence": DisputeStatus.WON,
                                               "losing_evidence": DisputeStatus.LOST}

#: Numbers that fail Luhn are refused when the payment method is made.
INCORRECT_NUMBER = "4242424242424241"


def card_for_number(number: str) -> TestCard | None:
    """The test card for a raw number; None when the number is not a card at all."""
    known = BY_NUMBER.get(number)
    if known is not None:
        return known
    if not luhn_valid(number):
        return None
    return TestCard(number, Outcome.approve())


def card_for_alias(alias: str) -> TestCard | None:
    return BY_ALIAS.get(alias)
