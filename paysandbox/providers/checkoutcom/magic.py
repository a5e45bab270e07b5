"""Checkout.com's documented sandbox test values and what they do.

Sources (Checkout.com docs, Developer resources > Testing):
- "Test cards", section "Response code tests": card numbers that answer one response
  code (https://www.checkout.com/docs/developer-resources/testing/test-cards).
- "Test cards", section "3D Secure test cards": frictionless and challenge outcomes,
  and the cards that are not enrolled in 3DS.
- "Response code testing": amounts that trigger a response code, for currencies with
  two decimals only ("divide by 100" currencies); `xxx05` means any amount whose last
  two digits are 05 (https://docs.checkout.com/testing/response-code-testing).
- "Disputes testing": a payment made with a test dispute scenario's amount and card
  expiry date is disputed about a minute after it is captured; without a scenario no
  dispute is created (https://www.checkout.com/docs/testing/disputes-testing). The
  scenario the page spells out is its request example: any valid card expiring 01/2099,
  amount 10.40 in a two-decimal currency (1040 minor units, "Testing disputes for
  Visa"): a fraudulent dispute under Visa's reason code 10.4.

Any other number that passes Luhn is approved (10000), as in the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from paysandbox.core.disputes import DisputePlan, DisputeReason
from paysandbox.core.outcomes import DeclineReason, Outcome

R = DeclineReason


@dataclass(frozen=True, slots=True)
class Code:
    """A response code as the API reports it, and the canonical reason behind it."""

    summary: str
    reason: DeclineReason


#: Every non-approval response code a test value can produce (API response codes,
#: https://www.checkout.com/docs/resources/codes/api-response-codes).
RESPONSE_CODES: Mapping[str, Code] = {
    "20001": Code("Refer to card issuer", R.GENERIC_DECLINE),
    "20005": Code("Declined - Do Not Honour", R.DO_NOT_HONOR),
    "20012": Code("Invalid Transaction", R.TRANSACTION_NOT_ALLOWED),
    "20014": Code("Invalid Card Number", R.INCORRECT_NUMBER),
    "20051": Code("Insufficient Funds", R.INSUFFICIENT_FUNDS),
    "20054": Code("Expired Card", R.EXPIRED_CARD),
    "20057": Code("Transaction not permitted to cardholder", R.TRANSACTION_NOT_ALLOWED),
    "20059": Code("Suspected Fraud", R.FRAUDULENT),
    "20061": Code("Activity amount limit exceeded", R.CARD_VELOCITY_EXCEEDED),
    "20062": Code("Restricted Card", R.RESTRICTED_CARD),
    "20063": Code("Security Violation", R.FRAUDULENT),
    "20068": Code("Response received too late / timeout", R.ISSUER_UNAVAILABLE),
    "20078": Code("Blocked, first use - transaction from new cardholder, card not "
                  "properly unblocked", R.RESTRICTED_CARD),
    "20087": Code("Bad Track Data", R.PROCESSING_ERROR),
    "20150": Code("Card not 3D Secure enabled", R.CARD_NOT_SUPPORTED),
    "20151": Code("Cardholder failed 3DS authentication", R.AUTHENTICATION_FAILED),
    "20154": Code("3D Secure authentication required", R.AUTHENTICATION_REQUIRED),
    "2005C": Code("Transaction not supported / blocked by issuer", R.TRANSACTION_NOT_ALLOWED),
    "2009G": Code("Blocked by cardholder / Contact cardholder", R.RESTRICTED_CARD),
    "200N7": Code("Decline for CVV2 failure", R.INCORRECT_CVC),
    "200R1": Code("Issuer initiated a stop payment (revocation order) for this "
                  "authorization", R.REVOCATION_OF_AUTHORIZATION),
    "200R3": Code("Issuer initiated a stop payment (revocation order) for all "
                  "authorizations", R.REVOCATION_OF_AUTHORIZATION),
    "30015": Code("No such issuer", R.INVALID_ACCOUNT),
    "30033": Code("Expired Card - Pick Up", R.EXPIRED_CARD),
    "30041": Code("Lost Card - Pick Up", R.LOST_CARD),
    "30043": Code("Stolen Card - Pick Up", R.STOLEN_CARD),
    "40101": Code("Risk Blocked Transaction", R.FRAUDULENT),
    "40108": Code("Gateway Reject - Post code failed", R.FRAUDULENT),
}


def declined(code: str) -> Outcome:
    return Outcome.decline(RESPONSE_CODES[code].reason, native_code=code)


#: "Response code tests": card number -> response code.
CARD_CODES: Mapping[str, str] = {
    "4734868958733862": "200N7",
    "4567361325981788": "200R3",
    "4111111111111129": "20001",
    "4024007103573027": "20012",
    "4158596042924182": "20012",
    "4485381577182090": "20014",
    "4544249167673670": "20051",
    "4724117215951699": "20054",
    "4000141680788456": "20054",
    "4659465888705671": "20057",
    "4151512736305999": "20057",
    "4897453568485113": "20059",
    "4000144348235050": "20059",
    "4556294593757189": "20061",
    "4818924250131070": "20062",
    "4556253752712245": "20063",
    "4095254802642505": "20068",
    "4532819413487978": "20078",
    "4500622868341387": "20154",
    "4276038578596818": "2005C",
    "4152812521833588": "2009G",
    "4024007162185267": "30015",
    "4655710037275959": "30015",
    "4941202060999329": "30041",
    "4658620059821613": "30041",
    "4539253655711767": "30043",
    "4745820750643143": "30043",
}

#: "Response code testing": amounts whose last two digits trigger a code...
AMOUNT_SUFFIX_CODES: Mapping[int, str] = {
    5: "20005", 12: "20012", 14: "20014", 51: "20051", 54: "20087", 62: "20062",
    63: "20063", 33: "30033",
}
#: ...and whole amounts that do.
AMOUNT_CODES: Mapping[int, str] = {
    9998: "20068", 6510: "20154", 6520: "20154", 6530: "20154", 6540: "20154",
    4001: "40101", 4008: "40108", 2011: "200R1", 2013: "200R3",
}


class ThreeDs(StrEnum):
    """What a "3D Secure test cards" number does when `3ds.enabled` is true."""

    FRICTIONLESS = "frictionless"  # authenticated without a challenge
    FRICTIONLESS_FAILED = "frictionless_failed"  # not authenticated / rejected
    CHALLENGE = "challenge"  # the shopper decides on the challenge page
    CHALLENGE_FAILED = "challenge_failed"  # the challenge always ends rejected
    NOT_ENROLLED = "not_enrolled"  # card not enrolled / not 3DS-enabled: 20150


THREE_DS_CARDS: Mapping[str, ThreeDs] = {
    # Frictionless: authentication successful.
    "4485040371536584": ThreeDs.FRICTIONLESS,
    "5588686116426417": ThreeDs.FRICTIONLESS,
    "345678901234564": ThreeDs.FRICTIONLESS,
    # Frictionless: not authenticated, authentication rejected.
    "4539628347117863": ThreeDs.FRICTIONLESS_FAILED,
    "371064645462927": ThreeDs.FRICTIONLESS_FAILED,
    "343397288296672": ThreeDs.FRICTIONLESS_FAILED,
    "4275765574319271": ThreeDs.FRICTIONLESS_FAILED,
    # Challenge: authentication successful or attempted.
    "372688581899681": ThreeDs.CHALLENGE,
    "5385308360135181": ThreeDs.CHALLENGE,
    "4010061700000021": ThreeDs.CHALLENGE,
    "4152868552773614": ThreeDs.CHALLENGE,
    "346126139326850": ThreeDs.CHALLENGE,
    # Challenge: authentication rejected, not authenticated.
    "375982239796002": ThreeDs.CHALLENGE_FAILED,
    "4150561000000019": ThreeDs.CHALLENGE_FAILED,
    "4243754271700719": ThreeDs.CHALLENGE_FAILED,
    "5258901507741160": ThreeDs.CHALLENGE_FAILED,
    # Card not enrolled, and cards that are not 3DS-enabled.
    "4484070000035519": ThreeDs.NOT_ENROLLED,
    "378282246310005": ThreeDs.NOT_ENROLLED,
    "3530111333300000": ThreeDs.NOT_ENROLLED,
    "5352151570003404": ThreeDs.NOT_ENROLLED,
    "4532432452900131": ThreeDs.NOT_ENROLLED,
}


def authorization_outcome(number: str, amount: int, minor_units: int) -> Outcome:
    """What the issuer answers for this card and amount, 3DS aside: a response-code
    test card first, then the amount triggers (two-decimal currencies only)."""
    code = CARD_CODES.get(number)
    if code is None and minor_units == 2:
        code = AMOUNT_CODES.get(amount) or AMOUNT_SUFFIX_CODES.get(amount % 100)
    return declined(code) if code else Outcome.approve()


def outcome(number: str, amount: int, minor_units: int, *, three_ds: bool,
            attempt_n3d: bool = False) -> Outcome:
    """The whole outcome of a payment request: the 3DS step (when asked for) in front
    of the issuer's answer."""
    issuer = authorization_outcome(number, amount, minor_units)
    if not three_ds:
        return issuer
    kind = THREE_DS_CARDS.get(number, ThreeDs.CHALLENGE)
    if kind is ThreeDs.FRICTIONLESS:
        return issuer
    if kind is ThreeDs.FRICTIONLESS_FAILED:
        return declined("20151")
    if kind is ThreeDs.NOT_ENROLLED:
        return issuer if attempt_n3d else declined("20150")
    then = declined("20151") if kind is ThreeDs.CHALLENGE_FAILED else \
        (None if issuer.is_approved else issuer)
    return Outcome.requires_action("three_ds_challenge", then=then)


#: "Disputes testing": the dispute appears about a minute after the capture (virtual
#: seconds).
DISPUTE_AFTER = 60.0

#: (amount in minor units of a two-decimal currency, expiry month, expiry year) -> the
#: dispute that payment draws once captured.
DISPUTE_SCENARIOS: Mapping[tuple[int, int, int], DisputePlan] = {
    (1040, 1, 2099): DisputePlan(reason=DisputeReason.FRAUDULENT, after=DISPUTE_AFTER,
                                 network_reason_code="10.4"),
}


def dispute_scenario(amount: int, minor_units: int, expiry_month: object,
                     expiry_year: object) -> DisputePlan | None:
    """The test dispute a payment request's amount and card expiry date ask for, if
    any (two-decimal currencies only, as the page says)."""
    if minor_units != 2:
        return None
    return DISPUTE_SCENARIOS.get((amount, _int(expiry_month), _int(expiry_year)))


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1
