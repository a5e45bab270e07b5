"""Adyen's wire format: JSON bodies in, Checkout API objects out.

Also the one place Adyen's error envelope (`{"status", "errorCode", "message",
"errorType", "pspReference"}`) is built, and Adyen's standard notifications: each
NotificationRequestItem signed in `additionalData.hmacSignature` (HMAC-SHA256 over
`pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:
eventCode:success`, keyed by the hex-decoded HMAC key, base64), as
`Adyen.util.is_valid_hmac_notification` checks it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import random
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from paysandbox.contracts import Violation
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Status
from paysandbox.errors import ApiError
from paysandbox.providers.base import data_table
from paysandbox.webhooks.dispatcher import Signed

DOCS = "https://docs.adyen.com"
#: The canonical actions of native 3D Secure 2: the device fingerprint
#: (IdentifyShopper) and the challenge (ChallengeShopper).
FINGERPRINT = "three_ds_fingerprint"
CHALLENGE = "three_ds_challenge"
_PSP_ALPHABET = (string.ascii_uppercase + string.digits).encode()
_TO_PSP = bytes(_PSP_ALPHABET[i % len(_PSP_ALPHABET)] for i in range(256))


def psp_reference() -> str:
    """A 16-character pspReference, alphanumeric as Adyen's current ones are."""
    return random.randbytes(16).translate(_TO_PSP).decode()


# -- errors ---------------------------------------------------------------------------

class AdyenError(ApiError):
    """An error in Adyen's envelope: `code` is Adyen's errorCode."""

    status = 422
    kind = "invalid_request"

    def __init__(self, message: str, *, code: str, status: int | None = None,
                 error_type: str = "validation", param: str | None = None) -> None:
        super().__init__(message, code=code, status=status, param=param,
                         extra={"errorType": error_type})


def unparsable(message: str) -> AdyenError:
    return AdyenError(message, code="702", status=400)


def error_body(exc: ApiError, psp: str) -> dict[str, Any]:
    """Adyen's envelope for any error, ours or the shared plumbing's."""
    code, error_type = exc.code, exc.extra.get("errorType")
    if error_type is None or not code:
        code, error_type = _generic(exc)
    message = exc.message
    if exc.kind == "route_missing":
        closest = exc.extra.get("closest") or []
        message += (f" See {DOCS}/api-explorer/Checkout/71/overview for the Checkout API."
                    + (f" Did you mean: {', '.join(closest)}?" if closest else ""))
    return {"status": exc.status, "errorCode": code, "message": message,
            "errorType": error_type, "pspReference": psp}


def _generic(exc: ApiError) -> tuple[str, str]:
    if exc.status == 401:
        return "000", "security"
    if exc.status == 403:
        return "010", "security"
    if exc.status >= 500:
        return "000", "internal"
    if exc.status == 429:
        return "000", "configuration"
    if exc.status == 413:
        return "702", "validation"
    return "000", "validation"


# -- requests -------------------------------------------------------------------------

def parse_json(raw: bytes, content_type: str) -> Any:
    if content_type not in ("application/json", "application/octet-stream", "") \
            and not content_type.endswith("+json"):
        raise unparsable(f"Unsupported Content-Type '{content_type}': Adyen's APIs "
                         "take JSON bodies. Send 'Content-Type: application/json'.")
    if not raw.strip():
        raise unparsable("Empty input which would have resulted in a null result. Send "
                         "a JSON object, for example {\"merchantAccount\": \"YourAccount\"}.")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise unparsable("Unable to parse the request: the body is not valid UTF-8. "
                         "Encode the JSON body as UTF-8.") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise unparsable(f"Unable to parse the JSON request: {exc}. Check the body is "
                         "one well-formed JSON object.") from None


