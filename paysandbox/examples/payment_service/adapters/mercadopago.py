"""Mercado Pago over its public Checkout API: PIX (BRL) and OXXO (MXN) payments, refunds,
and notifications signed with `x-signature`.

Docs: https://www.mercadopago.com.br/developers/en/reference/payments/_payments/post
(`Authorization: Bearer TEST-…`, `X-Idempotency-Key` required, `transaction_amount` in
major units, `payment_method_id` `pix` / `oxxo`, `notification_url`; a PIX answer carries
`point_of_interaction.transaction_data.qr_code`, an OXXO one
`transaction_details.external_resource_url` and `payment_method_reference_id`),
https://www.mercadopago.com.br/developers/en/docs/your-integrations/notifications/webhooks
(`x-signature: ts=…,v1=…`, HMAC-SHA256 of `id:{data.id};request-id:{x-request-id};ts:{ts};`
keyed by the secret; the body names the payment only: read it with GET /v1/payments/{id}),
https://www.mercadopago.com.br/developers/en/docs/checkout-api-payments/payment-management/
chargebacks/management (a notification of topic `chargebacks` names the chargeback: read
it with GET /v1/chargebacks/{id}, answer it with POST /v1/chargebacks/{id}/documentation,
multipart `files[]`; the payment shows `charged_back` meanwhile, its money followed by
the dispute, not by the payment's status).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import aiohttp

from paysandbox.examples.payment_service.adapters.base import (
    AUTHORIZED,
    CANCELED,
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
    call_json,
    send,
)

_STATUS = {"pending": PENDING, "in_process": PENDING, "in_mediation": PENDING,
           "authorized": AUTHORIZED, "approved": CAPTURED, "rejected": FAILED,
           "cancelled": CANCELED, "refunded": REFUNDED, "charged_back": CAPTURED}
#: A chargeback's documentation_status as the service books the dispute.
_DISPUTE_STATUS = {"pending": DISPUTE_OPEN, "review_pending": DISPUTE_UNDER_REVIEW,
                   "valid": DISPUTE_WON, "invalid": DISPUTE_LOST,
                   "not_supplied": DISPUTE_LOST, "not_applicable": DISPUTE_WON}


def major(amount: int) -> float:
    """Minor units to the decimal number Mercado Pago takes (BRL and MXN have cents)."""
    return float(Decimal(amount) / 100)


class MercadopagoAdapter:
    name = "mercadopago"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                 webhook_secret: str = "", timeout: float = 5.0) -> None:
        self.session, self.base = session, f"{base_url.rstrip('/')}/v1"
        self.api_key, self.webhook_secret, self.timeout = api_key, webhook_secret, timeout

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                    idempotency_key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if idempotency_key:
            headers["X-Idempotency-Key"] = idempotency_key
        _, parsed = await call_json(self.session, method, f"{self.base}{path}",
                                    headers=headers, body=body, timeout=self.timeout)
        return parsed

    async def authorize(self, request: PaymentRequest, idempotency_key: str) -> ProviderResult:
        payer: dict[str, Any] = {"email": request.email}
        if request.name:
            first, _, last = request.name.partition(" ")
            payer.update(first_name=first, last_name=last or first)
        body: dict[str, Any] = {
            "transaction_amount": major(request.amount), "payment_method_id": request.method,
            "description": f"Order {request.reference}", "payer": payer,
            "external_reference": request.reference,
        }
        if request.notify_url:
            body["notification_url"] = request.notify_url
        return _result(await self._call("POST", "/payments", body, idempotency_key))

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult:
        raise Rejected(409, "PIX and OXXO payments are captured when paid")

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult:
        res = await self._call("POST", f"/payments/{reference}/refunds",
                               {"amount": major(amount)}, idempotency_key)
        return ProviderResult(REFUNDED, reference, raw=res or {})

    async def retrieve(self, reference: str) -> ProviderResult:
        return _result(await self._call("GET", f"/payments/{reference}"))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        data_id = (query or {}).get("data.id", "")
        verify_signature(headers.get("x-signature", ""), headers.get("x-request-id", ""),
                         data_id, self.webhook_secret)
        topic = (query or {}).get("type", "payment")
        if topic == "chargebacks":  # names the chargeback: read in disputes_named
            return [WebhookUpdate(data_id, None, "chargebacks")]
        if topic != "payment":
            return []
        # The notification names the payment; its status comes from the API.
        return [WebhookUpdate(data_id, None, "payment")]

    async def disputes_named(self, update: WebhookUpdate) -> list[tuple[str, DisputeNotice]]:
        if update.event != "chargebacks":
            return []
        cb = await self._call("GET", f"/chargebacks/{update.reference}")
        status = str((cb or {}).get("documentation_status", "pending"))
        notice = DisputeNotice(
            str(cb["id"]), _DISPUTE_STATUS.get(status, DISPUTE_OPEN),
            str(cb.get("reason") or "chargeback"),
            int(Decimal(str(cb.get("amount", 0))) * 100),
            answered=status in ("review_pending", "valid", "invalid"))
        return [(str(pid), notice) for pid in cb.get("payments") or []]

    async def submit_evidence(self, dispute_id: str, evidence: Mapping[str, str]) -> str:
        """Upload our documentation, one PDF per entry (file name -> its text)."""
        form = aiohttp.FormData()
        for name, text in evidence.items():
            form.add_field("files[]", text.encode(), filename=name,
                           content_type="application/pdf")
        status, body, text = await send(
            self.session, "POST", f"{self.base}/chargebacks/{dispute_id}/documentation",
            timeout=self.timeout, data=form,
            headers={"Authorization": f"Bearer {self.api_key}"})
        if status >= 400:
            raise Rejected(status, text)
        return _DISPUTE_STATUS.get(str((body or {}).get("documentation_status")),
                                   DISPUTE_UNDER_REVIEW)

    def evidence_for(self, payment: Mapping[str, Any]) -> dict[str, str]:
        return {f"order-{payment['id']}.pdf":
                f"%PDF-1.4 Order {payment['id']}: {payment['amount']} "
                f"{str(payment['currency']).upper()}, paid by the payer and delivered."}

    def webhook_ack(self) -> tuple[str, str]:
        return "", "text/plain"


def verify_signature(header: str, request_id: str, data_id: str, secret: str) -> None:
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    ts, given = parts.get("ts"), parts.get("v1")
    if not ts or not given or not data_id or not secret:
        raise BadSignature("x-signature needs ts= and v1=, and the URL ?data.id=")
    manifest = f"id:{data_id.lower()};request-id:{request_id};ts:{ts};"
    expected = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise BadSignature("x-signature does not verify")


def _result(res: Mapping[str, Any]) -> ProviderResult:
    status = _STATUS.get(res.get("status", ""), PENDING)
    detail = res.get("status_detail")
    if status == CANCELED and detail == "expired":
        status = EXPIRED
    if status == CAPTURED and detail == "partially_refunded":
        status = PARTIALLY_REFUNDED
    reference = str(res.get("id", ""))
    action = None
    if status == PENDING:
        data = (res.get("point_of_interaction") or {}).get("transaction_data") or {}
        details = res.get("transaction_details") or {}
        expires = res.get("date_of_expiration")
        if data.get("qr_code"):
            action = {"type": "pix", "qr_code": data["qr_code"],
                      "qr_code_base64": data.get("qr_code_base64"),
                      "url": data.get("ticket_url"), "expires_at": expires}
        elif details.get("external_resource_url"):
            action = {"type": "voucher", "url": details["external_resource_url"],
                      "reference": details.get("payment_method_reference_id"),
                      "expires_at": expires}
    return ProviderResult(status, reference,
                          action_url=(action or {}).get("url"),
                          decline_code=detail if status == FAILED else None,
                          next_action=action, raw=res)
