"""Each provider's documented sandbox test values, as one table an agent can read.

The values themselves live in each provider's `magic.py` (what the engine acts on) and
`codes.yaml` (how a canonical decline reason reads in the provider's own codes); this
module only lays them out the same way for every provider: the value, where it goes in
a request, and what the simulator answers. A provider plugin that this module does not
know still gets its decline codes, from the `codes.yaml` beside its code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from paysandbox.core.outcomes import Outcome, OutcomeKind
from paysandbox.providers import base

Row = dict[str, str]


def describe(outcome: Outcome | None) -> str:
    """An outcome in words: "approved", "declined: insufficient_funds (native 20051)",
    "3-D Secure challenge, then approved"."""
    if outcome is None:
        return "no answer: the payment stays pending until it expires"
    if outcome.kind is OutcomeKind.APPROVE:
        return "approved"
    if outcome.kind is OutcomeKind.DECLINE:
        reason = outcome.reason.value if outcome.reason else "declined"
        native = f" (native {outcome.native_code})" if outcome.native_code else ""
        return f"declined: {reason}{native}"
    then = describe(outcome.then) if outcome.then is not None else "approved"
    if outcome.kind is OutcomeKind.REQUIRES_ACTION:
        step = "3-D Secure challenge" if outcome.action == "three_ds_challenge" else \
            str(outcome.action)
        return f"{step}, then {then}"
    return f"pending, then {then}"


def _magic(provider: str) -> Any:
    return importlib.import_module(f"paysandbox.providers.{provider}.magic")


def _stripe() -> Iterable[Row]:
    m = _magic("stripe")
    for card in m.CARDS:
        yield {"value": card.number, "where": "card number (or the PaymentMethod "
               f"{', '.join(a for a in card.aliases if a.startswith('pm_')) or 'made from it'})",
               "result": describe(card.outcome)}
    yield {"value": m.INCORRECT_NUMBER, "where": "card number",
           "result": "refused: fails the Luhn check (incorrect_number)"}
    yield {"value": "any other number that passes Luhn", "where": "card number",
           "result": "approved"}


def _adyen() -> Iterable[Row]:
    m = _magic("adyen")
    month, year = m.TEST_EXPIRY
    for card in m.CARDS:
        result = "3-D Secure 2 challenge, then Authorised" if card.challenge else \
            "3-D Secure 2 device fingerprint, then Authorised" if card.fingerprint else \
            "Authorised"
        yield {"value": card.number, "where": f"card number ({card.brand}), expiry "
               f"{month:02d}/{year}, CVC {card.cvc}", "result": result}
    for t in m.TRIGGERS:
        yield {"value": t.holder_name, "where": "paymentMethod.holderName (or "
               f"additionalData.RequestedTestAcquirerResponseCode {t.code})",
               "result": describe(t.outcome)}


def _checkoutcom() -> Iterable[Row]:
    m = _magic("checkoutcom")
    for number, code in m.CARD_CODES.items():
        yield {"value": number, "where": "source.number",
               "result": f"{code} {m.RESPONSE_CODES[code].summary}"}
    for amount, code in m.AMOUNT_CODES.items():
        yield {"value": str(amount), "where": "amount (minor units, two-decimal currency)",
               "result": f"{code} {m.RESPONSE_CODES[code].summary}"}
    for suffix, code in m.AMOUNT_SUFFIX_CODES.items():
        yield {"value": f"amount ending in {suffix:02d}",
               "where": "amount (minor units, two-decimal currency)",
               "result": f"{code} {m.RESPONSE_CODES[code].summary}"}
    for number, kind in m.THREE_DS_CARDS.items():
        yield {"value": number, "where": "source.number with 3ds.enabled",
               "result": f"3-D Secure: {kind.value.replace('_', ' ')}"}


def _mercadopago() -> Iterable[Row]:
    m = _magic("mercadopago")
    for name, outcome in m.CARDHOLDER_NAMES.items():
        yield {"value": name, "where": "cardholder.name of the card token (first word)",
               "result": describe(outcome)}
    for number, (method, kind) in m.TEST_CARDS.items():
        yield {"value": number, "where": f"card number ({method}, {kind})",
               "result": "as the cardholder name says"}


def _razorpay() -> Iterable[Row]:
    m = _magic("razorpay")
    for amount, outcome in m.BY_AMOUNT.items():
        yield {"value": str(amount), "where": "amount (paise) of a UPI collect payment",
               "result": describe(outcome)}
    for vpa, outcome in m.BY_VPA.items():
        yield {"value": vpa, "where": "UPI VPA of a collect payment",
               "result": describe(outcome)}


def _daraja() -> Iterable[Row]:
    m = _magic("daraja")
    for phone, outcome in m.BY_PHONE.items():
        yield {"value": phone, "where": "PhoneNumber of an STK push",
               "result": describe(outcome)}
    yield {"value": "any other phone number", "where": "PhoneNumber of an STK push",
           "result": "approved"}


def _mollie() -> Iterable[Row]:
    m = _magic("mollie")
    for choice in m.PAGE_CHOICES:
        yield {"value": choice, "where": "the hosted test checkout's choice (or "
               "complete_payment)", "result": f"the payment becomes {choice}"}
    for method in m.METHODS.values():
        yield {"value": method.id, "where": "method",
               "result": f"open until it expires after {method.lifetime / 60:g} minutes"}


CATALOGUES: Mapping[str, Callable[[], Iterable[Row]]] = {
    "stripe": _stripe, "adyen": _adyen, "checkoutcom": _checkoutcom,
    "mercadopago": _mercadopago, "razorpay": _razorpay, "daraja": _daraja, "mollie": _mollie,
}


def test_values(provider: str) -> list[Row]:
    """The provider's test values; empty for a provider this module does not know."""
    found = CATALOGUES.get(provider)
    return list(found()) if found is not None else []


def decline_codes(provider: Any) -> dict[str, Any]:
    """Canonical decline reason -> the provider's own code and words (its codes.yaml)."""
    try:
        return dict(base.data_table(type(provider).__module__))
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
