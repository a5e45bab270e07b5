"""Adyen Checkout API v71 over its public HTTP API, and its HMAC-signed webhooks.

Docs: https://docs.adyen.com/api-explorer/Checkout/71/post/payments (X-API-Key,
`resultCode` Authorised / Refused / RedirectShopper / …), modifications
`/payments/{pspReference}/captures|refunds` answering `"status": "received"` (the result
comes by webhook), https://docs.adyen.com/development-resources/webhooks/verify-hmac-signatures
(HMAC-SHA256 over `psp:original:merchantAccount:merchantReference:value:currency:
eventCode:success`, keyed by the hex key, base64).

Disputes: https://docs.adyen.com/risk-management/disputes-api/dispute-notifications (every
notification of a dispute has the dispute's pspReference, the payment's as
originalReference, and a disputeStatus) and the Disputes API
(https://docs.adyen.com/api-explorer/Disputes/30/overview, on the Customer Area host:
ca-test.adyen.com/ca/services/DisputeService/v30), answered with a defense document and
`defendDispute`; its answers say `disputeServiceResult.success`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp

from paysandbox.examples.payment_service.adapters.base import (
    AUTHORIZED,
    CANCELED,
    CAPTURED,
    DECLINED,
    DISPUTE_LOST,
    DISPUTE_OPEN,
    DISPUTE_UNDER_REVIEW,
    DISPUTE_WON,
    PENDING,
    REFUNDED,
    REQUIRES_ACTION,
    BadSignature,
    DisputeNotice,
    PaymentRequest,
    ProviderResult,
    Rejected,
    WebhookUpdate,
    send,
)

_ACTION = {"RedirectShopper", "ChallengeShopper", "IdentifyShopper", "PresentToShopper"}
_DECLINED = {"Refused", "Error", "Cancelled"}
_EVENTS = {"CAPTURE": CAPTURED, "REFUND": REFUNDED, "CANCELLATION": CANCELED,
           "CANCEL_OR_REFUND": CANCELED}
#: Where a dispute stands by its notification's disputeStatus (the event code says the
#: rest: a reversal is won, a pre-arbitration lost is lost).
_DISPUTE_STATUS = {"Unresponded": DISPUTE_OPEN, "Undefended": DISPUTE_OPEN,
                   "Responded": DISPUTE_UNDER_REVIEW, "Pending": DISPUTE_UNDER_REVIEW,
                   "Won": DISPUTE_WON, "Lost": DISPUTE_LOST, "Expired": DISPUTE_LOST,
                   "Accepted": DISPUTE_LOST}
_DISPUTE_EVENTS = {"NOTIFICATION_OF_CHARGEBACK": DISPUTE_OPEN, "CHARGEBACK": DISPUTE_OPEN,
                   "REQUEST_FOR_INFORMATION": DISPUTE_OPEN, "SECOND_CHARGEBACK": DISPUTE_OPEN,
                   "PREARBITRATION_OPEN": DISPUTE_OPEN,
                   "INFORMATION_SUPPLIED": DISPUTE_UNDER_REVIEW,
                   "CHARGEBACK_REVERSED": DISPUTE_WON, "PREARBITRATION_WON": DISPUTE_WON,
                   "ISSUER_RESPONSE_TIMEFRAME_EXPIRED": DISPUTE_WON,
                   "PREARBITRATION_LOST": DISPUTE_LOST,
                   "DISPUTE_DEFENSE_PERIOD_ENDED": DISPUTE_LOST}
#: The defense every dispute takes: a document with what the service knows.
DEFENSE_REASON, DEFENSE_DOCUMENT = "SupplyDefenseMaterial", "DefenseMaterial"


class AdyenAdapter:
    name = "adyen"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                 merchant_account: str = "PaysandboxReferenceECOM", webhook_secret: str = "",
                 timeout: float = 5.0, version: str = "v71",
                 disputes_url: str | None = None) -> None:
        self.session, self.base = session, f"{base_url.rstrip('/')}/{version}"
        self.api_key, self.merchant_account = api_key, merchant_account
        self.webhook_secret, self.timeout = webhook_secret, timeout
        self.disputes_url = (disputes_url or disputes_base(base_url)).rstrip("/")

    async def _call(self, path: str, body: Mapping[str, Any], idempotency_key: str
                    ) -> tuple[int, Any]:
        headers = {"X-API-Key": self.api_key, "Idempotency-Key": idempotency_key}
        status, parsed, text = await send(self.session, "POST", f"{self.base}{path}",
                                          timeout=self.timeout, json=body, headers=headers)
        if status >= 400:
            raise Rejected(status, text)
        return status, parsed

    async def authorize(self, request: PaymentRequest, idempotency_key: str) -> ProviderResult:
        body: dict[str, Any] = {
            "merchantAccount": self.merchant_account, "reference": request.reference,
            "amount": {"value": request.amount, "currency": request.currency.upper()},
            "returnUrl": request.return_url, "channel": "Web",
        }
        extra: dict[str, str] = {}
        mit = request.mit
        if mit is not None and mit.token:
            body["paymentMethod"] = {"type": "scheme", "storedPaymentMethodId": mit.token}
        else:
            card = request.card_details
            body["paymentMethod"] = {"type": "scheme", "number": card.number,
                                     "expiryMonth": f"{card.exp_month:02d}",
                                     "expiryYear": str(card.exp_year),
                                     "holderName": card.holder}
            if mit is None:
                body["paymentMethod"]["cvc"] = card.cvc
            elif mit.network_transaction_id:
                extra["networkTxReference"] = mit.network_transaction_id
        if mit is not None:
            body.update({"shopperInteraction": "ContAuth",
                         "recurringProcessingModel": "Subscription"})
            if mit.customer:
                body["shopperReference"] = mit.customer
        elif request.save_card:
            body.update({"storePaymentMethod": True, "shopperInteraction": "Ecommerce",
                         "recurringProcessingModel": "Subscription",
                         "shopperReference": shopper_reference(
                             request.customer_id or request.reference)})
        if not request.capture:
            extra["manualCapture"] = "true"
        if extra:
            body["additionalData"] = extra
        if request.email:
            body["shopperEmail"] = request.email
        if request.country:
            body["countryCode"] = request.country
        _, res = await self._call("/payments", body, idempotency_key)
        code = res.get("resultCode", "")
        psp = res.get("pspReference", "")
        if code == "Authorised":
            data = res.get("additionalData") or {}
            saved = request.save_card and mit is None
            return ProviderResult(
                CAPTURED if request.capture else AUTHORIZED, psp, raw=res,
                token=data.get("tokenization.storedPaymentMethodId") if saved else None,
                customer=body.get("shopperReference"),
                network_transaction_id=data.get("networkTxReference"))
        if code in _ACTION:
            action = res.get("action") or {}
            return ProviderResult(REQUIRES_ACTION, psp or action.get("paymentData", ""),
                                  action_url=action.get("url"), raw=res)
        if code in _DECLINED:
            return ProviderResult(DECLINED, psp, decline_code=res.get("refusalReasonCode"),
                                  message=res.get("refusalReason"), raw=res)
        return ProviderResult(PENDING, psp, raw=res)

    async def _modify(self, kind: str, reference: str, amount: int, currency: str,
                      idempotency_key: str, status: str) -> ProviderResult:
        _, res = await self._call(f"/payments/{reference}/{kind}", {
            "merchantAccount": self.merchant_account, "reference": idempotency_key[:80],
            "amount": {"value": amount, "currency": currency.upper()}}, idempotency_key)
        if res.get("status") != "received":
            raise Rejected(200, json.dumps(res))
        # "received" means Adyen queued it; the CAPTURE / REFUND webhook confirms it.
        return ProviderResult(status, reference, raw=res)

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult:
        return await self._modify("captures", reference, amount, currency, idempotency_key,
                                  CAPTURED)

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult:
        return await self._modify("refunds", reference, amount, currency, idempotency_key,
                                  REFUNDED)

    async def retrieve(self, reference: str) -> ProviderResult | None:
        return None  # Checkout API has no GET for a payment: webhooks tell the outcome

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        doc = json.loads(body)
        updates = []
        for wrapper in doc.get("notificationItems", []):
            item = wrapper.get("NotificationRequestItem", {})
            verify_item(item, self.webhook_secret)
            ok = item.get("success") == "true"
            code = item.get("eventCode", "")
            if code == "AUTHORISATION":
                updates.append(WebhookUpdate(item["pspReference"],
                                             AUTHORIZED if ok else DECLINED, code))
            elif code in _DISPUTE_EVENTS and item.get("originalReference"):
                updates.append(WebhookUpdate(item["originalReference"], None, code,
                                             dispute=dispute_notice(item)))
            elif code in _EVENTS and ok:
                updates.append(WebhookUpdate(item.get("originalReference")
                                             or item["pspReference"], _EVENTS[code], code))
        return updates

    async def submit_evidence(self, dispute_id: str, evidence: Mapping[str, str]) -> str:
        """Supply the evidence as one defense document, then defend with it."""
        document = "\n".join(f"{k}: {v}" for k, v in evidence.items()).encode()
        body = {"merchantAccountCode": self.merchant_account,
                "disputePspReference": dispute_id}
        await self._dispute_call("/supplyDefenseDocument", {**body, "defenseDocuments": [{
            "defenseDocumentTypeCode": DEFENSE_DOCUMENT, "contentType": "application/pdf",
            "content": base64.b64encode(document).decode()}]})
        await self._dispute_call("/defendDispute",
                                 {**body, "defenseReasonCode": DEFENSE_REASON})
        return DISPUTE_UNDER_REVIEW

    def evidence_for(self, payment: Mapping[str, Any]) -> dict[str, str]:
        evidence = {"order": f"{payment['id']}: {payment['amount']} "
                             f"{str(payment['currency']).upper()}",
                    "statement": f"Payment {payment['id']} was authorised by the cardholder "
                                 "and delivered."}
        if payment.get("email"):
            evidence["customer_email"] = str(payment["email"])
        return evidence

    async def _dispute_call(self, path: str, body: Mapping[str, Any]) -> Any:
        """A Disputes API call; its refusal (`success: false`, e.g. the defense period
        ended) is Rejected like an HTTP error."""
        status, parsed, text = await send(
            self.session, "POST", f"{self.disputes_url}{path}", timeout=self.timeout,
            json=body, headers={"X-API-Key": self.api_key})
        if status >= 400:
            raise Rejected(status, text)
        result = (parsed or {}).get("disputeServiceResult") or {}
        if result.get("success") is not True:
            raise Rejected(status, str(result.get("errorMessage") or text))
        return parsed

    def webhook_ack(self) -> tuple[str, str]:
        return "[accepted]", "text/plain"


def shopper_reference(customer_id: str) -> str:
    """Our customer id as Adyen's shopperReference, which must be 3 to 256 characters."""
    return (customer_id if len(customer_id) >= 3 else f"customer-{customer_id}")[:256]


