"""Razorpay's v1 paths -> canonical commands, and back to Razorpay's entities.

Mounted at `/razorpay`; the official SDK is given `base_url=<simulator>/razorpay` and
appends `/v1/...` itself. The key id (`rzp_test_…`, HTTP Basic username) is the
namespace: two key ids never see each other's orders, payments or refunds.

Flow imitated: create an Order, start a server-to-server UPI collect payment on it
(`POST /v1/payments/create/upi`), poll the payment (or receive webhooks) while the
customer approves the collect request in their UPI app, capture it (unless the order
captures automatically), refund it.

LIMITATIONS (what of the real API this does not imitate):
- Payment methods: UPI collect only. No cards, netbanking, wallets, UPI intent/QR
  (`upi.flow: intent` is refused with a clear error), EMI, recurring payments,
  customers, tokens, payment links, invoices, subscriptions, Route transfers,
  on-demand settlements or the Checkout (browser) flow and its payment signature.
- Settlements (`/v1/settlements`, fetch, and the combined recon) are read from the
  sandbox's ledger, and `settlement.processed` is sent when one is made: see
  settlements.py for what they leave out.
- Disputes: opened by a scenario rule or the admin API (Razorpay documents no test
  values that raise one); `/v1/disputes` list (count, skip, from, to), fetch, accept
  and contest (`action: draft` stages evidence, `submit` sends it: at least one
  document is required), and the `payment.dispute.*` webhooks (created, under_review,
  won, lost, closed; action_required when a won dispute is reopened at a later phase).
  Document ids are taken as given (there is no Documents API to upload to) and
  `expand[]` is ignored. A contested dispute is decided after its decision delay
  (default 1 h of virtual time), as its trigger said, else won; an unanswered one is
  lost at `respond_by`. `reason_code` is a word for the reason (Razorpay's own codes
  are not published). Funds are held from refunds while a dispute is open or lost;
  `amount_deducted` shows them once it is lost. A retrieval request (an inquiry) that
  was answered is `closed`.
- Bodies are JSON only; Razorpay also takes form-encoded bodies.
- The key secret is not checked (any non-empty secret is accepted with a test key id);
  live key ids (`rzp_live_…`) are refused.
- Order `partial_payment` allows payments up to the amount due; offers, `first_payment_
  min_amount` and per-currency minimum amounts other than 100 subunits are not enforced.
- Refunds are processed at once (`status: processed`, speed `normal`); `instant`/
  `optimum` speed, failed refunds and refund edits (PATCH) are not imitated.
- Authorized payments are not auto-refunded after Razorpay's capture window; fees are
  a flat 2% plus 18% GST.
- Idempotency: Razorpay has an idempotency header for refunds only
  (`X-Refund-Idempotency`); orders use `receipt` with `unique_receipt: true`, as
  documented. Payment creation has none (retry on the same order instead).
- Error descriptions follow Razorpay's where documented and otherwise say what to do;
  some carry more guidance than Razorpay's own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from paysandbox.core.commands import (
    AcceptDispute,
    Capture,
    Command,
    ExpireDispute,
    OpenDispute,
    RefundPayment,
    ReopenDispute,
    ResolveDispute,
    Result,
    Settle,
    UpdateDispute,
)
from paysandbox.core.disputes import DisputeStatus
from paysandbox.core.payments import Payment, Status
from paysandbox.ledger import AccountBooks
from paysandbox.objects import Objects
from paysandbox.providers.razorpay import (
    disputes,
    orders,
    payments,
    refunds,
    settlements,
    wire,
)
from paysandbox.providers.razorpay.dialect import RazorpayDialect
from paysandbox.providers.seam import Route, op
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme


class RazorpayProvider:
    name = "razorpay"
    title = "Razorpay"
    hostnames: Mapping[str, str] = {"api.razorpay.com": ""}
    webhooks: WebhookScheme = wire.RazorpayWebhooks()
    dialect = RazorpayDialect()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""  # the SDK appends /v1 to its base_url itself

    def new_dispute_id(self) -> str:
        return wire.new_id("disp")

    async def settlement_events(self, books: AccountBooks, objects: Objects,
                                namespace: str, due: Settle, now: float
                                ) -> Sequence[Event]:
        """`settlement.processed` when a day's settlement is made (Razorpay sends
        nothing when the money reaches the bank, nor for a failed settlement)."""
        if due.arrived:
            return ()
        by_id = {e.id: e for e in books.entries}
        return [settlements.settlement_event(namespace, p, by_id, now)
                for p in books.payouts if p.created == due.day and not p.failed]

    def routes(self) -> Iterable[Route]:
        # Only refunds take an idempotency key (X-Refund-Idempotency).
        return [
            op("POST", "/v1/orders", orders.create_order, idempotent=False),
            op("GET", "/v1/orders", orders.list_orders, read="list"),
            op("GET", "/v1/orders/{id}", orders.retrieve_order, read="retrieve"),
            op("GET", "/v1/orders/{id}/payments", orders.list_order_payments, read="list"),
            op("POST", "/v1/payments/create/upi", payments.create_upi_payment,
               idempotent=False),
            op("GET", "/v1/payments", payments.list_payments, read="list"),
            op("GET", "/v1/payments/{id}", payments.retrieve_payment, read="retrieve"),
            op("POST", "/v1/payments/{id}/capture", payments.capture_payment,
               idempotent=False),
            op("POST", "/v1/payments/{id}/refund", refunds.refund_payment),
            op("GET", "/v1/payments/{id}/refunds", refunds.list_payment_refunds,
               read="list"),
            op("GET", "/v1/payments/{id}/refunds/{refund_id}",
               refunds.retrieve_payment_refund, read="retrieve"),
            op("GET", "/v1/refunds", refunds.list_refunds, read="list"),
            op("GET", "/v1/refunds/{id}", refunds.retrieve_refund, read="retrieve"),
            op("GET", "/v1/disputes", disputes.list_disputes, read="list"),
            op("GET", "/v1/disputes/{id}", disputes.retrieve_dispute, read="retrieve"),
            op("POST", "/v1/disputes/{id}/accept", disputes.accept_dispute,
               idempotent=False),
            op("PATCH", "/v1/disputes/{id}/contest", disputes.contest_dispute),
            op("GET", "/v1/settlements", settlements.list_settlements, read="list"),
            op("GET", "/v1/settlements/recon/combined", settlements.settlement_recon,
               read="list"),
            op("GET", "/v1/settlements/{id}", settlements.retrieve_settlement,
               read="retrieve"),
        ]

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # configured in the dashboard: PUT /__admin/webhooks/razorpay

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        types: list[str] = []
        if result.dispute is not None:
            types = _dispute_events(command, result)
        elif isinstance(command, Capture):
            types = list(_CAPTURE_EVENTS)
        elif isinstance(command, RefundPayment):
            types = list(_REFUND_EVENTS)
        elif before is None or before.status is not p.status:
            types = list(_ATTEMPT_EVENTS.get(p.status, ()))
        if not types:
            return ()
        now = p.history[-1].at if p.history else p.created
        return [self._event(namespace, t, now, p, result) for t in types]

    def _event(self, namespace: str, type_: str, now: float, p: Payment,
               result: Result) -> Event:
        eid = wire.new_id("evt")

        def render() -> bytes:
            entities: dict[str, dict[str, Any]]
            if type_.startswith("payment.dispute."):
                assert result.dispute is not None
                entities = {"payment": wire.payment(p),
                            "dispute": disputes.dispute(p, result.dispute)}
            elif type_.startswith("refund."):
                assert result.refund is not None
                entities = {"refund": wire.refund(p, result.refund), "payment": wire.payment(p)}
            elif type_ == "order.paid":
                entities = {"payment": wire.payment(p),
                            "order": wire.order(p.extra.get("order") or {}, [p])}
            elif type_ == "payment.authorized":
                entities = {"payment": wire.payment(_as_authorized(p))}
            else:
                entities = {"payment": wire.payment(p)}
            body = wire.dumps(wire.event(namespace, type_, now, entities))
            return wire.remember_event_id(body, eid)

        return Event(id=eid, provider=self.name, namespace=namespace, type=type_,
                     created=now, render=render)


_CAPTURE_EVENTS = ("payment.captured", "order.paid")
_REFUND_EVENTS = ("refund.created", "refund.processed")
_ATTEMPT_EVENTS: dict[Status, tuple[str, ...]] = {
    Status.AUTHORIZED: ("payment.authorized",),
    Status.CAPTURED: ("payment.authorized", "payment.captured", "order.paid"),
    Status.FAILED: ("payment.failed",),
    Status.EXPIRED: ("payment.failed",),
    Status.VOIDED: ("payment.failed",),
}

_DISPUTE_EVENTS = ("payment.dispute.created", "payment.dispute.under_review",
                   "payment.dispute.won", "payment.dispute.lost", "payment.dispute.closed",
                   "payment.dispute.action_required")


def _dispute_events(command: Command, result: Result) -> list[str]:
    """payment.dispute.* for a dispute step: created when it opens, under_review when
    the evidence is submitted (a draft sends nothing), then won, lost or closed as its
    status says; action_required when a won dispute is reopened at a later phase."""
    d, was = result.dispute, result.previous_dispute
    assert d is not None
    if isinstance(command, OpenDispute):
        return ["payment.dispute.created"]
    if isinstance(command, ReopenDispute):
        return ["payment.dispute.action_required"]
    if isinstance(command, UpdateDispute):
        submitted = d.status is DisputeStatus.UNDER_REVIEW and (
            was is None or was.status is not DisputeStatus.UNDER_REVIEW)
        return ["payment.dispute.under_review"] if submitted else []
    if isinstance(command, AcceptDispute | ExpireDispute | ResolveDispute):
        return [f"payment.dispute.{disputes.status(d)}"]
    return []


#: Every event type `events_for` can emit (each has a payload contract in
#: paysandbox/contracts_data/razorpay/operations.json).
EVENT_TYPES = frozenset({*_CAPTURE_EVENTS, *_REFUND_EVENTS, *_DISPUTE_EVENTS,
                         "settlement.processed",
                         *(t for types in _ATTEMPT_EVENTS.values() for t in types)})


def _as_authorized(p: Payment) -> Payment:
    """The payment as it was when authorized: `payment.authorized` is a snapshot of
    that moment even when the payment was captured at once."""
    if p.status is Status.AUTHORIZED:
        return p
    return dataclasses.replace(p, status=Status.AUTHORIZED, amount_captured=0,
                               amount_refunded=0, refunds=())




provider = RazorpayProvider()
