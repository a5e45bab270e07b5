"""Adyen's /payments, /payments/details and /paymentMethods -> canonical commands, and
back: card payments with 3D Secure 2 in the redirect and the native flows."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from paysandbox.core.cards import detect_brand, digits_only, is_expired, luhn_valid
from paysandbox.core.commands import Authorize, Complete, Writes
from paysandbox.core.money import UnknownCurrency, currency
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import CardDetails, Payment, PaymentChanges, Status
from paysandbox.providers.adyen import disputes, magic, reports, tokens, wire
from paysandbox.providers.adyen.notifications import NAME
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.seam import Context

_ENCRYPTED = {"number": "encryptedCardNumber", "expiryMonth": "encryptedExpiryMonth",
              "expiryYear": "encryptedExpiryYear", "cvc": "encryptedSecurityCode"}
BRANDS = ("visa", "mc", "amex", "diners", "discover", "jcb", "cup", "maestro")


def ref_key(account: str, reference: str) -> str:
    """The alias a merchant account's own payment reference resolves through."""
    return f"adyen-ref:{account}:{reference}"


def _token_key(token: str) -> str:
    return f"adyen-redirect:{token}"


def checked_currency(code: str) -> str:
    try:
        return currency(code).code
    except UnknownCurrency:
        raise AdyenError(f"Unsupported currency specified: {code!r}. Use an ISO 4217 code "
                         "such as EUR or USD.", code="138", param="amount.currency") from None


async def create_payment(ctx: Context, params: dict[str, Any]) -> Any:
    """A card payment: the payment, its reference and redirect aliases and, when the
    shopper is challenged, the challenge page's token are written as one unit."""
    code = checked_currency(params["amount"]["currency"])
    native = ((params.get("authenticationData") or {}).get("threeDSRequestData")
              or {}).get("nativeThreeDS") == "preferred"
    method = params["paymentMethod"]
    psp = wire.psp_reference()
    token = method.get("storedPaymentMethodId") or method.get("recurringDetailReference")
    saved = None
    if token:
        saved = await tokens.find(ctx, params["merchantAccount"],
                                  params.get("shopperReference"), str(token),
                                  "paymentMethod.storedPaymentMethodId")
        card, outcome, brand = _stored_card(ctx, saved, method, native)
    else:
        card, outcome, brand = _card(ctx, method, native)
    number = digits_only(_field(method, "number")) if saved is None else ""
    stored = await tokens.use(ctx, params, psp, card, outcome, saved,
                              number if number in magic.BY_NUMBER else "")
    outcome = stored.outcome
    action_url, challenge = ctx.hosted_link(psp)
    redirect = challenge.id  # the redirectResult and authorisationToken too
    extra = params.get("additionalData") or {}
    manual = str(extra.get("manualCapture", "")).lower() == "true" or \
        params.get("captureDelayHours", 0) > 0
    account, reference = params["merchantAccount"], params["reference"]
    payment = Payment(
        id=psp, namespace=ctx.namespace, provider=NAME, amount=params["amount"]["value"],
        currency=code, created=ctx.clock.now(), capture_manual=manual,
        metadata=dict(params.get("metadata") or {}), credential=stored.credential,
        extra={"merchantAccount": account, "reference": reference,
               "returnUrl": params["returnUrl"], "brand": brand, "redirect_token": redirect,
               "native": native, "auth_code": f"{secrets.randbelow(1_000_000):06d}",
               "action_url": action_url, "reports_url": reports.downloads_at(ctx),
               **stored.extra,
               **disputes.test_dispute_extra(method.get("holderName"))})
    # The device fingerprint comes before the challenge: its page opens only once the
    # shopper is challenged (submit_payment_details).
    fingerprint = outcome.action == wire.FINGERPRINT
    writes = Writes(aliases=(ref_key(account, reference), _token_key(redirect)),
                    records=stored.records, on_action=() if fingerprint else (challenge,))
    result = await ctx.execute(Authorize(psp, outcome, PaymentChanges(card=card),
                                         create=payment, writes=writes), payment, card=card)
    disputes.after_capture(ctx, result)
    return wire.payment_response(result.payment)


