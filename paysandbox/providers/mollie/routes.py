"""Mollie's v2 Payments, Refunds, Customers, Mandates and Subscriptions APIs -> canonical
commands and the provider's own records, and back to Mollie's objects.

Every payment starts `open` with `_links.checkout` pointing at the hosted test checkout
(`/__hosted/mollie/checkout/{token}`) where the tester picks the final status, as in
Mollie's test mode; the shopper is then sent to `redirectUrl` (`cancelUrl` when
canceled). Open payments expire on the virtual clock after their method's documented
lifetime. Each status change Mollie reports (paid, failed, canceled, expired) and each
refund sends `id=tr_…` as a form POST to the payment's `webhookUrl`.

Scenarios meet a payment when it is created (operation `authorize`; `method` is the
Mollie method): `decline` creates it `failed` (a card payment shows the reason in
`details.failureReason`), `approve` creates it `paid`, `pending` creates it `pending`
until `after:` (then `paid`, or what `then:` says), and `requires_action` with
`then: {decline: …}` leaves it `open` and fails it when the shopper pays at the checkout.

LIMITATIONS (what of the real API this does not imitate):
- Endpoints: payments (create, get, list, update, cancel), payment refunds (create,
  get, list), chargebacks (get and list of a payment's, the top-level list; `embed=
  payment`), customers (create, get, update, delete, list; a customer's payments),
  mandates (create, get, list, revoke) and subscriptions (create, get, update, cancel,
  list, the top-level list, a subscription's payments), balances (list, get, primary,
  transactions) and settlements (list, get by id or bank reference, next, open, a
  settlement's payments, refunds and chargebacks) and the balance report
  (status-balances, transaction-categories). No Orders, Captures, Methods,
  Payment links, Profiles, settlement captures, invoices or the
  top-level `GET /v2/refunds`.
- Balances and settlements: Mollie serves them to organization access tokens and
  OAuth only; here the profile's test API key reads them, so they are the books of
  that key's payments (the same namespace). One balance per key (the pricing's
  settlement currency), paid out daily whatever its amount (no threshold); each payout
  is one settlement, `pending` from the day it is made and `paidout` once it arrives.
  Costs show no `rate` and no VAT (`amountVat` null); refunds carry no fee. The
  balance report's fee-prepayments are the fees only (no VAT, no rounding
  compensation parts), and it has no capital or corrections categories. A payment's
  and a chargeback's `_links.settlement` and `settlementId` are not given. No payout
  or settlement webhooks (Mollie sends none; the books are read when asked).
- Chargebacks: Mollie documents no API test trigger (its dashboard books them), so a
  chargeback is opened by a scenario rule or the admin API. Mollie has no API to answer
  one: it is lost (it stays booked) unless its trigger says `ends: won`, when Mollie
  defends it and it is reversed (`reversedAt`, funds back) after the decision delay
  (default 1 h of virtual time). The booking and the reversal each call the payment's
  webhook; the payment stays `paid` and shows `amountChargedBack` and
  `_links.chargebacks`; a refund of what a chargeback holds is refused (422, beyond
  `amountRemaining`). `reason` is null (Mollie gives it for SEPA Direct Debit only,
  which is not imitated); an inquiry (`kind: inquiry`) is listed as a chargeback that
  withdraws nothing; `settlementAmount` is the amount in the payment's currency, with
  no settlement link.
- Credentials: test API keys (`test_…`) only. Organization access tokens, OAuth and
  the `testmode` parameter are refused; live keys are refused.
- Methods: ideal, bancontact, creditcard, banktransfer, paypal, paysafecard, belfius,
  eps, kbc, przelewy24 (or a list of them, or none: the checkout then asks for one).
  Method-specific extras (`cardToken`, addresses, `billingEmail`) are accepted; only
  `issuer` (iDEAL, KBC) and `dueDate` (bank transfer) are checked and change anything.
- Recurring payments: a first payment (`sequenceType: first`, with `customerId`) by
  card, iDEAL, Bancontact, Belfius, EPS, KBC or PayPal leaves a valid mandate once
  paid (card; SEPA Direct Debit for the bank methods; PayPal), shown as its
  `mandateId`. The card is a Visa ending 6787 that expires two years after the first
  payment. A recurring payment (`sequenceType: recurring`) is charged on the named or
  newest valid mandate at once: paid (direct debit too, without its days of
  `pending`), or failed when a scenario declines it (operation `authorize`,
  `initiator: merchant`) or the card has expired since (`card_expired`); no valid
  mandate is a 422. Mandates created through the API (directdebit, paypal) are valid
  at once and not checked further (no IBAN check digits). A customer's payments and
  mandates are searched among the namespace's 10,000 newest payments.
- Subscriptions charge on the virtual clock at 00:00 UTC of each period's date
  (months are calendar months, kept to the start date's day or the month's last);
  each period is a recurring payment with `subscriptionId` whose status changes call
  the subscription's webhookUrl. A subscription needs a valid mandate when created
  (422 otherwise; Mollie would create it `pending`); revoking its mandate or deleting
  its customer cancels it (Mollie suspends one whose mandate becomes invalid). A
  period already being charged when a cancellation arrives is still charged (none
  after it); an update (amount, description, metadata, times) that arrives while a
  period is being charged can be lost to that period's write.
  `applicationFee`, `profileId` and `testmode` are not taken.
- Manual capture, Apple Pay, routing and application fees are not imitated.
  Per-method minimum and maximum amounts are not enforced beyond "more than zero".
- `include=details.qrCode` is accepted and adds nothing. `embed=refunds` works on
  `GET /v2/payments/{id}`.
- Refunds are created `pending` and stay so (Mollie settling them later is not
  imitated); canceling a refund is refused with a 422 that says so. Over-refunds are
  refused.
- Idempotency keys are honoured on POST only, as Mollie documents; kept until reset,
  not 24 hours.
- A payment without `webhookUrl` notifies the endpoint configured for `mollie` with
  `--webhook mollie=URL` (if any), as a stand-in for a profile-level webhook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from paysandbox.core.commands import (
    Command,
    OpenDispute,
    RefundPayment,
    Renew,
    ReopenDispute,
    ResolveDispute,
    Result,
)
from paysandbox.core.disputes import Dispute, DisputeStatus
from paysandbox.core.payments import Payment
from paysandbox.hosted.pages import PageRoute
from paysandbox.objects import Objects
from paysandbox.providers.hooks import Renewal
from paysandbox.providers.mollie import (
    balances,
    chargebacks,
    customers,
    pages,
    payments,
    refunds,
    reports,
    settlements,
    subscriptions,
    wire,
)
from paysandbox.providers.mollie.dialect import MollieDialect
from paysandbox.providers.seam import Route, op
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

#: Mollie statuses that call the webhook (https://docs.mollie.com/overview/webhooks).
_NOTIFIED = frozenset({"paid", "failed", "canceled", "expired", "authorized"})


class MollieProvider:
    name = "mollie"
    title = "Mollie"
    hostnames: Mapping[str, str] = {"api.mollie.com": ""}
    webhooks: WebhookScheme = wire.MollieWebhooks()
    dialect = MollieDialect()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def public_status(self, p: Payment) -> str:
        return wire.status(p)

    def new_dispute_id(self) -> str:
        return wire.new_id("chb")

    def defends_dispute(self, d: Dispute) -> bool:
        """Mollie's API takes no answer to a chargeback: one its trigger wants won is
        defended by Mollie (and reversed once decided); any other is left to lapse."""
        return d.ends is DisputeStatus.WON

    def routes(self) -> Iterable[Route]:
        return [
            op("POST", "/v2/payments", payments.create_payment),
            op("GET", "/v2/payments", payments.list_payments, read="list"),
            op("GET", "/v2/payments/{id}", payments.get_payment, read="retrieve"),
            op("PATCH", "/v2/payments/{id}", payments.update_payment),
            op("DELETE", "/v2/payments/{id}", payments.cancel_payment),
            op("POST", "/v2/payments/{id}/refunds", refunds.create_refund),
            op("GET", "/v2/payments/{id}/refunds", refunds.list_refunds, read="list"),
            op("GET", "/v2/payments/{id}/refunds/{refund}", refunds.get_refund,
               read="retrieve"),
            op("DELETE", "/v2/payments/{id}/refunds/{refund}", refunds.cancel_refund),
            op("GET", "/v2/payments/{id}/chargebacks", chargebacks.list_payment_chargebacks,
               read="list"),
            op("GET", "/v2/payments/{id}/chargebacks/{chargeback}",
               chargebacks.get_chargeback, read="retrieve"),
            op("GET", "/v2/chargebacks", chargebacks.list_chargebacks, read="list"),
            *_recurring_routes(),
            *_money_routes(),
        ]

    async def renewal(self, due: Renew, objects: Objects, now: float) -> Renewal:
        """A subscription's period is due (mollie/subscriptions.py)."""
        return await subscriptions.renewal(due, objects, now)

    def hosted_routes(self) -> Iterable[PageRoute]:
        return pages.routes()

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        if result.dispute is not None:
            found = _chargeback_event(command, result)
            if found is None:
                return ()
            type_ = found
        elif isinstance(command, RefundPayment):
            type_ = "refund.created"
        else:
            now = wire.status(p)
            if now not in _NOTIFIED or (before is not None and wire.status(before) == now):
                return ()
            type_ = f"payment.{now}"
        at = p.history[-1].at if p.history else p.created
        pid = p.id
        return [Event(id=wire.new_id("evt", 14), provider=self.name, namespace=namespace,
                      type=type_, created=at, render=lambda: wire.webhook_body(pid),
                      url=p.extra.get("webhookUrl") or None)]