def field_name(path: Sequence[str | int]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


#: Missing fields Adyen gives their own error code.
_MISSING = {
    "amount": ("100", "Required object 'amount' is not provided."),
    "reference": ("130", "Required field 'reference' is not provided."),
    "returnUrl": ("14_030", "Return URL is missing."),
    "paymentReference": ("130", "Required field 'paymentReference' is not provided."),
}


def violation_error(v: Violation, structure: str) -> AdyenError:
    name = field_name(v.path)
    if v.kind == "missing":
        code, message = _MISSING.get(name, ("702", ""))
        if name.startswith("amount."):
            code, message = "100", f"Required field '{name}' is not provided."
        return AdyenError(message or f"Required field '{name}' is not provided.",
                          code=code, status=422, param=name)
    if name == "amount.value" and v.kind == "range":
        return AdyenError(f"Invalid amount specified: amount.value must be a non-negative "
                          f"integer in minor units, got {v.value}.", code="137", param=name)
    if name == "amount.currency" and v.kind in ("range", "type"):
        return AdyenError(f"Unsupported currency specified: {v.value!r}. Use an ISO 4217 "
                          "code such as EUR.", code="138", param=name)
    if v.kind == "unknown":
        where = ".".join(str(p) for p in v.path[:-1])
        return unparsable(f"Structure '{structure}{'.' + where if where else ''}' contains "
                          f"the following unknown fields: [{v.path[-1]}]")
    if v.kind == "type":
        shown = v.shown if isinstance(v.value, str | int | float) else type(v.value).__name__
        return unparsable(f"Unable to parse field '{name}': {shown!r} {v.message}.")
    return AdyenError(f"Invalid field '{name}': {v.message}.", code="702", status=422,
                      param=name)


# -- responses ------------------------------------------------------------------------



def codes() -> Mapping[str, Mapping[str, Any]]:
    """Canonical decline reason -> Adyen's code, reason, resultCode and raw response."""
    return data_table(__name__)


def refusals() -> Mapping[str, Mapping[str, Any]]:
    """Every documented refusalReasonCode -> refusalReason and resultCode."""
    return data_table(__name__, "refusals.yaml")


def refusal(p: Payment) -> tuple[str, str, str, str]:
    """(resultCode, refusalReason, refusalReasonCode, refusalReasonRaw) of a refused
    payment: a native code from a test value or a scenario, else the mapping of its
    canonical reason."""
    table = refusals()
    mapped = codes()[(p.decline or DeclineReason.GENERIC_DECLINE).value]
    code, raw = mapped["code"], mapped["raw"]
    if p.decline_code is not None and p.decline_code in table and p.decline_code != code:
        code, raw = p.decline_code, ""
    row = table[code]
    return row["resultCode"], row["reason"], code, raw or f"DECLINED {row['reason']}"


_AUTHORISED = frozenset({Status.AUTHORIZED, Status.CAPTURED, Status.PARTIALLY_REFUNDED,
                         Status.REFUNDED})


def result_code(p: Payment) -> str:
    if p.status in _AUTHORISED:
        return "Authorised"
    if p.status is Status.FAILED:
        return refusal(p)[0]
    if p.status is Status.REQUIRES_ACTION:
        if not p.extra.get("native"):
            return "RedirectShopper"
        return "IdentifyShopper" if p.action == FINGERPRINT else "ChallengeShopper"
    if p.status is Status.PENDING:
        return "Received"
    if p.status in (Status.VOIDED, Status.EXPIRED):
        return "Cancelled"
    return "Received"


def amount(value: int, currency: str) -> dict[str, Any]:
    return {"currency": currency, "value": value}


def payment_response(p: Payment) -> dict[str, Any]:
    x = p.extra
    out: dict[str, Any] = {
        "additionalData": _additional_data(p),
        "amount": amount(p.amount, p.currency),
        "merchantReference": x.get("reference"),
        "paymentMethod": {"brand": x.get("brand", "visa"), "type": "scheme"},
        "pspReference": p.id,
        "resultCode": result_code(p),
    }
    if p.status is Status.FAILED:
        _, reason, code, _ = refusal(p)
        out["refusalReason"] = reason
        out["refusalReasonCode"] = code
    if p.status is Status.REQUIRES_ACTION:
        out["action"] = action(p)
        out.pop("pspReference")  # Adyen gives it once the payment is authorised or refused
    return out


def _additional_data(p: Payment) -> dict[str, str]:
    card = p.card
    data: dict[str, str] = {}
    if card is not None:
        data.update(cardSummary=card.last4, cardBin=card.bin,
                    expiryDate=f"{card.exp_month}/{card.exp_year}",
                    fundingSource=card.funding.upper(), issuerCountry=card.country,
                    paymentMethod=p.extra.get("brand", card.brand))
    if p.status in _AUTHORISED:
        data["authCode"] = p.extra.get("auth_code", "")
        data["refusalReasonRaw"] = "AUTHORISED"
        data.update(_stored_credential(p))
    elif p.status is Status.FAILED:
        data["refusalReasonRaw"] = refusal(p)[3]
    return data


def _stored_credential(p: Payment) -> dict[str, str]:
    """An authorised payment's network transaction id and, when it stored the card,
    its token (the fields Adyen returns once they are enabled in the Customer Area)."""
    credential = p.credential
    if credential is None:
        return {}
    data: dict[str, str] = {}
    if credential.network_transaction_id:
        data["networkTxReference"] = credential.network_transaction_id
    shopper = p.extra.get("shopperReference", "")
    if credential.saves and credential.stored_method:
        token = credential.stored_method
        data.update({"tokenization.storedPaymentMethodId": token,
                     "tokenization.shopperReference": shopper,
                     "tokenization.store.operationType": p.extra.get("token_operation",
                                                                     "created"),
                     "recurring.recurringDetailReference": token,
                     "recurring.shopperReference": shopper})
    return data


def action(p: Payment) -> dict[str, Any]:
    x = p.extra
    if x.get("native") and p.action == FINGERPRINT:
        return fingerprint_action(p)
    if x.get("native"):
        token = base64.b64encode(orjson.dumps({
            "acsTransID": x.get("redirect_token"), "acsURL": x.get("action_url"),
            "messageVersion": "2.2.0", "threeDSServerTransID": p.id})).decode()
        return {"authorisationToken": x.get("redirect_token"), "paymentMethodType": "scheme",
                "subtype": "challenge", "token": token, "type": "threeDS2",
                "url": x.get("action_url")}
    return {"method": "GET", "paymentMethodType": "scheme", "type": "redirect",
            "url": x.get("action_url")}


def fingerprint_action(p: Payment) -> dict[str, Any]:
    """IdentifyShopper's action: `token` is what the 3DS2 Component fingerprints the
    device with (the 3DS Server transaction and where the 3DS Method reports); the
    client answers with a threeDSResult carrying `threeDSCompInd` and the
    `authorisationToken`. There is no 3DS Method page here: the fingerprint is whatever
    the client reports."""
    x = p.extra
    auth = x.get("redirect_token", "")
    token = base64.b64encode(orjson.dumps({
        "threeDSMethodNotificationURL": x.get("returnUrl", ""),
        "threeDSServerTransID": p.id})).decode()
    return {"authorisationToken": auth, "paymentData": auth, "paymentMethodType": "scheme",
            "subtype": "fingerprint", "token": token, "type": "threeDS2"}


def modification_response(kind: str, p: Payment, psp: str, request: Mapping[str, Any]
                          ) -> dict[str, Any]:
    out: dict[str, Any] = {"merchantAccount": request["merchantAccount"],
                           "paymentPspReference": p.id, "pspReference": psp,
                           "status": "received"}
    if "reference" in request:
        out["reference"] = request["reference"]
    if "amount" in request:
        out["amount"] = dict(request["amount"])
    if kind == "amount_updates":
        out["reference"] = request.get("reference", "")
    if kind == "refunds" and "merchantRefundReason" in request:
        out["merchantRefundReason"] = request["merchantRefundReason"]
    return out


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


# -- notifications --------------------------------------------------------------------

def notification_item(*, psp: str, original: str | None, merchant_account: str,
                      merchant_reference: str, value: int, currency: str, event_code: str,
                      success: bool, at: float, reason: str = "", payment_method: str = "",
                      operations: Sequence[str] = ()) -> dict[str, Any]:
    item: dict[str, Any] = {
        "additionalData": {},
        "amount": amount(value, currency),
        "eventCode": event_code,
        "eventDate": datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds"),
        "merchantAccountCode": merchant_account,
        "merchantReference": merchant_reference,
        "pspReference": psp,
        "reason": reason,
        "success": "true" if success else "false",
    }
    if original:
        item["originalReference"] = original
    if payment_method:
        item["paymentMethod"] = payment_method
    if operations:
        item["operations"] = list(operations)
    return item


def notification(item: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"live": "false",
                         "notificationItems": [{"NotificationRequestItem": item}]})