def _card(ctx: Context, method: Mapping[str, Any], native: bool
          ) -> tuple[CardDetails, Outcome, str]:
    """The card of a scheme payment and the outcome its test values ask for."""
    if method.get("type") != "scheme":
        raise AdyenError(f"Payment details are not supported: paymentMethod.type "
                         f"{method.get('type')!r}. This simulator imitates card payments "
                         "(type 'scheme') only.", code="905", param="paymentMethod.type")
    number = digits_only(_field(method, "number"))
    if not number or not luhn_valid(number) or not 12 <= len(number) <= 19:
        raise AdyenError("Invalid card number", code="101", param="paymentMethod.number")
    month_s, year_s = _field(method, "expiryMonth"), _field(method, "expiryYear")
    if not (month_s.isdigit() and year_s.isdigit() and 1 <= int(month_s) <= 12
            and len(year_s) in (2, 4)):
        raise AdyenError("Expiry Date Invalid: give expiryMonth as 1-12 and expiryYear "
                         "as four digits (test cards: 03 / 2030).", code="129",
                         param="paymentMethod.expiryMonth")
    month, year = int(month_s), int(year_s)
    year = year + 2000 if year < 100 else year
    cvc = _field(method, "cvc")
    if cvc and (not cvc.isdigit() or not 3 <= len(cvc) <= 4):
        raise AdyenError("CVC is not the right length", code="103",
                         param="paymentMethod.cvc")
    test = magic.BY_NUMBER.get(number)
    brand = test.brand if test else _brand(number)
    card = CardDetails(brand=brand, last4=number[-4:], bin=number[:6], exp_month=month,
                       exp_year=year, funding=test.funding if test else "credit",
                       country=test.country if test else "NL",
                       fingerprint=ctx.card_fingerprint(number))
    return card, _outcome(ctx, method, test, month, year, cvc, native), brand


def _stored_card(ctx: Context, saved: tokens.StoredMethodRecord, method: Mapping[str, Any],
                 native: bool) -> tuple[CardDetails, Outcome, str]:
    """A token's card and the outcome its test values ask for (a shopper paying with a
    card that has expired since it was stored is refused; without the shopper, the core
    refuses it)."""
    test = tokens.test_card(saved)
    card = tokens.card_of(saved)
    if tokens.expired(ctx, saved):
        return card, magic.WRONG_EXPIRY.outcome, saved["brand"]
    month, year = (magic.TEST_EXPIRY if test is not None
                   else (saved["exp_month"], saved["exp_year"]))
    return card, _outcome(ctx, method, test, month, year, _field(method, "cvc"), native), \
        saved["brand"]


def _outcome(ctx: Context, method: Mapping[str, Any], test: magic.TestCard | None,
             month: int, year: int, cvc: str, native: bool) -> Outcome:
    trigger = magic.trigger_for(method.get("holderName"),
                                method.get("RequestedTestAcquirerResponseCode"))
    if test is not None and (month, year) != magic.TEST_EXPIRY:
        return magic.WRONG_EXPIRY.outcome
    if test is None and is_expired(month, year, ctx.clock.now_datetime()):
        return magic.WRONG_EXPIRY.outcome
    if test is not None and cvc and cvc != test.cvc:
        return magic.WRONG_CVC.outcome
    then = trigger.outcome if trigger else None
    if test is not None and test.challenge:
        then = Outcome.requires_action(wire.CHALLENGE, then=then)
    if native and test is not None and test.fingerprint:
        # IdentifyShopper first; then the challenge, or a frictionless result
        return Outcome.requires_action(wire.FINGERPRINT, then=then)
    return then or Outcome.approve()


def _field(method: Mapping[str, Any], name: str) -> str:
    """A card field, raw or in Adyen's test encryption (`test_…`)."""
    encrypted_name = _ENCRYPTED[name]
    encrypted = method.get(encrypted_name)
    if encrypted:
        plain = magic.decrypt(str(encrypted))
        if plain is None:
            raise AdyenError(
                f"Unable to decrypt data: {encrypted_name} is not in the test form. "
                f"Send '{magic.ENCRYPTED_PREFIX}' followed by the plain value, for "
                "example \"test_4111111111111111\".", code="174",
                param=f"paymentMethod.{encrypted_name}")
        return plain.strip()
    return str(method.get(name) or "").strip()