def _recurring_routes() -> list[Route]:
    """Customers, their payments, mandates and subscriptions."""
    c, s = customers, subscriptions
    customer = "/v2/customers/{id}"
    return [
        op("POST", "/v2/customers", c.create_customer),
        op("GET", "/v2/customers", c.list_customers, read="list"),
        op("GET", customer, c.get_customer, read="retrieve"),
        op("PATCH", customer, c.update_customer),
        op("DELETE", customer, c.delete_customer),
        op("POST", customer + "/payments", c.create_customer_payment),
        op("GET", customer + "/payments", c.list_customer_payments, read="list"),
        op("POST", customer + "/mandates", c.create_mandate),
        op("GET", customer + "/mandates", c.list_mandates, read="list"),
        op("GET", customer + "/mandates/{mandate}", c.get_mandate, read="retrieve"),
        op("DELETE", customer + "/mandates/{mandate}", c.revoke_mandate),
        op("POST", customer + "/subscriptions", s.create_subscription),
        op("GET", customer + "/subscriptions", s.list_subscriptions, read="list"),
        op("GET", customer + "/subscriptions/{subscription}", s.get_subscription,
           read="retrieve"),
        op("PATCH", customer + "/subscriptions/{subscription}", s.update_subscription),
        op("DELETE", customer + "/subscriptions/{subscription}", s.cancel_subscription),
        op("GET", customer + "/subscriptions/{subscription}/payments",
           s.list_subscription_payments, read="list"),
        op("GET", "/v2/subscriptions", s.list_all_subscriptions, read="list"),
    ]