def _key(secret: str) -> bytes:
    try:
        return binascii.unhexlify(secret)
    except (binascii.Error, ValueError):
        # Not a hex HMAC key (e.g. a scenario's deliberately wrong one): sign with
        # something, so the receiver's check fails instead of the delivery.
        return hashlib.sha256(secret.encode()).digest()


def hmac_signature(item: Mapping[str, Any], secret: str) -> str:
    amt = item.get("amount") or {}
    fields = (item.get("pspReference", ""), item.get("originalReference", ""),
              item.get("merchantAccountCode", ""), item.get("merchantReference", ""),
              amt.get("value", ""), amt.get("currency", ""), item.get("eventCode", ""),
              item.get("success", ""))
    payload = ":".join(str(f) for f in fields).encode()
    return base64.b64encode(hmac.new(_key(secret), payload, hashlib.sha256).digest()).decode()


class AdyenWebhooks:
    """Standard notifications: signed inside the body, acknowledged with `[accepted]`."""

    # Adyen retries an unacknowledged notification after 2, 5, 10, 15 and 30 minutes,
    # 1, 2, 4 and 8 hours, then every 8 hours for 30 days
    # (https://docs.adyen.com/development-resources/webhooks/troubleshoot#retry);
    # virtual seconds.
    retry_schedule: Sequence[float] = (
        120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
        *(28800.0 for _ in range(87)))

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        doc = orjson.loads(body)
        for wrapper in doc.get("notificationItems", ()):
            item = wrapper["NotificationRequestItem"]
            extra = {k: v for k, v in (item.get("additionalData") or {}).items()
                     if k != "hmacSignature"}
            item["additionalData"] = {**extra, "hmacSignature": hmac_signature(item, secret)}
        return Signed(orjson.dumps(doc), {"Content-Type": "application/json; charset=utf-8",
                                          "User-Agent": "Adyen HttpClient 1.0"})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300 and body.strip() == b"[accepted]"
