"""Razorpay over its public API: UPI collect (INR) on an order, capture, refunds, and
webhooks signed with `X-Razorpay-Signature`.

Docs: https://razorpay.com/docs/api/orders/create/ (`receipt`, `unique_receipt`),
https://razorpay.com/docs/payments/payment-gateway/s2s-integration/upi/collect/
(`POST /v1/payments/create/upi` with `upi {flow: collect, vpa, expiry_time}`: the shopper
approves the request in their UPI app), https://razorpay.com/docs/api/refunds/
(`X-Refund-Idempotency`), https://razorpay.com/docs/webhooks/validate-test/ (hex
HMAC-SHA256 of the raw body keyed by the webhook secret),
https://razorpay.com/docs/api/disputes/ (a dispute is contested through
`PATCH /v1/disputes/{id}/contest` with `action: submit`; `payment.dispute.*` webhooks
carry the payment and the dispute). HTTP Basic auth with the key id
and key secret. Razorpay has no idempotency header for orders or payments: the order's
`receipt` is our reference with `unique_receipt`, so a retried create finds the order the
first try made and the payment already on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from paysandbox.examples.payment_service.adapters.base import (
    AUTHORIZED,
    CAPTURED,
    DISPUTE_LOST,
    DISPUTE_OPEN,
    DISPUTE_UNDER_REVIEW,
    DISPUTE_WON,
    EXPIRED,
    FAILED,
    PARTIALLY_REFUNDED,
    PENDING,
    REFUNDED,
    BadSignature,
    DisputeNotice,
    PaymentRequest,
    ProviderResult,
    Rejected,
    WebhookUpdate,
    basic_auth,
    send,
)

_STATUS = {"created": PENDING, "authorized": AUTHORIZED, "captured": CAPTURED,
           "failed": FAILED, "refunded": REFUNDED}
#: Razorpay's dispute statuses as the service books them; a retrieval request that was
#: closed cost nothing, so it counts as won.
_DISPUTE_STATUS = {"open": DISPUTE_OPEN, "under_review": DISPUTE_UNDER_REVIEW,
                   "won": DISPUTE_WON, "closed": DISPUTE_WON, "lost": DISPUTE_LOST}
COLLECT_EXPIRY_MIN = 5


class RazorpayAdapter:
    name = "razorpay"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                 api_secret: str = "", webhook_secret: str = "", timeout: float = 5.0) -> None:
        self.session, self.base = session, f"{base_url.rstrip('/')}/v1"
        self.auth = basic_auth(api_key, api_secret or "key_secret")
        self.webhook_secret, self.timeout = webhook_secret, timeout

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                    headers: Mapping[str, str] | None = None) -> tuple[int, Any, str]:
        kwargs: dict[str, Any] = {"headers": {"Authorization": self.auth, **(headers or {})}}
        if body is not None:
            kwargs["json"] = body
        return await send(self.session, method, f"{self.base}{path}", timeout=self.timeout,
                          **kwargs)

    async def _ok(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None) -> Any:
        status, parsed, text = await self._call(method, path, body, headers)
        if status >= 400:
            raise Rejected(status, text)
        return parsed

    async def _order(self, request: PaymentRequest) -> tuple[str, bool]:
        """(order id, whether it existed): an order per payment, found again on a retry."""
        status, order, text = await self._call("POST", "/orders", {
            "amount": request.amount, "currency": request.currency.upper(),
            "receipt": request.reference, "unique_receipt": True,
            "notes": {"reference": request.reference}})
        if status < 400:
            return str(order["id"]), False
        if "receipt should be unique" not in text.lower():
            raise Rejected(status, text)
        found = await self._ok("GET", f"/orders?receipt={request.reference}")
        items = (found or {}).get("items") or []
        if not items:
            raise Rejected(status, text)
        return str(items[0]["id"]), True

    async def authorize(self, request: PaymentRequest, idempotency_key: str) -> ProviderResult:
        order_id, existed = await self._order(request)
        if existed:  # a retry: the first try may have created the collect request already
            on_order = await self._ok("GET", f"/orders/{order_id}/payments")
            for item in (on_order or {}).get("items") or []:
                if item.get("status") != "failed":
                    return _result(item)
        created = await self._ok("POST", "/payments/create/upi", {
            "amount": request.amount, "currency": request.currency.upper(),
            "order_id": order_id, "method": "upi", "email": request.email,
            "contact": request.phone, "description": f"Order {request.reference}",
            "notes": {"reference": request.reference},
            "upi": {"flow": "collect", "vpa": request.vpa,
                    "expiry_time": COLLECT_EXPIRY_MIN}})
        payment_id = str(created["razorpay_payment_id"])
        return ProviderResult(PENDING, payment_id, next_action={
            "type": "upi_collect", "vpa": request.vpa,
            "message": "approve the collect request in your UPI app",
            "expires_in_s": COLLECT_EXPIRY_MIN * 60}, raw=created)

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult:
        res = await self._ok("POST", f"/payments/{reference}/capture",
                             {"amount": amount, "currency": currency.upper()})
        return _result(res)

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult:
        res = await self._ok("POST", f"/payments/{reference}/refund", {"amount": amount},
                             headers={"X-Refund-Idempotency": idempotency_key[-40:]})
        return ProviderResult(REFUNDED, reference, raw=res or {})

    async def retrieve(self, reference: str) -> ProviderResult:
        return _result(await self._ok("GET", f"/payments/{reference}"))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        given = headers.get("X-Razorpay-Signature", "")
        expected = hmac.new(self.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
        if not self.webhook_secret or not hmac.compare_digest(expected, given):
            raise BadSignature("X-Razorpay-Signature does not verify")
        event = json.loads(body)
        payment = ((event.get("payload") or {}).get("payment") or {}).get("entity")
        if not payment or "id" not in payment:
            return []  # order.paid and others: the payment events say it all
        dispute = ((event.get("payload") or {}).get("dispute") or {}).get("entity")
        if dispute and "id" in dispute:
            return [WebhookUpdate(str(payment["id"]), None, event.get("event", ""),
                                  dispute=_dispute_notice(dispute))]
        found = _result(payment)
        return [WebhookUpdate(found.reference, found.status, event.get("event", ""),
                              found.decline_code)]

    def webhook_ack(self) -> tuple[str, str]:
        return "", "text/plain"

    async def submit_evidence(self, dispute_id: str, evidence: Mapping[str, str]) -> str:
        """Contest the dispute with our evidence: the summary as text, the rest as the
        ids of documents uploaded beforehand (Documents API, purpose dispute_evidence)."""
        body: dict[str, Any] = {k: [v] if k != "summary" else v for k, v in evidence.items()}
        res = await self._ok("PATCH", f"/disputes/{dispute_id}/contest",
                             {**body, "action": "submit"})
        return _DISPUTE_STATUS.get((res or {}).get("status", ""), DISPUTE_UNDER_REVIEW)

    def evidence_for(self, payment: Mapping[str, Any]) -> dict[str, str]:
        return {"summary": f"Order {payment['id']}: {payment['amount']} "
                           f"{str(payment['currency']).upper()}, approved by the customer "
                           "in their UPI app and delivered.",
                "billing_proof": f"doc_{str(payment['id'])[-14:]}"}


def _dispute_notice(d: Mapping[str, Any]) -> DisputeNotice:
    evidence = d.get("evidence") or {}
    return DisputeNotice(str(d["id"]), _DISPUTE_STATUS.get(d.get("status", ""), DISPUTE_OPEN),
                         str(d.get("reason_code", "general")), int(d.get("amount", 0)),
                         answered=evidence.get("submitted_at") is not None,
                         due_by=d.get("respond_by"))


def _result(payment: Mapping[str, Any]) -> ProviderResult:
    status = _STATUS.get(payment.get("status", ""), PENDING)
    reason = payment.get("error_reason")
    if status == FAILED and reason == "payment_timed_out":
        status = EXPIRED  # nobody approved the collect request in time
    if status in (CAPTURED, REFUNDED) and payment.get("refund_status") == "partial":
        status = PARTIALLY_REFUNDED
    return ProviderResult(status, str(payment.get("id", "")),
                          decline_code=reason if status == FAILED else None, raw=payment)
