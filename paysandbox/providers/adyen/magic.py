"""Adyen's documented test values -> outcomes.

- Test cards (https://docs.adyen.com/development-resources/testing/test-card-numbers):
  they authorise with expiry 03/2030 and CVC 737 (7373 for American Express); another
  expiry refuses as "Expired Card", another CVC as "CVC Declined", as Adyen's test
  platform does.
- 3D Secure 2 test cards (https://docs.adyen.com/development-resources/testing/
  3d-secure-2-authentication, "Test cards"): the issuer challenges the shopper before
  authorisation. In the native flow (`nativeThreeDS: preferred`) they answer
  `ChallengeShopper` at once. Adyen's own Web Components test suite
  (github.com/Adyen/adyen-web, THREEDS2_* card constants) names the cards of the other
  native flows, which are imitated as such:
  - 5201 2815 0512 9736, frictionless: `IdentifyShopper` (device fingerprint), then
    `Authorised` with no challenge (in the redirect flow it authorises at once);
  - 5000 5500 0000 0029 (Maestro, no CVC), full flow: `IdentifyShopper`, then
    `ChallengeShopper`, then the result;
  - 4212 3456 7891 0006, challenge only: `ChallengeShopper` at once.
  Authentication fails as on Adyen's test ACS when the shopper fails the challenge
  (a wrong password: `transStatus` other than "Y" in the challenge's threeDSResult),
  and on any 3D Secure 2 card with holderName NOT_3D_AUTHENTICATED (refusal 11, "3D Not
  Authenticated", after the fingerprint or challenge).
- Holder names and `additionalData.RequestedTestAcquirerResponseCode`
  (https://docs.adyen.com/development-resources/testing/result-codes): force a
  refusal reason, an error, or a Received result.
- Encrypted card fields: Adyen's test platform accepts `test_`-prefixed plain values in
  place of the Web Components' encrypted blobs (`encryptedCardNumber:
  "test_4111111111111111"`).
- Dispute holder names (https://docs.adyen.com/risk-management/disputes-api/
  test-applicable-dispute-reasons): a payment made with one is disputed once it is
  captured. `Chargeback` opens a chargeback (the scheme's usual code for a fraud
  chargeback), `Chargeback:{reason code}` one with that scheme reason code (`10.4`,
  `4837`, `13.1`…), `Chargeback Reversed` one the issuer reverses by itself, `Second
  Chargeback` one reversed and then charged back a second time. `Prearbitration` is the
  simulator's own (Adyen documents no test value for it): reversed, then taken to
  pre-arbitration by the issuer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from paysandbox.core.disputes import (
    SCHEME_REASON_CODES,
    DisputeReason,
    DisputeStage,
    DisputeStatus,
)
from paysandbox.core.outcomes import DeclineReason, Outcome

R = DeclineReason

TEST_EXPIRY = (3, 2030)
TEST_CVC = "737"
AMEX_CVC = "7373"
ENCRYPTED_PREFIX = "test_"


@dataclass(frozen=True, slots=True)
class TestCard:
    number: str
    brand: str  # Adyen's variant: visa, mc, amex, …
    challenge: bool = False  # 3D Secure 2: the issuer challenges the shopper
    funding: str = "credit"
    country: str = "NL"
    #: Native 3D Secure 2: the issuer first asks for the device fingerprint
    #: (IdentifyShopper); without `challenge` the authentication is then frictionless.
    fingerprint: bool = False

    @property
    def three_ds(self) -> bool:
        """Enrolled in 3D Secure 2: the payment authenticates the shopper."""
        return self.challenge or self.fingerprint

    @property
    def cvc(self) -> str:
        return AMEX_CVC if self.brand == "amex" else TEST_CVC


def _cards(brand: str, *numbers: str, challenge: bool = False,
           funding: str = "credit", country: str = "NL",
           fingerprint: bool = False) -> list[TestCard]:
    return [TestCard(n, brand, challenge, funding, country, fingerprint) for n in numbers]


CARDS: tuple[TestCard, ...] = (
    *_cards("visa", "4111111111111111", "4988438843884305", "4166676667666746",
            "4646464646464644", "4000620000000007", "4000060000000006",
            "4444333322221111", "4001590000000001", "4000180000000002"),
    *_cards("visa", "4400000000000008", "4293189100000008", funding="debit"),
    *_cards("mc", "2222400070000005", "5555341244441115", "5577000055770004",
            "5136333333333335", "5585558555855583", "5555444433331111",
            "2222410740360010", "5500000000000004", "2222400010000008",
            "2223000048400011", "2222400060000007", "2222400030000004",
            "2222400050000009"),
    *_cards("amex", "370000000000002", country="US"),
    *_cards("diners", "36006666333344"),
    *_cards("discover", "6011601160116611", country="US"),
    *_cards("jcb", "3569990010095841", country="JP"),
    *_cards("cup", "6250946000000016", country="CN"),
    # 3D Secure 2: challenged.
    *_cards("visa", "4917610000000000", "4212345678910006", challenge=True),
    *_cards("mc", "5454545454545454", challenge=True),
    *_cards("amex", "371449635398431", challenge=True, country="US"),
    # 3D Secure 2, native flow: device fingerprint, then a challenge or none.
    *_cards("maestro", "5000550000000029", challenge=True, fingerprint=True,
            funding="debit"),
    *_cards("mc", "5201281505129736", fingerprint=True),
)

BY_NUMBER: Mapping[str, TestCard] = MappingProxyType({c.number: c for c in CARDS})


@dataclass(frozen=True, slots=True)
class Trigger:
    """One documented test response: the refusalReasonCode it renders and the canonical
    outcome behind it (so scenarios and reports speak one language)."""

    holder_name: str
    code: str
    outcome: Outcome


def _no(name: str, code: str, reason: DeclineReason) -> Trigger:
    return Trigger(name, code, Outcome.decline(reason, native_code=code))


#: https://docs.adyen.com/development-resources/testing/result-codes, "Values for
#: testing refusal reasons": holderName, and the RequestedTestAcquirerResponseCode
#: (the refusalReasonCode it yields).
TRIGGERS: tuple[Trigger, ...] = (
    _no("UNKNOWN", "0", R.PROCESSING_ERROR),
    Trigger("APPROVED", "1", Outcome.approve()),
    _no("DECLINED", "2", R.GENERIC_DECLINE),
    _no("REFERRAL", "3", R.DO_NOT_HONOR),
    _no("ERROR", "4", R.PROCESSING_ERROR),
    _no("BLOCK_CARD", "5", R.PICKUP_CARD),
    _no("CARD_EXPIRED", "6", R.EXPIRED_CARD),
    _no("INVALID_AMOUNT", "7", R.INVALID_AMOUNT),
    _no("INVALID_CARD_NUMBER", "8", R.INCORRECT_NUMBER),
    _no("ISSUER_UNAVAILABLE", "9", R.ISSUER_UNAVAILABLE),
    _no("NOT_SUPPORTED", "10", R.CARD_NOT_SUPPORTED),
    _no("NOT_3D_AUTHENTICATED", "11", R.AUTHENTICATION_FAILED),
    _no("NOT_ENOUGH_BALANCE", "12", R.INSUFFICIENT_FUNDS),
    Trigger("PENDING", "13", Outcome.pending()),
    _no("ACQUIRER_FRAUD", "14", R.FRAUDULENT),
    _no("CANCELLED", "15", R.GENERIC_DECLINE),
    _no("SHOPPER_CANCELLED", "16", R.GENERIC_DECLINE),
    _no("INVALID_PIN", "17", R.TRANSACTION_NOT_ALLOWED),
    _no("PIN_TRIES_EXCEEDED", "18", R.RESTRICTED_CARD),
    _no("PIN_VALIDATION_NOT_POSSIBLE", "19", R.PROCESSING_ERROR),
    _no("FRAUD", "20", R.FRAUDULENT),
    _no("NOT_SUBMITTED", "21", R.PROCESSING_ERROR),
    _no("FRAUD-CANCELLED", "22", R.FRAUDULENT),
    _no("TRANSACTION_NOT_PERMITTED", "23", R.TRANSACTION_NOT_ALLOWED),
    _no("CVC_DECLINED", "24", R.INCORRECT_CVC),
    _no("RESTRICTED_CARD", "25", R.RESTRICTED_CARD),
    _no("REVOCATION_OF_AUTH", "26", R.TRANSACTION_NOT_ALLOWED),
    _no("DECLINED_NON_GENERIC", "27", R.DO_NOT_HONOR),
    _no("WITHDRAWAL_AMOUNT_EXCEEDED", "28", R.CARD_VELOCITY_EXCEEDED),
    _no("WITHDRAWAL_COUNT_EXCEEDED", "29", R.WITHDRAWAL_COUNT_LIMIT_EXCEEDED),
    _no("ISSUER_SUSPECTED_FRAUD", "31", R.FRAUDULENT),
    _no("AVS_DECLINED", "32", R.GENERIC_DECLINE),
    _no("CARD_REQUIRES_ONLINE_PIN", "33", R.TRANSACTION_NOT_ALLOWED),
    _no("NO_CHECKING_ACCOUNT_AVAILABLE_ON_CARD", "34", R.INVALID_ACCOUNT),
    _no("NO_SAVINGS_ACCOUNT_AVAILABLE_ON_CARD", "35", R.INVALID_ACCOUNT),
    _no("MOBILE_PIN_REQUIRED", "36", R.AUTHENTICATION_FAILED),
    _no("CONTACTLESS_FALLBACK", "37", R.TRANSACTION_NOT_ALLOWED),
    _no("AUTHENTICATION_REQUIRED", "38", R.AUTHENTICATION_FAILED),
    _no("RREQ_NOT_RECEIVED", "39", R.AUTHENTICATION_FAILED),
    _no("BAN_CURRENT_AID", "40", R.TRANSACTION_NOT_ALLOWED),
    _no("CVM_REQUIRED", "41", R.AUTHENTICATION_FAILED),
    _no("THREED_SECURE_ERROR", "42", R.AUTHENTICATION_FAILED),
    _no("ONLINE_PIN_REQUIRED", "43", R.AUTHENTICATION_FAILED),
    _no("TRY_ANOTHER_INTERFACE", "44", R.TRY_AGAIN_LATER),
    _no("CHIP_DOWNGRADE_MODE", "45", R.TRANSACTION_NOT_ALLOWED),
    _no("ERPS_BLOCK", "46", R.TRY_AGAIN_LATER),
)

BY_HOLDER: Mapping[str, Trigger] = MappingProxyType(
    {t.holder_name: t for t in TRIGGERS})
BY_CODE: Mapping[str, Trigger] = MappingProxyType({t.code: t for t in TRIGGERS})
#: Spellings without the dash, as some integrations send them.
ALIASES: Mapping[str, Trigger] = MappingProxyType({"FRAUD_CANCELLED": BY_CODE["22"]})

#: The refusalReasonCode a wrong expiry date or CVC gets on a test card.
WRONG_EXPIRY = BY_CODE["6"]
WRONG_CVC = BY_CODE["24"]


def trigger_for(holder_name: str | None, requested_code: object) -> Trigger | None:
    """The test response a payment asks for, by acquirer response code or holder name."""
    if requested_code is not None:
        found = BY_CODE.get(str(requested_code).strip())
        if found is not None:
            return found
    if holder_name:
        name = holder_name.strip().upper()
        return BY_HOLDER.get(name) or ALIASES.get(name)
    return None


def decrypt(value: str) -> str | None:
    """The plain value of a test-encrypted field; None when it is not one."""
    if value.startswith(ENCRYPTED_PREFIX):
        return value[len(ENCRYPTED_PREFIX):]
    return None


# -- disputes ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DisputeTrigger:
    """What a dispute holder name asks for once the payment is captured."""

    reason: DisputeReason
    network_reason_code: str | None = None
    #: The issuer reverses the chargeback by itself (Adyen's auto-defence), so it is won
    #: whatever the merchant does.
    reversed: bool = False
    #: After the reversal, the issuer comes back: a second cycle at this stage.
    second_cycle: DisputeStage | None = None

    @property
    def ends(self) -> DisputeStatus | None:
        return DisputeStatus.WON if self.reversed else None


#: A scheme reason code -> the canonical reason it stands for (Visa's and Mastercard's).
REASON_BY_CODE: Mapping[str, DisputeReason] = MappingProxyType({
    code: reason for table in reversed(list(SCHEME_REASON_CODES.values()))
    for reason, code in reversed(list(table.items()))})

_DISPUTE_NAMES: Mapping[str, DisputeTrigger] = MappingProxyType({
    "CHARGEBACK": DisputeTrigger(DisputeReason.FRAUDULENT),
    "CHARGEBACK REVERSED": DisputeTrigger(DisputeReason.FRAUDULENT, reversed=True),
    "SECOND CHARGEBACK": DisputeTrigger(DisputeReason.FRAUDULENT, reversed=True,
                                        second_cycle=DisputeStage.SECOND_CHARGEBACK),
    "PREARBITRATION": DisputeTrigger(DisputeReason.FRAUDULENT, reversed=True,
                                     second_cycle=DisputeStage.PRE_ARBITRATION),
})


def dispute_trigger(holder_name: object) -> DisputeTrigger | None:
    """The dispute a holder name asks for, if it is one of the dispute test names
    (case and surrounding spaces do not matter; `Chargeback:{code}` takes any code,
    an unknown one with the general reason)."""
    if not isinstance(holder_name, str):
        return None
    name = " ".join(holder_name.split()).upper()
    found = _DISPUTE_NAMES.get(name)
    if found is not None:
        return found
    head, sep, code = name.partition(":")
    code = code.strip()
    if head.strip() == "CHARGEBACK" and sep and code:
        return DisputeTrigger(REASON_BY_CODE.get(code, DisputeReason.GENERAL), code)
    return None
