"""Safaricom M-Pesa Daraja over its public API: M-Pesa Express (STK push, KES) and its
callback.

Docs: https://developer.safaricom.co.ke/APIs/Authorization (`GET /oauth/v1/generate?
grant_type=client_credentials` with Basic consumer key:secret; the token lives 3599 s),
https://developer.safaricom.co.ke/APIs/MpesaExpressSimulate (`POST /mpesa/stkpush/v1/
processrequest`: `Password` = base64(shortcode + passkey + timestamp), `Amount` in whole
shillings, `CallBackURL`; the answer's `CheckoutRequestID` names the push, and the
result arrives as `Body.stkCallback` at the CallBackURL with a `ResultCode`: 0 paid,
1032 cancelled by the user, 1037 no answer from the handset, others failed).

Callbacks are not signed: a callback is accepted only for a CheckoutRequestID this
adapter issued, with the MerchantRequestID that came with it. (A real deployment adds an
unguessable path to the CallBackURL and allows only Safaricom's addresses.) The STK
query answers HTTP 500 while the push is pending, so the status comes from the callback.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import aiohttp

from paysandbox.examples.payment_service.adapters.base import (
    CANCELED,
    CAPTURED,
    EXPIRED,
    FAILED,
    PENDING,
    BadSignature,
    PaymentRequest,
    ProviderResult,
    Rejected,
    WebhookUpdate,
    basic_auth,
    send,
)

SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
_EAT = timezone(timedelta(hours=3))  # Daraja's timestamps are Nairobi time
_RESULTS = {0: CAPTURED, 1032: CANCELED, 1037: EXPIRED}


def password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


class DarajaAdapter:
    name = "daraja"

    def __init__(self, session: aiohttp.ClientSession, base_url: str, api_key: str, *,
                 api_secret: str = "", shortcode: str = SANDBOX_SHORTCODE,
                 passkey: str = SANDBOX_PASSKEY, webhook_secret: str = "",
                 timeout: float = 5.0) -> None:
        self.session, self.base = session, base_url.rstrip("/")
        self.consumer = basic_auth(api_key, api_secret or "consumer_secret")
        self.shortcode, self.passkey, self.timeout = shortcode, passkey, timeout
        self._token, self._token_until = "", 0.0
        self.issued: dict[str, str] = {}  # CheckoutRequestID -> MerchantRequestID

    async def _access_token(self) -> str:
        if self._token and time.monotonic() < self._token_until:
            return self._token
        status, body, text = await send(
            self.session, "GET", f"{self.base}/oauth/v1/generate?grant_type=client_credentials",
            timeout=self.timeout, headers={"Authorization": self.consumer})
        if status >= 400 or not isinstance(body, dict) or "access_token" not in body:
            raise Rejected(status, text)
        self._token = str(body["access_token"])
        self._token_until = time.monotonic() + int(body.get("expires_in", 3599)) - 60
        return self._token

    async def authorize(self, request: PaymentRequest, idempotency_key: str) -> ProviderResult:
        stamp = datetime.now(_EAT).strftime("%Y%m%d%H%M%S")
        body = {"BusinessShortCode": self.shortcode,
                "Password": password(self.shortcode, self.passkey, stamp),
                "Timestamp": stamp, "TransactionType": "CustomerPayBillOnline",
                "Amount": request.amount // 100, "PartyA": request.phone,
                "PartyB": self.shortcode, "PhoneNumber": request.phone,
                "CallBackURL": request.notify_url,
                "AccountReference": request.reference[:12],
                "TransactionDesc": "Payment"}
        for attempt in (1, 2):
            token = await self._access_token()
            status, res, text = await send(
                self.session, "POST", f"{self.base}/mpesa/stkpush/v1/processrequest",
                timeout=self.timeout, json=body, headers={"Authorization": f"Bearer {token}"})
            if status in (401, 404) and attempt == 1:  # the token expired early: renew
                self._token = ""
                continue
            if status >= 400 or not isinstance(res, dict) or res.get("ResponseCode") != "0":
                raise Rejected(status, text)
            checkout = str(res["CheckoutRequestID"])
            self.issued[checkout] = str(res.get("MerchantRequestID", ""))
            return ProviderResult(PENDING, checkout, next_action={
                "type": "phone_prompt", "phone": request.phone,
                "message": res.get("CustomerMessage") or "enter your M-Pesa PIN on the phone"},
                raw=res)
        raise AssertionError("unreachable")

    async def capture(self, reference: str, amount: int, currency: str,
                      idempotency_key: str) -> ProviderResult:
        raise Rejected(409, "an M-Pesa payment is captured when the customer pays")

    async def refund(self, reference: str, amount: int, currency: str,
                     idempotency_key: str) -> ProviderResult:
        raise Rejected(409, "M-Pesa refunds go through Daraja's Reversal API, which this "
                            "service does not use")

    async def retrieve(self, reference: str) -> ProviderResult | None:
        return None  # the STK query answers 500 while pending: the callback tells

    def verify_webhook(self, headers: Mapping[str, str], body: bytes,
                       query: Mapping[str, str] | None = None) -> list[WebhookUpdate]:
        callback = (json.loads(body).get("Body") or {}).get("stkCallback") or {}
        checkout = str(callback.get("CheckoutRequestID", ""))
        if checkout not in self.issued:
            raise BadSignature(f"CheckoutRequestID {checkout!r} was not issued to us")
        if str(callback.get("MerchantRequestID", "")) != self.issued[checkout]:
            raise BadSignature("the MerchantRequestID does not match the push we made")
        code = int(callback.get("ResultCode", -1))
        status = _RESULTS.get(code, FAILED)
        return [WebhookUpdate(checkout, status, "stkCallback",
                              None if status == CAPTURED else str(code))]

    def webhook_ack(self) -> tuple[str, str]:
        return '{"ResultCode": 0, "ResultDesc": "Accepted"}', "application/json"
