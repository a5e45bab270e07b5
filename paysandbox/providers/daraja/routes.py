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
- Consumer secrets are not checked (any non-empty one is accepted). Access tokens name
  the consumer key they were issued to (dialect.py); Daraja's own are opaque.
- STK query of a pending push answers HTTP 500 `500.001.1001` "The transaction is
  being processed", as Daraja does; integrations must treat it as "not yet".
- Request validation messages follow Daraja's "Bad Request - Invalid <Field>" shape
  with the reason appended; a wrong Password is a 400 `400.002.02` here.
- Amounts are whole shillings (KES); callbacks are retried three times (Safaricom
  does not document retries).
- The Timestamp is checked for shape and calendar validity, not against the clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence

from paysandbox.core.commands import Command, Result
from paysandbox.objects import Objects
from paysandbox.providers.daraja import oauth, payments, wire
from paysandbox.providers.daraja.dialect import OAUTH_PATH, DarajaDialect
from paysandbox.providers.seam import Route, op
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

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
    dialect = DarajaDialect()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def routes(self) -> Iterable[Route]:
        return [
            op("GET", OAUTH_PATH, oauth.generate_token),
            op("POST", "/mpesa/stkpush/v1/processrequest", payments.stk_push),
            op("POST", "/mpesa/stkpushquery/v1/query", payments.stk_query),
        ]

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


provider = DarajaProvider()
