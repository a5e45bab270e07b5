"""Stripe's v1 paths -> canonical commands, and back to Stripe's objects.

LIMITATIONS (what of the real API this does not imitate):
- Objects: PaymentIntents, Charges (read), Refunds, Disputes, Radar early fraud
  warnings (read), PaymentMethods (cards), Customers, SetupIntents, Events,
  WebhookEndpoints, the account and its external bank accounts (accounts.py), and the
  balance, balance transactions, payouts and report runs (with their files) read from
  the sandbox's ledger (balance.py and reporting.py); each module states its own
  limitations. No Checkout Sessions, Connect (`Stripe-Account` is ignored),
  Billing (subscriptions, invoices), file uploads or manual payouts.
- Saved cards (saved.py): a card is saved by attach, a SetupIntent or a PaymentIntent
  with `setup_future_usage` and a customer; every approved card charge shows a
  `network_transaction_id`. `off_session` payments are merchant-initiated (`recurring`
  ones recurring, otherwise unscheduled) and quote the setup's network transaction id,
  or the one `payment_method_options[card][mit_exemption][network_transaction_id]`
  names (one any imitated acquirer issued for the same card is accepted). Customers
  have no balance, sources, tax ids, discounts or search; deleting one leaves its cards
  showing it. SetupIntents have no `update`, `mandate`, `latest_attempt` or
  microdeposits; they are listed with the payments in the admin API (as payments of no
  amount). A payment method used without a customer may be used again (Stripe refuses
  that; here only a detached one is refused).
- Disputes: opened by the dispute test cards, a scenario rule or the admin API; list
  (by charge or payment_intent), retrieve, update (evidence, metadata, submit) and
  close. Evidence file fields take any string (there is no Files API to upload to);
  `expand[]` and the legacy `/v1/charges/{id}/dispute` paths are not imitated. A
  submitted dispute is decided after its decision delay (default 1 h of virtual time):
  `winning_evidence` / `losing_evidence` in `evidence[uncategorized_text]` as Stripe
  documents, else as its trigger said, else won. An inquiry closes as `warning_closed`
  (it never escalates to a chargeback here). A dispute's own `balance_transactions`
  (a flat 15.00 dispute fee) carry ids of their own, not those /v1/balance_transactions
  lists.
- The dispute test card 4000000000001976 opens an inquiry; 4000000000005423 draws an
  early fraud warning (made_with_stolen_card) and no dispute. Stripe's other dispute
  test cards (multiple disputes, withdrawal failures) are not imitated.
- Payment methods are cards only; `automatic_payment_methods` is accepted and ignored.
- Parameters Stripe accepts but that change nothing here (payment_method_options,
  transfer_data, …) are accepted and ignored.
- `expand[]` supports `latest_charge` and `payment_method`; search endpoints and
  list pagination by `created` are not imitated (`limit`, `starting_after` are).
- Per-currency minimum amounts (Stripe's `amount_too_small`) are not enforced.
- A declined attempt keeps only its latest charge; earlier failed charges are not listed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

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
    Void,
)
from paysandbox.core.disputes import DisputeKind
from paysandbox.core.payments import Payment, Status
from paysandbox.ledger import AccountBooks
from paysandbox.objects import Objects
from paysandbox.providers.seam import Route, op
from paysandbox.providers.stripe import (
    accounts,
    balance,
    customers,
    disputes,
    objects,
    payments,
    refunds,
    reporting,
    saved,
    setup_intents,
    wire,
)
from paysandbox.providers.stripe.dialect import StripeDialect
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme, recipe


class StripeProvider:
    name = "stripe"
    title = "Stripe"
    hostnames: Mapping[str, str] = {"api.stripe.com": "", "files.stripe.com": ""}
    webhooks: WebhookScheme = wire.StripeWebhooks()
    dialect = StripeDialect()
    #: Endpoints registered with POST /v1/webhook_endpoints (objects.ListsEndpoints).
    endpoints_kind = objects.ENDPOINTS

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def new_dispute_id(self) -> str:
        return wire.new_id("dp")

    async def settlement_events(self, books: AccountBooks, objects: Objects,
                                namespace: str, due: Settle, now: float
                                ) -> Sequence[Event]:
        """`payout.created` when a day's funds are paid out; `payout.paid` (or
        `payout.failed`) when the payout reaches the bank. A late payout (a scenario's
        drift) is still in transit then: its arrival is not announced."""
        out = []
        for p in await balance.settled(books, objects):
            if p.payout.created != due.day:
                continue
            if not due.arrived:
                kind = "payout.created"
            elif (status := p.status(now)) in ("paid", "failed"):
                kind = f"payout.{status}"
            else:
                continue
            out.append(wire.fixed_event(namespace, f"{p.payout.id}:{kind}", kind, now,
                                        functools.partial(balance.payout, p, now)))
        return out

    def public_status(self, p: Payment) -> str:
        return setup_intents.status(p) if p.id.startswith("seti_") else wire.pi_status(p)

    def return_url(self, p: Payment) -> str | None:
        """Where the shopper goes after a challenge, with the query Stripe appends.

        `redirect_status` says what became of the payment, not which button was
        pressed: a card can pass 3DS and still be declined."""
        url = p.extra.get("return_url")
        if not url:
            return None
        kind = "setup_intent" if p.id.startswith("seti_") else "payment_intent"
        status = self.public_status(p)
        redirect = {"succeeded": "succeeded", "requires_capture": "succeeded",
                    "processing": "processing"}.get(status, "failed")
        query = urlencode({kind: p.id,
                           f"{kind}_client_secret": p.extra.get("client_secret", ""),
                           "redirect_status": redirect})
        return f"{url}{'&' if '?' in url else '?'}{query}"

    def routes(self) -> Iterable[Route]:
        return [
            op("POST", "/v1/payment_intents", payments.create_payment_intent),
            op("GET", "/v1/payment_intents", payments.list_payment_intents, read="list"),
            op("GET", "/v1/payment_intents/{id}", payments.retrieve_payment_intent,
               read="retrieve"),
            op("POST", "/v1/payment_intents/{id}", payments.update_payment_intent),
            op("POST", "/v1/payment_intents/{id}/confirm", payments.confirm_payment_intent),
            op("POST", "/v1/payment_intents/{id}/capture", payments.capture_payment_intent),
            op("POST", "/v1/payment_intents/{id}/cancel", payments.cancel_payment_intent),
            op("GET", "/v1/charges/{id}", payments.retrieve_charge, read="retrieve"),
            op("POST", "/v1/refunds", refunds.create_refund),
            op("GET", "/v1/refunds", refunds.list_refunds, read="list"),
            op("GET", "/v1/refunds/{id}", refunds.retrieve_refund, read="retrieve"),
            op("POST", "/v1/payment_methods", objects.create_payment_method, read="create"),
            op("GET", "/v1/payment_methods", saved.list_payment_methods, read="list"),
            op("GET", "/v1/payment_methods/{id}", saved.retrieve_payment_method,
               read="retrieve"),
            op("POST", "/v1/payment_methods/{id}/attach", saved.attach_payment_method,
               read="update"),
            op("POST", "/v1/payment_methods/{id}/detach", saved.detach_payment_method,
               read="update"),
            op("POST", "/v1/customers", customers.create_customer, read="create"),
            op("GET", "/v1/customers", customers.list_customers, read="list"),
            op("GET", "/v1/customers/{id}", customers.retrieve_customer, read="retrieve"),
            op("POST", "/v1/customers/{id}", customers.update_customer, read="update"),
            op("DELETE", "/v1/customers/{id}", customers.delete_customer, read="update"),
            op("GET", "/v1/customers/{id}/payment_methods",
               saved.list_customer_payment_methods, read="list"),
            op("POST", "/v1/setup_intents", setup_intents.create_setup_intent),
            op("GET", "/v1/setup_intents", setup_intents.list_setup_intents, read="list"),
            op("GET", "/v1/setup_intents/{id}", setup_intents.retrieve_setup_intent,
               read="retrieve"),
            op("POST", "/v1/setup_intents/{id}/confirm", setup_intents.confirm_setup_intent),
            op("POST", "/v1/setup_intents/{id}/cancel", setup_intents.cancel_setup_intent),
            op("POST", "/v1/webhook_endpoints", objects.create_webhook_endpoint,
               read="create"),
            op("GET", "/v1/webhook_endpoints", objects.list_webhook_endpoints, read="list"),
            op("GET", "/v1/webhook_endpoints/{id}", objects.retrieve_webhook_endpoint,
               read="retrieve"),
            op("DELETE", "/v1/webhook_endpoints/{id}", objects.delete_webhook_endpoint,
               read="retrieve"),
            op("GET", "/v1/disputes", disputes.list_disputes, read="list"),
            op("GET", "/v1/disputes/{id}", disputes.retrieve_dispute, read="retrieve"),
            op("POST", "/v1/disputes/{id}", disputes.update_dispute),
            op("POST", "/v1/disputes/{id}/close", disputes.close_dispute),
            op("GET", "/v1/radar/early_fraud_warnings", disputes.list_early_fraud_warnings,
               read="list"),
            op("GET", "/v1/radar/early_fraud_warnings/{id}",
               disputes.retrieve_early_fraud_warning, read="retrieve"),
            op("GET", "/v1/balance", balance.retrieve_balance, read="retrieve"),
            op("GET", "/v1/balance_transactions", balance.list_balance_transactions,
               read="list"),
            op("GET", "/v1/balance_transactions/{id}", balance.retrieve_balance_transaction,
               read="retrieve"),
            op("GET", "/v1/payouts", balance.list_payouts, read="list"),
            op("GET", "/v1/payouts/{id}", balance.retrieve_payout, read="retrieve"),
            op("GET", "/v1/reporting/report_types", reporting.list_report_types,
               read="list"),
            op("GET", "/v1/reporting/report_types/{id}", reporting.retrieve_report_type,
               read="retrieve"),
            op("POST", "/v1/reporting/report_runs", reporting.create_report_run,
               read="create"),
            op("GET", "/v1/reporting/report_runs", reporting.list_report_runs, read="list"),
            op("GET", "/v1/reporting/report_runs/{id}", reporting.retrieve_report_run,
               read="retrieve"),
            op("GET", "/v1/files/{id}", reporting.retrieve_file, read="retrieve"),
            op("GET", "/v1/files/{id}/contents", reporting.download_file, read="retrieve"),
            op("GET", "/v1/account", accounts.retrieve_account, read="retrieve"),
            op("POST", "/v1/accounts/{account}/external_accounts",
               accounts.create_external_account, read="create"),
            op("GET", "/v1/accounts/{account}/external_accounts",
               accounts.list_external_accounts, read="list"),
            op("GET", "/v1/accounts/{account}/external_accounts/{id}",
               accounts.retrieve_external_account, read="retrieve"),
            op("POST", "/v1/accounts/{account}/external_accounts/{id}",
               accounts.update_external_account, read="update"),
            op("DELETE", "/v1/accounts/{account}/external_accounts/{id}",
               accounts.delete_external_account, read="update"),
            op("GET", "/v1/events", objects.list_events, read="list"),
            op("GET", "/v1/events/{id}", objects.retrieve_event, read="retrieve"),
        ]

    async def webhook_endpoints(self, stored: Objects, namespace: str) -> Sequence[Endpoint]:
        return [Endpoint(url=r["url"], secret=r["secret"], provider=self.name,
                         namespace=namespace, events=frozenset(r["enabled_events"]),
                         id=r["id"])
                for r in await stored.of(objects.ENDPOINTS).all()]

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        types: list[tuple[str, str]] = []  # (event type, object kind)
        if result.dispute is not None:
            return self._dispute_events(namespace, command, result)
        if p.id.startswith("seti_"):
            return self._setup_events(namespace, result)
        if before is None:
            types.append(("payment_intent.created", "pi"))
        if isinstance(command, Capture):
            types += [("charge.captured", "ch"), ("payment_intent.succeeded", "pi")]
        elif isinstance(command, Void):
            types.append(("payment_intent.canceled", "pi"))
        elif isinstance(command, RefundPayment):
            types += [("refund.created", "re"), ("charge.refunded", "ch")]
        elif before is None or before.status is not p.status:
            types += _ATTEMPT_EVENTS.get(p.status, [])
            if p.status in saved.SUCCEEDED and saved.attached_event(p) is not None:
                types.append(("payment_method.attached", "pm"))
            if disputes.has_warning(p) and (before is None or not disputes.has_warning(before)):
                types.append(("radar.early_fraud_warning.created", "efw"))
        arg = "" if result.refund is None else result.refund.id
        now = p.history[-1].at if p.history else p.created
        # rendered as the recipes render them again (_OBJECTS)
        return wire.events(namespace, now,
                           [(t, functools.partial(_OBJECTS[kind], p, arg)) for t, kind in types],
                           kinds=types, source=(arg, p))

    def _events(self, namespace: str, now: float,
                made: Sequence[tuple[str, Callable[[], dict[str, Any]]]]) -> list[Event]:
        return wire.events(namespace, now, made)

    def _setup_events(self, namespace: str, result: Result) -> list[Event]:
        p, before = result.payment, result.previous
        types = ["setup_intent.created"] if before is None else []
        if p.status is not Status.CREATED and (before is None or before.status is not p.status):
            types += _SETUP_EVENTS.get(p.status, [])
        made: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            (t, lambda: setup_intents.setup_intent(p)) for t in types]
        if "setup_intent.succeeded" in types and saved.attached_event(p) is not None:
            made.append(("payment_method.attached", lambda: saved.attached_event(p) or {}))
        now = p.history[-1].at if p.history else p.created
        return self._events(namespace, now, made)

    def _dispute_events(self, namespace: str, command: Command, result: Result
                        ) -> list[Event]:
        """charge.dispute.* for a dispute step: created (and funds_withdrawn for a
        chargeback), updated, closed (and funds_reinstated when a chargeback is won)."""
        p, d = result.payment, result.dispute
        assert d is not None
        types: list[str] = []
        if isinstance(command, OpenDispute):
            types.append("charge.dispute.created")
            if d.kind is DisputeKind.CHARGEBACK:
                types.append("charge.dispute.funds_withdrawn")
        elif isinstance(command, UpdateDispute):
            types.append("charge.dispute.updated")
        elif isinstance(command, ReopenDispute):
            types += ["charge.dispute.updated", "charge.dispute.funds_withdrawn"]
        elif isinstance(command, AcceptDispute | ExpireDispute | ResolveDispute):
            if d.funds_reinstated and not (result.previous_dispute and
                                           result.previous_dispute.funds_reinstated):
                types.append("charge.dispute.funds_reinstated")
            types.append("charge.dispute.closed")
        now = p.history[-1].at if p.history else p.created
        return self._events(namespace, now,
                            [(t, lambda: disputes.dispute(p, d)) for t in types])


def _refund(p: Payment, refund_id: str) -> dict[str, Any]:
    found = p.refund(refund_id)
    assert found is not None  # (the refund the event announces is the payment's)
    return wire.refund(p, found)


#: The object each kind of payment event carries (as `events_for` renders it), from the
#: payment and the recipe's argument (a refund's id): how the events are rendered again.
_OBJECTS: dict[str, Callable[[Payment, str], dict[str, Any]]] = {
    "pi": lambda p, _: wire.payment_intent(p),
    "ch": lambda p, _: wire.charge(p),
    "efw": lambda p, _: disputes.early_fraud_warning(p),
    "pm": lambda p, _: saved.attached_event(p) or {},
    "re": _refund,
}


def _recipe(kind: str) -> Callable[[str, str, float, Payment, str], bytes]:
    make = _OBJECTS[kind]
    return lambda eid, type_, created, p, arg: wire.dumps(
        wire.event(eid, type_, created, make(p, arg), None, None))


for _kind in _OBJECTS:
    recipe(wire.RECIPES[_kind], _recipe(_kind))


_ATTEMPT_EVENTS: dict[Status, list[tuple[str, str]]] = {
    Status.REQUIRES_ACTION: [("payment_intent.requires_action", "pi")],
    Status.AUTHORIZED: [("charge.succeeded", "ch"),
                        ("payment_intent.amount_capturable_updated", "pi")],
    Status.CAPTURED: [("charge.succeeded", "ch"), ("payment_intent.succeeded", "pi")],
    Status.FAILED: [("charge.failed", "ch"), ("payment_intent.payment_failed", "pi")],
    Status.PENDING: [("payment_intent.processing", "pi")],
}

_SETUP_EVENTS: dict[Status, list[str]] = {
    Status.REQUIRES_ACTION: ["setup_intent.requires_action"],
    Status.CAPTURED: ["setup_intent.succeeded"],
    Status.FAILED: ["setup_intent.setup_failed"],
    Status.VOIDED: ["setup_intent.canceled"],
}

#: Every event type `events_for` and the handlers can emit (each has a payload contract).
EVENT_TYPES = frozenset({
    "customer.created", "customer.updated", "customer.deleted",
    "payment_method.attached", "payment_method.detached",
    *(t for types in _SETUP_EVENTS.values() for t in types), "setup_intent.created",
    "payment_intent.created", "charge.captured", "payment_intent.succeeded",
    "payment_intent.canceled", "refund.created", "charge.refunded",
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
    "radar.early_fraud_warning.created", "payout.created", "payout.paid", "payout.failed",
    "reporting.report_run.succeeded",
    *(t for pairs in _ATTEMPT_EVENTS.values() for t, _ in pairs)})



provider = StripeProvider()
