"""Safaricom M-Pesa Daraja: OAuth, M-Pesa Express (STK push) and its query, and the
STK callback to the request's CallBackURL.

Mounted at `/daraja`, after which paths are Daraja's own. There is no official Python
SDK: integrations call it over HTTP. The consumer key is the namespace.

Passkeys: the Password of a push or query must be base64(BusinessShortCode + Passkey +
Timestamp). Shortcode 174379 uses Safaricom's documented sandbox passkey; others use
the passkey configured in PAYSANDBOX_DARAJA_PASSKEYS (see magic.py), else the same one.

LIMITATIONS (what of the real API this does not imitate):
- Only OAuth, STK push and STK push query. No C2B register/simulate, B2C, B2B,
  reversal, transaction status, account balance, QR or Ratiba APIs.
- Consumer secrets are not checked (any non-empty one is accepted).
- STK query of a pending push answers HTTP 500 `500.001.1001` "The transaction is
  being processed", as Daraja does; integrations must treat it as "not yet".
- Request validation messages follow Daraja's "Bad Request - Invalid <Field>" shape
  with the reason appended; a wrong Password is a 400 `400.002.02` here.
- Amounts are whole shillings (KES); callbacks are retried three times (Safaricom
  does not document retries).
- The Timestamp is checked for shape and calendar validity, not against the clock.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from paysandbox.core.commands import (
    Authorize,
    Command,
    Complete,
    Expire,
    Listing,
    Result,
)
from paysandbox.core.outcomes import Outcome
from paysandbox.core.payments import Payment, Status
from paysandbox.core.tenancy import internal, tenant
from paysandbox.errors import ApiError, Unauthorized
from paysandbox.objects import Objects
from paysandbox.providers.base import (
    NAMESPACE,
    RAW_BODY,
    REQUEST_ID,
    payment_facts,
    route,
    scenario_facts,
)
from paysandbox.providers.daraja import magic, wire
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

if TYPE_CHECKING:
    from paysandbox.engine import Engine

TOKEN_NAMESPACE = internal("daraja-oauth")
TOKEN_KIND = "daraja.token"

#: The one "webhook" Daraja sends: the STK result posted to the push's CallBackURL.
STK_CALLBACK = "stk.callback"
#: Every event type `events_for` can emit (each has a payload contract in
#: paysandbox/contracts_data/daraja/operations.json).
EVENT_TYPES = frozenset({STK_CALLBACK})


class DarajaProvider:
    name = "daraja"
    title = "M-Pesa Daraja"
    hostnames: Mapping[str, str] = {"sandbox.safaricom.co.ke": ""}
    webhooks: WebhookScheme = wire.DarajaCallbacks()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def routes(self, engine: Engine) -> Iterable[web.RouteDef]:
        api = _Api(self, engine)
        return [
            route("GET", "/oauth/v1/generate", api.generate_token),
            route("POST", "/mpesa/stkpush/v1/processrequest", api.stk_push),
            route("POST", "/mpesa/stkpushquery/v1/query", api.stk_query),
        ]

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        return _json(wire.error_body(error, _request_id(request)), status=error.status)

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # callbacks go to each request's CallBackURL

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        if (before is not None and before.status is p.status) or wire.result_of(p) is None:
            return ()
        at = p.history[-1].at if p.history else p.created
        return [Event(id="stk_" + secrets.token_hex(8), provider=self.name,
                      namespace=namespace, type=STK_CALLBACK, created=at,
                      url=p.extra["callback_url"],
                      render=lambda: wire.dumps(wire.stk_callback(p, at)))]


def _request_id(request: web.Request) -> str:
    rid = request.get(REQUEST_ID, "")
    return f"{rid[:5]}-{rid[5:]}-1" if rid else ""


def _json(obj: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=wire.dumps(obj), status=status,
                        headers={"Content-Type": "application/json"})


def _basic(request: web.Request) -> tuple[str, str]:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        key, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except ValueError:  # not base64, not UTF-8, or not ASCII at all
        return "", ""
    return key, secret


class _Api:
    def __init__(self, provider: DarajaProvider, engine: Engine) -> None:
        self.provider = provider
        self.engine = engine
        self.store = engine.store

    async def generate_token(self, request: web.Request) -> web.Response:
        wire.check_token_query(dict(request.query))
        key, secret = _basic(request)
        if not key or not secret:
            raise wire.bad_request(
                "Invalid Authentication passed: send Authorization: Basic "
                "base64(ConsumerKey:ConsumerSecret).", code="400.008.01")
        request[NAMESPACE] = key = tenant(key)
        token = secrets.token_urlsafe(21)
        await self.store.put_object(TOKEN_NAMESPACE, TOKEN_KIND, token, {
            "namespace": key, "expires_at": self.engine.clock.now() + magic.TOKEN_TTL})
        return _json({"access_token": token, "expires_in": str(magic.TOKEN_TTL)})

    async def _authorize(self, request: web.Request) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        record = await self.store.get_object(TOKEN_NAMESPACE, TOKEN_KIND, token.strip()) \
            if scheme.lower() == "bearer" and token.strip() else None
        if record is None or record["expires_at"] <= self.engine.clock.now():
            raise Unauthorized(
                "Invalid Access Token: get one from GET /oauth/v1/generate?grant_type="
                "client_credentials; tokens expire after 3599 seconds.",
                code="404.001.03", status=404)
        ns: str = record["namespace"]
        request[NAMESPACE] = ns
        return ns

    async def _body(self, request: web.Request, contract: str) -> dict[str, Any]:
        raw = await request.read()
        request[RAW_BODY] = raw
        return wire.parse_body(raw, contract)

    def _check_password(self, body: dict[str, Any]) -> str:
        shortcode = str(body["BusinessShortCode"])
        timestamp = body["Timestamp"]
        try:
            datetime.strptime(timestamp, "%Y%m%d%H%M%S")
        except ValueError:
            raise wire.invalid("Timestamp", "use YYYYMMDDHHmmss") from None
        expected = base64.b64encode(
            f"{shortcode}{magic.passkey(shortcode)}{timestamp}".encode()).decode()
        if body["Password"] != expected:
            raise wire.invalid("Password", "it must be base64(BusinessShortCode + Passkey "
                               "+ Timestamp) with this shortcode's passkey")
        return shortcode

    async def stk_push(self, request: web.Request) -> web.Response:
        ns = await self._authorize(request)
        body = await self._body(request, "stkpush.request")
        shortcode = self._check_password(body)
        wire.servable_push(body)
        refusal = self.engine.dispatcher.destinations.url_refusal(str(body["CallBackURL"]))
        if refusal is not None:
            raise wire.invalid("CallBackURL", f"destination not allowed: {refusal}")
        phone = str(body["PhoneNumber"])
        now = self.engine.clock.now()
        p = Payment(
            id=wire.checkout_request_id(now), namespace=ns, provider=self.provider.name,
            amount=int(body["Amount"]) * 100, currency="KES", created=now, method="mpesa",
            description=body["TransactionDesc"],
            metadata={"AccountReference": body["AccountReference"]},
            extra={"merchant_request_id": wire.merchant_request_id(), "phone": phone,
                   "shortcode": shortcode, "party_b": str(body["PartyB"]),
                   "transaction_type": body["TransactionType"],
                   "callback_url": body["CallBackURL"], "receipt": wire.receipt_number()})
        pending = Outcome.pending()
        result = await self.engine.execute(
            self.provider, ns, Authorize(p.id, outcome=pending, create=p),
            payment_facts(request, self.provider.name, p, country="KE"))
        if result.payment.status is Status.PENDING:  # it expires even when a scenario answers
            answer = magic.outcome_for(phone) if result.outcome is pending else None
            self._handset_answers(ns, p.id, answer, now)
        message = "Success. Request accepted for processing"
        return _json({"MerchantRequestID": p.extra["merchant_request_id"],
                      "CheckoutRequestID": p.id, "ResponseCode": "0",
                      "ResponseDescription": message, "CustomerMessage": message})

    def _handset_answers(self, ns: str, pid: str, outcome: Outcome | None,
                         now: float) -> None:
        if outcome is not None:
            answer = Complete(pid, True) if outcome.is_approved else Complete(
                pid, False, reason=outcome.reason, native_code=outcome.native_code)
            self.engine.schedule(self.provider, ns, answer, now + magic.ANSWER_DELAY)
        self.engine.schedule(self.provider, ns, Expire(pid), now + magic.PROMPT_TIMEOUT)

    async def stk_query(self, request: web.Request) -> web.Response:
        ns = await self._authorize(request)
        body = await self._body(request, "stkquery.request")
        self._check_password(body)
        await self.engine.intercept(self.provider, ns, Listing(""), scenario_facts(
            request, self.provider.name, operation="retrieve"))
        p = await self.store.get(ns, body["CheckoutRequestID"])
        if p is None or p.provider != self.provider.name:
            raise wire.invalid("CheckoutRequestID", "no STK push with this id was made "
                               "with this consumer key")
        answer = wire.query_result(p)
        if answer is None:
            raise ApiError("The transaction is being processed", code="500.001.1001",
                           status=500)
        return _json(answer)


provider = DarajaProvider()
