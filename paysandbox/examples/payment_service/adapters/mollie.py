"""Mollie over its public v2 API: iDEAL and Bancontact payments, refunds, and the id-only
webhook.

Docs: https://docs.mollie.com/reference/create-payment (`Authorization: Bearer test_…`,
`amount {currency, value: "10.00"}`, `method`, `redirectUrl`, `webhookUrl`; the answer is
`open` with `_links.checkout.href`, where the shopper pays), https://docs.mollie.com/
reference/webhooks (the webhook is a form POST `id=tr_…`, unsigned: fetch the payment to
learn its status), https://docs.mollie.com/reference/create-refund, `Idempotency-Key`,
https://docs.mollie.com/reference/list-payment-chargebacks (the same webhook announces a
chargeback and its reversal: the payment shows `_links.chargebacks`; Mollie takes no
answer, so a chargeback stays open here until it is reversed, which books it won).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import aiohttp

from paysandbox.examples.payment_service.adapters.base import (
    AUTHORIZED,
    CANCELED,
    CAPTURED,
    DISPUTE_OPEN,
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
)

_STATUS = {"open": PENDING, "pending": PENDING, "authorized": AUTHORIZED, "paid": CAPTURED,
           "failed": FAILED, "canceled": CANCELED, "expired": EXPIRED}


def mollie_amount(amount: int, currency: str) -> dict[str, str]:
    """Mollie wants a string with exactly two decimals for EUR: 1999 -> "19.99"."""
    return {"currency": currency.upper(), "value": f"{amount // 100}.{amount % 100:02d}"}


class MollieAdapter:
    name = "mollie"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                 webhook_secret: str = "", timeout: float = 5.0) -> None:
        self.session, self.base = session, f"{base_url.rstrip('/')}/v2"
        self.api_key, self.timeout = api_key, timeout

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                    idempotency_key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        _, parsed = await call_json(self.session, method, f"{self.base}{path}",
                                    headers=headers, body=body, timeout=self.timeout)
        return parsed

    async def authorize(self, request: PaymentRequest, idempotency_key: str) -> ProviderResult:
        body: dict[str, Any] = {
            "amount": mollie_amount(request.amount, request.currency),
            "description": f"Order {request.reference}", "method": request.method,
            "redirectUrl": request.return_url, "webhookUrl": request.notify_url,
            "metadata": {"reference": request.reference},
        }
        if request.issuer and request.method == "ideal":
            body["issuer"] = request.issuer
        if request.country:
            body["locale"] = {"NL": "nl_NL", "BE": "nl_BE"}.get(request.country, "en_US")
        return _result(await self._call("POST", "/payments", body, idempotency_key))

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult:
        raise Rejected(409, "iDEAL and Bancontact payments are captured when paid")

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult:
        res = await self._call("POST", f"/payments/{reference}/refunds",
                               {"amount": mollie_amount(amount, currency)}, idempotency_key)
        return ProviderResult(REFUNDED, reference, raw=res or {})

    async def retrieve(self, reference: str) -> ProviderResult:
        return _result(await self._call("GET", f"/payments/{reference}"))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        # Unsigned, and it carries only the id: never trust it, re-fetch the payment.
        ids = parse_qs(body.decode("utf-8", "replace")).get("id", [])
        if len(ids) != 1 or not ids[0].startswith("tr_"):
            raise BadSignature("a Mollie webhook is a form body id=tr_…")
        return [WebhookUpdate(ids[0], None, "payment")]

    def webhook_ack(self) -> tuple[str, str]:
        return "", "text/plain"

    async def disputes_named(self, update: WebhookUpdate) -> list[tuple[str, DisputeNotice]]:
        """The payment's chargebacks, when it has any: each is open until reversed."""
        payment = await self._call("GET", f"/payments/{update.reference}")
        if not ((payment or {}).get("_links") or {}).get("chargebacks"):
            return []
        found = await self._call("GET", f"/payments/{update.reference}/chargebacks")
        return [(update.reference, _chargeback_notice(c))
                for c in ((found or {}).get("_embedded") or {}).get("chargebacks") or []]


def _chargeback_notice(c: Mapping[str, Any]) -> DisputeNotice:
    value = str((c.get("amount") or {}).get("value", "0"))
    whole, _, cents = value.partition(".")
    reason = (c.get("reason") or {}).get("code") or "chargeback"
    return DisputeNotice(str(c["id"]), DISPUTE_WON if c.get("reversedAt") else DISPUTE_OPEN,
                         str(reason), int(whole) * 100 + int((cents + "00")[:2]))


def _result(res: Mapping[str, Any]) -> ProviderResult:
    status = _STATUS.get(res.get("status", ""), PENDING)
    if status == CAPTURED and (res.get("amountRefunded") or {}).get("value", "0.00") != "0.00":
        remaining = (res.get("amountRemaining") or {}).get("value", "0.00")
        status = REFUNDED if remaining == "0.00" else PARTIALLY_REFUNDED
    checkout = ((res.get("_links") or {}).get("checkout") or {}).get("href")
    details = res.get("details") or {}
    return ProviderResult(
        status, res.get("id", ""), action_url=checkout if status == PENDING else None,
        decline_code=details.get("failureReason") if status == FAILED else None,
        next_action={"type": "redirect", "url": checkout, "method": res.get("method"),
                     "expires_at": res.get("expiresAt")}
        if status == PENDING and checkout else None, raw=res)