def disputes_base(checkout_base: str) -> str:
    """The Disputes API beside a Checkout API base URL: on Adyen's Customer Area host
    (checkout-test.adyen.com -> ca-test.adyen.com/ca/services/DisputeService/v30), or in
    the simulator beside /adyen/checkout."""
    base = checkout_base.rstrip("/")
    if base.endswith("/checkout"):
        return base[: -len("/checkout")] + "/ca/services/DisputeService/v30"
    return base.replace("checkout-", "ca-", 1) + "/ca/services/DisputeService/v30"


def dispute_notice(item: Mapping[str, Any]) -> DisputeNotice:
    """A dispute notification as the service books it: the reason code as its reason;
    a notification without a disputeStatus (a reversal, a pre-arbitration's outcome)
    stands where its event code says."""
    extra = item.get("additionalData") or {}
    code = str(item.get("eventCode", ""))
    status = _DISPUTE_STATUS.get(str(extra.get("disputeStatus", "")), _DISPUTE_EVENTS[code])
    if code in ("CHARGEBACK_REVERSED", "PREARBITRATION_WON"):
        status = DISPUTE_WON
    reason = extra.get("chargebackReasonCode") or extra.get("rfiReasonCode") or "unknown"
    due = extra.get("defensePeriodEndsAt")
    return DisputeNotice(
        str(item["pspReference"]), status, str(reason).strip(),
        int((item.get("amount") or {}).get("value", 0)),
        answered=status == DISPUTE_UNDER_REVIEW or extra.get("disputeStatus") == "Responded",
        due_by=datetime.fromisoformat(due).timestamp() if due else None)


def signing_string(item: Mapping[str, Any]) -> bytes:
    amount = item.get("amount") or {}
    fields = [item.get("pspReference", ""), item.get("originalReference", ""),
              item.get("merchantAccountCode", ""), item.get("merchantReference", ""),
              str(amount.get("value", "")), amount.get("currency", ""),
              item.get("eventCode", ""), item.get("success", "")]
    return ":".join(str(f or "") for f in fields).encode()


def verify_item(item: Mapping[str, Any], hex_key: str) -> None:
    given = (item.get("additionalData") or {}).get("hmacSignature", "")
    try:
        key = binascii.unhexlify(hex_key)
    except (binascii.Error, ValueError):
        raise BadSignature("the Adyen HMAC key must be hex") from None
    expected = base64.b64encode(hmac.new(key, signing_string(item), hashlib.sha256).digest())
    if not given or not hmac.compare_digest(expected.decode(), given):
        raise BadSignature(f"hmacSignature does not verify for {item.get('pspReference')}")