def _brand(number: str) -> str:
    found = detect_brand(number).value
    return {"mastercard": "mc", "american_express": "amex", "unionpay": "cup"}.get(found, found)


async def submit_payment_details(ctx: Context, params: dict[str, Any]) -> Any:
    details = params["details"]
    three_ds: Mapping[str, Any] | None = None
    if details.get("threeDSResult"):
        three_ds = _three_ds_result(str(details["threeDSResult"]))
        token = str(three_ds["authorisationToken"])
    elif details.get("redirectResult"):
        token = str(details["redirectResult"])
    else:
        raise AdyenError("Invalid payload provided: give details.redirectResult "
                         "(from the returnUrl) or details.threeDSResult.",
                         code="14_018", param="details")
    p = await ctx.resolve(_token_key(token))
    if p is None:
        raise AdyenError("Invalid payload provided: this redirectResult or "
                         "threeDSResult belongs to no payment of this API key.",
                         code="14_018", param="details")
    if p.status is Status.REQUIRES_ACTION:
        if three_ds is None:
            raise AdyenError("Invalid payload provided: the shopper has not finished "
                             "the 3D Secure challenge yet.", code="14_018",
                             param="details.redirectResult")
        result = await ctx.execute(_three_ds_step(ctx, p, token, three_ds), p)
        disputes.after_capture(ctx, result)
        p = result.payment
    return wire.payment_response(p)


def _three_ds_result(value: str) -> Mapping[str, Any]:
    """A native 3D Secure 2 step's result: base64 JSON with the action's
    `authorisationToken` and `threeDSCompInd` (fingerprint) or `transStatus` (challenge)."""
    try:
        decoded = orjson.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        decoded = None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("authorisationToken"), str):
        raise AdyenError("Invalid payload provided: details.threeDSResult must be base64 "
                         "JSON with the action's authorisationToken and threeDSCompInd "
                         "(after IdentifyShopper) or transStatus (after ChallengeShopper).",
                         code="14_018", param="details.threeDSResult")
    return decoded


#: A device fingerprint's threeDSCompInd (EMV 3DS): Y completed, N not completed, U the
#: ACS has no 3DS Method.
_COMPLETION = frozenset({"Y", "N", "U"})


def _three_ds_step(ctx: Context, p: Payment, token: str, result: Mapping[str, Any]
                   ) -> Complete:
    """The step a threeDSResult finishes: the fingerprint (leading into a challenge, whose
    page opens with it, or a frictionless result) or the challenge (passed when
    transStatus is Y)."""
    if p.action == wire.FINGERPRINT:
        if result.get("threeDSCompInd") not in _COMPLETION:
            raise AdyenError("Invalid payload provided: the payment is waiting for the "
                             "device fingerprint (IdentifyShopper), so threeDSResult must "
                             "carry threeDSCompInd (Y, N or U) with the authorisationToken.",
                             code="14_018", param="details.threeDSResult")
        _, challenge = ctx.hosted_link_at(token, p.id)
        return Complete(p.id, True, chain=True, writes=Writes(on_action=(challenge,)))
    status = result.get("transStatus")
    if not isinstance(status, str) or not status:
        raise AdyenError("Invalid payload provided: the payment is waiting for the 3D Secure "
                         "challenge (ChallengeShopper), so threeDSResult must carry "
                         "transStatus (Y when the shopper passed) with the "
                         "authorisationToken.", code="14_018",
                         param="details.threeDSResult")
    return Complete(p.id, status == "Y")


async def list_payment_methods(ctx: Context, params: dict[str, Any]) -> Any:
    allowed, blocked = params.get("allowedPaymentMethods"), params.get("blockedPaymentMethods")
    if (allowed is not None and "scheme" not in allowed) or "scheme" in (blocked or ()):
        return {"paymentMethods": []}
    return {"paymentMethods": [{"brands": list(BRANDS), "name": "Cards", "type": "scheme"}]}