def _money_routes() -> list[Route]:
    """The account's balance and its settlements, read from the ledger."""
    b, s = balances, settlements
    one = "/v2/settlements/{id}"
    return [
        op("GET", "/v2/balances", b.list_balances, read="list"),
        op("GET", "/v2/balances/primary", b.get_primary_balance, read="retrieve"),
        op("GET", "/v2/balances/{id}", b.get_balance, read="retrieve"),
        op("GET", "/v2/balances/{id}/transactions", b.list_balance_transactions,
           read="list"),
        op("GET", "/v2/balances/{id}/report", reports.get_balance_report, read="retrieve"),
        op("GET", "/v2/settlements", s.list_settlements, read="list"),
        op("GET", "/v2/settlements/next", s.get_next_settlement, read="retrieve"),
        op("GET", "/v2/settlements/open", s.get_open_settlement, read="retrieve"),
        op("GET", one, s.get_settlement, read="retrieve"),
        op("GET", one + "/payments", s.list_settlement_payments, read="list"),
        op("GET", one + "/refunds", s.list_settlement_refunds, read="list"),
        op("GET", one + "/chargebacks", s.list_settlement_chargebacks, read="list"),
    ]


def _chargeback_event(command: Command, result: Result) -> str | None:
    """A chargeback booked (or booked again) and a chargeback reversed call the
    payment's webhook; nothing else of a chargeback is seen at Mollie."""
    d, was = result.dispute, result.previous_dispute
    assert d is not None
    if isinstance(command, OpenDispute | ReopenDispute):
        return "payment.chargeback"
    if isinstance(command, ResolveDispute) and d.status is DisputeStatus.WON and (
            was is None or was.status is not DisputeStatus.WON):
        return "payment.chargeback_reversed"
    return None


#: Every event type `events_for` can emit (each has a payload contract): a status
#: change Mollie notifies, a refund, a chargeback booked or reversed.
EVENT_TYPES = frozenset({"refund.created", "payment.chargeback", "payment.chargeback_reversed",
                         *(f"payment.{s}" for s in _NOTIFIED)})


provider = MollieProvider()
