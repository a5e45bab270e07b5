"""Checkout.com's unified payments API (`/payments`): the provider and its routes.

Mounted at `/checkoutcom`: give the official SDK an Environment whose `base_uri` is
`http://HOST:PORT/checkoutcom/`. Authentication is `Authorization: Bearer sk_sbox_…`
(the default SDK) or the raw secret key without "Bearer" (the Previous SDK's
`sk_test_…`); the key is the namespace.

LIMITATIONS (what of the real API this does not imitate):
- Payments with a `card`, `id` (a saved instrument) or `customer` (its default
  instrument) source. A `token` source (`tok_…` from Frames or the Tokens API) is
  refused with 422 `token_invalid`: there is no Tokens API here; other source types
  (`network_token`, APMs) with 422 `payment_source_type_invalid`. Payouts, payment
  links, hosted payments, sessions and the Workflows API are not imitated.
- Financial actions (`GET /financial-actions`, financial.py) are read from the
  sandbox's ledger; the Balances and Reports APIs are not served.
- Stored credentials (stored.py, vault.py): a `card` source is saved as an instrument
  unless `store_for_future_use` is false, whatever the payment's outcome; its id
  (`src_…`) follows from the card, so one card is one instrument per key. Customers
  (`/customers`, found by id or email) and card instruments (`/instruments`, `type:
  card` with the card's details; `type: token` answers 422 `token_invalid`, bank
  accounts are not imitated). `merchant_initiated: true` makes a merchant-initiated
  payment (`payment_type` Recurring, Installment, else unscheduled); it quotes
  `previous_payment_id` (this key's `pay_` id, or any imitated acquirer's network
  transaction id), else the scheme id of the payment that saved its instrument; an id
  the schemes did not issue for the card is declined 20057. `scheme_id` is a network
  transaction id on every card payment. On a merchant-initiated payment a card whose
  issuer challenges (the 3DS challenge test cards, or a `3ds` request that would be
  challenged) is declined 20154; a card expired since it was saved, 20054. The error codes
  `payment_source_id_invalid`, `customer_not_found`, `customer_instrument_not_found`,
  `previous_payment_id_invalid`, `instrument_invalid`, `instrument_type_invalid` and
  the 409 `customer_email_already_exists` are this simulator's.
- One capture per payment: a partial capture releases the rest ("Partially Captured");
  `capture_type: NonFinal` is accepted and changes nothing. Voids void the whole
  authorization. Incremental authorizations, reversals and `capture_on` are not imitated.
- Test values: the "Response code tests" cards, the "3D Secure test cards" and the
  amount triggers of "Response code testing" (see magic.py). The bypass by expiry date,
  the 3DS-only amount triggers (20150, 20153), "first attempt only" for 2011/2013, the
  card-verification cards and the AFT/payout cards are not imitated.
- A payment's `customer` with an email no customer has creates that customer (its
  `cus_` id derived from the email); one with an unknown `id` is shown as given.
- A payment declined by 3DS or the issuer is final, as in the real API; there is no
  retry (`retry`). Risk rules are not evaluated.
- The bodies of 403 (action not allowed) answers and the error codes of malformed or
  non-JSON bodies are this simulator's (the reference does not document them); an
  idempotency key reused with another body answers 422 `idempotency_key_invalid`.
  Idempotency keys do not expire.
- Disputes: opened by the documented dispute test scenario (see magic.py: a 10.40
  payment on a card expiring 01/2099 is disputed as fraudulent, Visa 10.4, a minute
  after its capture; not after a 3DS challenge, whose completion is the hosted page's),
  a scenario rule or the admin API. The page's other scenario tables are not imitated.
  `GET /disputes` (every filter of the reference; `entity_ids` match the key's one
  entity, `sub_entity_ids`, `this_channel_only` and `processing_channel_ids` are
  accepted and change nothing, as are unknown query parameters),
  `GET /disputes/{id}`, evidence provided (`PUT …/evidence`, merged field by field),
  read back (`GET …/evidence`) and submitted (`POST …/evidence`), and accept. Evidence
  file fields take any string (there is no Files API here); arbitration, scheme files,
  compiled submitted evidence, `resolved` (a dispute on a refunded payment) and
  `canceled` (the issuer withdraws) are not imitated, nor is the dispute fee. A submitted
  dispute is decided after its decision delay (default 1 h of virtual time): as its
  trigger said, else won (Checkout.com documents no evidence test values). An inquiry
  is shown as a dispute (Checkout.com has no separate retrieval requests). The error
  codes of refused dispute steps (`dispute_already_closed`,
  `dispute_evidence_already_submitted`, `dispute_evidence_required`,
  `dispute_evidence_deadline_passed`) and of malformed `from`/`to`
  (`paging_from_invalid`) are this simulator's; the reference documents none.
- Dispute webhooks: `dispute_received` and `dispute_evidence_required` when a dispute
  opens, `dispute_evidence_submitted`, `dispute_won`, `dispute_lost`,
  `dispute_accepted`, `dispute_expired`; not `dispute_canceled`, `dispute_resolved` or
  the arbitration ones.
- Webhooks go to the endpoint configured with `PUT /__admin/webhooks/checkoutcom` (the
  dashboard's job); `payment_capture_declined`, `payment_refund_declined` and
  `payment_void_declined` are never sent, because captures, refunds and voids here are
  never declined.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from paysandbox.core.commands import (
    AcceptDispute,
    Command,
    ExpireDispute,
    OpenDispute,
    ReopenDispute,
    ResolveDispute,
    Result,
    UpdateDispute,
)
from paysandbox.core.disputes import DisputeStatus
from paysandbox.core.payments import Payment, Status
from paysandbox.objects import Objects
from paysandbox.providers.checkoutcom import actions, disputes, financial, payments, vault, wire
from paysandbox.providers.checkoutcom.dialect import CheckoutDialect
from paysandbox.providers.seam import Route, op
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme


class CheckoutProvider:
    name = "checkoutcom"
    title = "Checkout.com"
    # The shared host, and the merchant subdomains the SDKs now require ({prefix}.api…).
    hostnames: Mapping[str, str] = {"api.sandbox.checkout.com": "",
                                    "*.api.sandbox.checkout.com": ""}
    webhooks: WebhookScheme = wire.CheckoutWebhooks()
    dialect = CheckoutDialect()

    @property
    def event_types(self) -> frozenset[str]:
        """Every webhook type `events_for` can send (contracts_data/checkoutcom/operations.json
        gives each its payload schema)."""
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def new_dispute_id(self) -> str:
        return disputes.new_dispute_id()

    def public_status(self, p: Payment) -> str:
        return wire.status(p)

    def return_url(self, p: Payment) -> str | None:
        """After the challenge the shopper goes to `success_url` when the payment was
        authorized and to `failure_url` otherwise, with `cko-session-id` appended."""
        ok = p.status in (Status.AUTHORIZED, Status.CAPTURED)
        url = p.extra.get("success_url" if ok else "failure_url")
        if not url:
            return None
        query = urlencode({"cko-session-id": p.extra.get("session_id", "")})
        return f"{url}{'&' if '?' in url else '?'}{query}"

    def routes(self) -> Iterable[Route]:
        return [
            op("POST", "/payments", payments.create_payment),
            op("GET", "/payments/{id}", payments.get_payment, read="retrieve"),
            op("GET", "/payments/{id}/actions", payments.get_payment_actions, read="list"),
            op("POST", "/payments/{id}/captures", actions.capture_payment),
            op("POST", "/payments/{id}/refunds", actions.refund_payment),
            op("POST", "/payments/{id}/voids", actions.void_payment),
            op("POST", "/customers", vault.create_customer, read="create"),
            op("GET", "/customers/{id}", vault.get_customer, read="retrieve"),
            op("PATCH", "/customers/{id}", vault.update_customer, read="update"),
            op("DELETE", "/customers/{id}", vault.delete_customer, read="update"),
            op("POST", "/instruments", vault.create_instrument, read="create"),
            op("GET", "/instruments/{id}", vault.get_instrument, read="retrieve"),
            op("PATCH", "/instruments/{id}", vault.update_instrument,
               read="update"),
            op("DELETE", "/instruments/{id}", vault.delete_instrument,
               read="update"),
            op("GET", "/disputes", disputes.list_disputes, read="list"),
            op("GET", "/financial-actions", financial.list_financial_actions, read="list"),
            op("GET", "/disputes/{id}", disputes.get_dispute, read="retrieve"),
            op("PUT", "/disputes/{id}/evidence", disputes.provide_dispute_evidence),
            op("GET", "/disputes/{id}/evidence", disputes.get_dispute_evidence,
               read="retrieve"),
            op("POST", "/disputes/{id}/evidence", disputes.submit_dispute_evidence),
            op("POST", "/disputes/{id}/accept", disputes.accept_dispute),
        ]

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return []  # configured in the dashboard: the dispatcher's admin-set endpoint

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        if result.dispute is not None:
            return self._dispute_events(namespace, command, result)
        p, before = result.payment, result.previous
        since = len(before.history) if before is not None else 0
        found: list[tuple[str, Mapping[str, Any] | None]] = []
        if p.status in (Status.REQUIRES_ACTION, Status.PENDING) and \
                (before is None or before.status is not p.status):
            found.append((PENDING_EVENT, None))
        for done in wire.actions(p, {}, since=since):
            found.append((_EVENT_TYPES[done["type"], done["approved"]], done))
        at = p.history[-1].at if p.history else p.created
        events = []
        for type_, action in found:
            eid = wire.new_id("evt")
            events.append(Event(
                id=eid, provider=self.name, namespace=namespace, type=type_, created=at,
                render=lambda eid=eid, type_=type_, action=action: wire.dumps(  # type: ignore[misc]
                    wire.event(eid, type_, at, p, action))))
        return events

    def _dispute_events(self, namespace: str, command: Command, result: Result
                        ) -> list[Event]:
        """The dispute webhooks of a dispute step (evidence provided but not submitted
        sends none, as at Checkout.com)."""
        p, d = result.payment, result.dispute
        assert d is not None
        types: list[str] = []
        if isinstance(command, OpenDispute):
            types += ["dispute_received", "dispute_evidence_required"]
        elif isinstance(command, ReopenDispute):
            types.append("dispute_evidence_required")
        elif isinstance(command, UpdateDispute):
            if d.status is DisputeStatus.UNDER_REVIEW and (
                    result.previous_dispute is None or
                    result.previous_dispute.status is not DisputeStatus.UNDER_REVIEW):
                types.append("dispute_evidence_submitted")
        elif isinstance(command, ExpireDispute):
            types.append("dispute_expired")
        elif isinstance(command, AcceptDispute | ResolveDispute):
            types.append(_CLOSED_EVENTS[d.status])
        at = p.history[-1].at if p.history else p.created
        events = []
        for type_ in types:
            eid = wire.new_id("evt")
            events.append(Event(
                id=eid, provider=self.name, namespace=namespace, type=type_, created=at,
                render=lambda eid=eid, type_=type_: wire.dumps(  # type: ignore[misc]
                    disputes.dispute_event(eid, type_, at, p, d))))
        return events


_CLOSED_EVENTS: Mapping[DisputeStatus, str] = {
    DisputeStatus.WON: "dispute_won", DisputeStatus.LOST: "dispute_lost",
    DisputeStatus.ACCEPTED: "dispute_accepted"}
DISPUTE_EVENTS = frozenset({"dispute_received", "dispute_evidence_required",
                            "dispute_evidence_submitted", "dispute_expired",
                            *_CLOSED_EVENTS.values()})

_EVENT_TYPES: Mapping[tuple[str, bool], str] = {
    ("Authorization", True): "payment_approved",
    ("Authorization", False): "payment_declined",
    ("Card Verification", True): "card_verified",
    ("Card Verification", False): "card_verification_declined",
    ("Capture", True): "payment_captured",
    ("Capture", False): "payment_capture_declined",
    ("Void", True): "payment_voided",
    ("Void", False): "payment_void_declined",
    ("Refund", True): "payment_refunded",
    ("Refund", False): "payment_refund_declined",
}
PENDING_EVENT = "payment_pending"
EVENT_TYPES = frozenset({PENDING_EVENT, *_EVENT_TYPES.values(), *DISPUTE_EVENTS})

provider = CheckoutProvider()
