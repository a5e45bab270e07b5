"""Checkout.com over its public HTTP API (unified payments API), and its signed webhooks.

Docs: https://api-reference.checkout.com/#operation/requestAPaymentOrPayout
(`Authorization: Bearer sk_sbox_…`, `Cko-Idempotency-Key`; answer `approved`, `status`,
`response_code`; 202 with `_links.redirect` for 3DS), captures and refunds answer 202
with an `action_id`; webhooks carry `Cko-Signature`, the hex HMAC-SHA256 of the raw body.
Disputes (https://api-reference.checkout.com/#tag/Disputes): the `dispute_*` webhooks
name the dispute and its payment; evidence is provided with `PUT /disputes/{id}/evidence`
and then submitted with `POST /disputes/{id}/evidence` (both answer 204).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
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
    PARTIALLY_REFUNDED,
    PENDING,
    REFUNDED,
    REQUIRES_ACTION,
    BadSignature,
    DisputeNotice,
    PaymentRequest,
    ProviderResult,
    WebhookUpdate,
    call_json,
)

_STATUS = {"Authorized": AUTHORIZED, "Captured": CAPTURED, "Card Verified": AUTHORIZED,
           "Declined": DECLINED, "Pending": PENDING, "Voided": CANCELED,
           "Canceled": CANCELED, "Refunded": REFUNDED, "Partially Refunded":
           PARTIALLY_REFUNDED, "Partially Captured": CAPTURED, "Expired": DECLINED}
_EVENTS = {"payment_approved": AUTHORIZED, "payment_captured": CAPTURED,
           "payment_declined": DECLINED, "payment_refunded": REFUNDED,
           "payment_voided": CANCELED, "payment_canceled": CANCELED,
           "payment_expired": DECLINED, "payment_pending": PENDING}
#: Checkout.com's dispute webhooks as the service books them: expired and accepted
#: disputes are lost (the funds stay with the cardholder), a canceled or resolved one
#: gives them back.
_DISPUTE_EVENTS = {"dispute_received": DISPUTE_OPEN, "dispute_evidence_required": DISPUTE_OPEN,
                   "dispute_evidence_submitted": DISPUTE_UNDER_REVIEW,
                   "dispute_won": DISPUTE_WON, "dispute_canceled": DISPUTE_WON,
                   "dispute_resolved": DISPUTE_WON, "dispute_lost": DISPUTE_LOST,
                   "dispute_expired": DISPUTE_LOST, "dispute_accepted": DISPUTE_LOST}


class CheckoutcomAdapter:
    name = "checkoutcom"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                 webhook_secret: str = "", timeout: float = 5.0) -> None:
        self.session, self.base = session, base_url.rstrip("/")
        self.api_key, self.webhook_secret, self.timeout = api_key, webhook_secret, timeout

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                    idempotency_key: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if idempotency_key:
            headers["Cko-Idempotency-Key"] = idempotency_key
        status, parsed = await call_json(self.session, method, f"{self.base}{path}",
                                         headers=headers, body=body, timeout=self.timeout)
        return status, parsed

    async def authorize(self, request: PaymentRequest, idempotency_key: str) -> ProviderResult:
        mit = request.mit
        source: dict[str, Any]
        if mit is not None and mit.token:
            source = {"type": "id", "id": mit.token}
        else:
            card = request.card_details
            source = {"type": "card", "number": card.number, "expiry_month": card.exp_month,
                      "expiry_year": card.exp_year, "name": card.holder}
            if mit is None:
                source["cvv"] = card.cvc
            if request.save_card and mit is None:
                source["store_for_future_use"] = True
        body: dict[str, Any] = {
            "source": source,
            "amount": request.amount, "currency": request.currency.upper(),
            "reference": request.reference, "capture": request.capture,
        }
        if mit is not None:
            body.update({"payment_type": "Recurring", "merchant_initiated": True})
            if mit.network_transaction_id:
                body["previous_payment_id"] = mit.network_transaction_id
        else:
            body.update({"success_url": request.return_url,
                         "failure_url": request.return_url})
            if request.save_card:
                body["payment_type"] = "Recurring"
        known = (mit.customer if mit else None) or request.provider_customer
        if known:
            body["customer"] = {"id": known}
        elif request.email:
            body["customer"] = {"email": request.email}
        _, res = await self._call("POST", "/payments", body, idempotency_key)
        result = _result(res, request.capture)
        if not (request.save_card or mit is not None):
            return result
        src = res.get("source") or {}
        return replace(result, network_transaction_id=res.get("scheme_id"),
                       token=src.get("id") if request.save_card and mit is None else None,
                       customer=(res.get("customer") or {}).get("id"))

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult:
        _, res = await self._call("POST", f"/payments/{reference}/captures",
                                  {"amount": amount}, idempotency_key)
        return ProviderResult(CAPTURED, reference, raw=res or {})

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult:
        _, res = await self._call("POST", f"/payments/{reference}/refunds",
                                  {"amount": amount}, idempotency_key)
        return ProviderResult(REFUNDED, reference, raw=res or {})

    async def retrieve(self, reference: str) -> ProviderResult:
        _, res = await self._call("GET", f"/payments/{reference}")
        return _result(res, None)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        given = headers.get("Cko-Signature", "")
        expected = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        if not self.webhook_secret or not hmac.compare_digest(expected, given):
            raise BadSignature("Cko-Signature does not verify")
        event = json.loads(body)
        kind, data = event.get("type", ""), event.get("data") or {}
        if kind in _DISPUTE_EVENTS and data.get("payment_id") and data.get("id"):
            return [WebhookUpdate(data["payment_id"], None, kind,
                                  dispute=_dispute_notice(kind, data))]
        status = _EVENTS.get(kind)
        ref = data.get("id")
        return [WebhookUpdate(ref, status, kind)] if status and ref else []

    def webhook_ack(self) -> tuple[str, str]:
        return "", "text/plain"

    async def submit_evidence(self, dispute_id: str, evidence: Mapping[str, str]) -> str:
        """Provide the evidence, then submit it: Checkout.com reviews it from then on."""
        await self._call("PUT", f"/disputes/{dispute_id}/evidence", evidence)
        await self._call("POST", f"/disputes/{dispute_id}/evidence")
        return DISPUTE_UNDER_REVIEW

    def evidence_for(self, payment: Mapping[str, Any]) -> dict[str, str]:
        evidence = {
            "invoice_or_receipt_text": f"Order {payment['id']}: {payment['amount']} "
                                       f"{str(payment['currency']).upper()}",
            "proof_of_delivery_or_service_text": f"Payment {payment['id']} was authorized "
                                                 "by the cardholder and delivered."}
        if payment.get("email"):
            evidence["customer_communication_text"] = \
                f"Order confirmation sent to {payment['email']}"
        return evidence


def _dispute_notice(kind: str, data: Mapping[str, Any]) -> DisputeNotice:
    due = data.get("evidence_required_by")
    try:
        due_by = datetime.fromisoformat(str(due).replace("Z", "+00:00")).timestamp() \
            if due else None
    except ValueError:
        due_by = None
    return DisputeNotice(str(data["id"]), _DISPUTE_EVENTS[kind],
                         str(data.get("category", "general")), int(data.get("amount", 0)),
                         answered=kind == "dispute_evidence_submitted", due_by=due_by)


def _result(res: Mapping[str, Any], capture: bool | None) -> ProviderResult:
    status = _STATUS.get(res.get("status", ""), PENDING)
    redirect = ((res.get("_links") or {}).get("redirect") or {}).get("href")
    if redirect and status == PENDING:
        status = REQUIRES_ACTION
    if capture and status == AUTHORIZED and res.get("approved"):
        status = CAPTURED  # capture: true is captured right after authorization
    return ProviderResult(status, res.get("id", ""), action_url=redirect,
                          decline_code=None if res.get("approved", True)
                          else res.get("response_code"),
                          message=res.get("response_summary"), raw=res)
