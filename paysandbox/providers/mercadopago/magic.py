"""Mercado Pago's documented sandbox test values and what they do.

Source: the Checkout API testing guide (Integration test > Test cards) of
mercadopago.com.br / .com.mx / .com.ar. The outcome of a card payment is chosen by
the cardholder's name given when the card token is created; the card numbers are the
test cards of each site (any number that passes Luhn works, as in the sandbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from paysandbox.core.outcomes import DeclineReason, Outcome

R = DeclineReason


def _no(reason: DeclineReason, status_detail: str) -> Outcome:
    return Outcome.decline(reason, native_code=status_detail)


#: Cardholder name (its first word, any case) -> outcome; status_detail is the native code.
CARDHOLDER_NAMES: Mapping[str, Outcome] = MappingProxyType({
    "APRO": Outcome.approve(),
    "OTHE": _no(R.GENERIC_DECLINE, "cc_rejected_other_reason"),
    "CONT": Outcome.pending(),
    "CALL": _no(R.DO_NOT_HONOR, "cc_rejected_call_for_authorize"),
    "FUND": _no(R.INSUFFICIENT_FUNDS, "cc_rejected_insufficient_amount"),
    "SECU": _no(R.INCORRECT_CVC, "cc_rejected_bad_filled_security_code"),
    "EXPI": _no(R.EXPIRED_CARD, "cc_rejected_bad_filled_date"),
    "FORM": _no(R.GENERIC_DECLINE, "cc_rejected_bad_filled_other"),
    "CARD": _no(R.INCORRECT_NUMBER, "cc_rejected_bad_filled_card_number"),
    "INST": _no(R.INVALID_AMOUNT, "cc_rejected_invalid_installments"),
    "DUPL": _no(R.GENERIC_DECLINE, "cc_rejected_duplicated_payment"),
    "LOCK": _no(R.RESTRICTED_CARD, "cc_rejected_card_disabled"),
    "CTNA": _no(R.CARD_NOT_SUPPORTED, "cc_rejected_card_type_not_allowed"),
    "ATTE": _no(R.WITHDRAWAL_COUNT_LIMIT_EXCEEDED, "cc_rejected_max_attempts"),
    "BLAC": _no(R.FRAUDULENT, "cc_rejected_blacklist"),
    "UNSU": _no(R.TRANSACTION_NOT_ALLOWED, "cc_rejected_other_reason"),
    "TEST": Outcome.approve(),  # "used to apply amount rules": approved here
})


def outcome_for_cardholder(name: str | None) -> Outcome:
    words = (name or "").upper().split()
    return CARDHOLDER_NAMES.get(words[0], Outcome.approve()) if words else Outcome.approve()


#: The sites' test cards: number -> (payment_method_id, payment_type_id).
TEST_CARDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    # Brazil
    "5031433215406351": ("master", "credit_card"),
    "4235647728025682": ("visa", "credit_card"),
    "375365153556885": ("amex", "credit_card"),
    "5067766783888311": ("debelo", "debit_card"),
    # Mexico
    "5474925432670366": ("master", "credit_card"),
    "4075595716483764": ("visa", "credit_card"),
    "371180303257522": ("amex", "credit_card"),
    "5579053461482647": ("debmaster", "debit_card"),
    "4189141221267633": ("debvisa", "debit_card"),
    # Argentina
    "5031755734530604": ("master", "credit_card"),
    "4509953566233704": ("visa", "credit_card"),
    "5287338310253304": ("debmaster", "debit_card"),
    "4002768694395619": ("debvisa", "debit_card"),
})
