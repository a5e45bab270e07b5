"""Stripe over its public API: PaymentIntents (form-encoded), Refunds, Disputes (evidence
submitted through `POST /v1/disputes/{id}`), signed webhooks.

Docs: https://docs.stripe.com/api/payment_intents, https://docs.stripe.com/api/disputes,
https://docs.stripe.com/webhooks (signature: `Stripe-Signature: t=…,v1=…`, HMAC-SHA256
of "t.payload").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import replace
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
    Rejected,
    WebhookUpdate,
    send,
)

_STATUS = {"requires_capture": AUTHORIZED, "succeeded": CAPTURED, "processing": PENDING,
           "requires_action": REQUIRES_ACTION, "canceled": CANCELED,
           "requires_payment_method": DECLINED, "requires_confirmation": PENDING}
#: Stripe's dispute statuses (an inquiry's `warning_*` ones too) as the service books
#: them; an inquiry that closes has cost nothing, so it counts as won.
_DISPUTE_STATUS = {"needs_response": DISPUTE_OPEN, "warning_needs_response": DISPUTE_OPEN,
                   "under_review": DISPUTE_UNDER_REVIEW,
                   "warning_under_review": DISPUTE_UNDER_REVIEW, "won": DISPUTE_WON,
                   "warning_closed": DISPUTE_WON, "lost": DISPUTE_LOST}
TOLERANCE_S = 300


class StripeAdapter:
    name = "stripe"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                 webhook_secret: str = "", timeout: float = 5.0) -> None:
        self.session, self.base = session, base_url.rstrip("/")
        self.api_key, self.webhook_secret, self.timeout = api_key, webhook_secret, timeout

    async def _call(self, method: str, path: str, form: Mapping[str, Any] | None = None,
                    idempotency_key: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        status, body, text = await send(self.session, method, f"{self.base}{path}",
                                        timeout=self.timeout, data=dict(form or {}),
                                        headers=headers)
        if status >= 400 and status != 402:
            raise Rejected(status, text)
        return status, body

    async def authorize(self, request: PaymentRequest, idempotency_key: str) -> ProviderResult:
        form: dict[str, Any] = {
            "amount": request.amount, "currency": request.currency, "confirm": "true",
            "capture_method": "automatic" if request.capture else "manual",
            "return_url": request.return_url,
            "metadata[reference]": request.reference, "expand[]": "latest_charge",
        }
        mit = request.mit
        if mit is not None and mit.token:  # our own saved card, charged off-session
            form.update({"customer": mit.customer or "", "payment_method": mit.token,
                         "off_session": "true"})
            form.pop("return_url")
        else:
            card = request.card_details
            form.update({"payment_method_data[type]": "card",
                         "payment_method_data[card][number]": card.number,
                         "payment_method_data[card][exp_month]": card.exp_month,
                         "payment_method_data[card][exp_year]": card.exp_year})
            if mit is not None:  # another acquirer's card: the scheme's id is the proof
                form.pop("return_url")
                form["off_session"] = "true"
                form["payment_method_options[card][mit_exemption][network_transaction_id]"] \
                    = mit.network_transaction_id or ""
            else:
                form["payment_method_data[card][cvc]"] = card.cvc
        customer = request.provider_customer
        if request.save_card and mit is None:
            customer = customer or await self._customer(request, idempotency_key)
            form.update({"customer": customer, "setup_future_usage": "off_session"})
        if request.email and mit is None:
            form["receipt_email"] = request.email
        status, body = await self._call("POST", "/v1/payment_intents", form, idempotency_key)
        if status == 402:  # card_error: the intent is in the error
            error = body.get("error", {}) if isinstance(body, dict) else {}
            pi = error.get("payment_intent") or {}
            return ProviderResult(DECLINED, pi.get("id", ""),
                                  decline_code=error.get("decline_code") or error.get("code"),
                                  message=error.get("message"), raw=body)
        result = self._result(body)
        if request.save_card or mit is not None:
            charge = body.get("latest_charge")
            card_details = ((charge if isinstance(charge, dict) else {})
                            .get("payment_method_details") or {}).get("card") or {}
            method = body.get("payment_method")
            result = replace(result, customer=customer or (mit.customer if mit else None),
                             token=method if request.save_card and isinstance(method, str)
                             else None,
                             network_transaction_id=card_details.get("network_transaction_id"))
        return result

    async def _customer(self, request: PaymentRequest, idempotency_key: str) -> str:
        """A Stripe customer for the card to belong to (a saved card needs one)."""
        form = {"metadata[customer_id]": request.customer_id or ""}
        if request.email:
            form["email"] = request.email
        _, body = await self._call("POST", "/v1/customers", form, f"{idempotency_key}-customer")
        return str(body["id"])

    def _result(self, pi: Mapping[str, Any]) -> ProviderResult:
        status = _STATUS.get(pi.get("status", ""), PENDING)
        action = (pi.get("next_action") or {}).get("redirect_to_url") or {}
        error = pi.get("last_payment_error") or {}
        return ProviderResult(status, pi.get("id", ""), action_url=action.get("url"),
                              decline_code=error.get("decline_code") or error.get("code"),
                              raw=pi)

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult:
        _, body = await self._call("POST", f"/v1/payment_intents/{reference}/capture",
                                   {"amount_to_capture": amount,
                                    "expand[]": "latest_charge"}, idempotency_key)
        return self._result(body)

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult:
        _, body = await self._call("POST", "/v1/refunds",
                                   {"payment_intent": reference, "amount": amount},
                                   idempotency_key)
        ok = body.get("status") in ("succeeded", "pending")
        return ProviderResult(REFUNDED if ok else CAPTURED, reference, raw=body)

    async def retrieve(self, reference: str) -> ProviderResult:
        _, body = await self._call(
            "GET", f"/v1/payment_intents/{reference}?expand%5B%5D=latest_charge")
        return self._result(body)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        verify_signature(body, headers.get("Stripe-Signature", ""), self.webhook_secret)
        event = json.loads(body)
        obj = event.get("data", {}).get("object", {})
        kind = event.get("type", "")
        if kind.startswith("payment_intent."):
            status = _STATUS.get(obj.get("status", ""))
            return [WebhookUpdate(obj["id"], status, kind)] if status else []
        if kind.startswith("charge.dispute.") and obj.get("payment_intent"):
            return [WebhookUpdate(obj["payment_intent"], None, kind,
                                  dispute=_dispute_notice(obj))]
        if kind == "charge.refunded" and obj.get("payment_intent"):
            full = obj.get("amount_refunded", 0) >= obj.get("amount_captured", obj["amount"])
            return [WebhookUpdate(obj["payment_intent"], REFUNDED if full else
                                  PARTIALLY_REFUNDED, kind)]
        return []

    def webhook_ack(self) -> tuple[str, str]:
        return '{"received": true}', "application/json"

    async def submit_evidence(self, dispute_id: str, evidence: Mapping[str, str]) -> str:
        form = {f"evidence[{k}]": v for k, v in evidence.items()}
        _, body = await self._call("POST", f"/v1/disputes/{dispute_id}",
                                   {**form, "submit": "true"})
        return _DISPUTE_STATUS.get(body.get("status", ""), DISPUTE_UNDER_REVIEW)

    def evidence_for(self, payment: Mapping[str, Any]) -> dict[str, str]:
        evidence = {"product_description": f"Order {payment['id']}: "
                                           f"{payment['amount']} {payment['currency']}",
                    "uncategorized_text": f"Payment {payment['id']} was authorized by the "
                                          "cardholder and delivered."}
        if payment.get("email"):
            evidence["customer_email_address"] = str(payment["email"])
        return evidence


def _dispute_notice(obj: Mapping[str, Any]) -> DisputeNotice:
    details = obj.get("evidence_details") or {}
    return DisputeNotice(obj["id"], _DISPUTE_STATUS.get(obj.get("status", ""), DISPUTE_OPEN),
                         str(obj.get("reason", "general")), int(obj.get("amount", 0)),
                         answered=bool(details.get("submission_count")),
                         due_by=details.get("due_by"))


def verify_signature(body: bytes, header: str, secret: str, *,
                     now: float | None = None, tolerance: float = TOLERANCE_S) -> None:
    """Stripe's documented scheme: any v1 signature over "t.body" must match, and t must
    be recent (replay protection)."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    signatures = [v for k, v in parts if k.strip() == "v1"]
    if not stamps or not signatures or not secret:
        raise BadSignature("missing Stripe-Signature t= or v1=, or no secret configured")
    try:
        stamp = int(stamps[0])
    except ValueError:
        raise BadSignature("Stripe-Signature t= is not a number") from None
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise BadSignature("no v1 signature matches")
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        raise BadSignature(f"timestamp outside the {tolerance:.0f} s tolerance")
