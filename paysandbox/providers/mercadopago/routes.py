"""Mercado Pago's Checkout API (/v1/payments, refunds, card tokens) -> canonical commands.

Cards pay at once (the cardholder name on the card token picks the outcome, as in
Mercado Pago's sandbox); PIX, boleto and OXXO are created `pending` with their QR code
or voucher and are paid on a hosted page (`ticket_url` / `external_resource_url`),
through `POST /__admin/payments/{id}/complete`, or expire on the virtual clock.

LIMITATIONS (what of the real API this does not imitate):
- Resources: payments, refunds, card tokens, customers and their saved cards,
  chargebacks and the Released money report (reports.py, read from the ledger)
  only. No Orders API, preferences (Checkout Pro), merchant orders,
  disbursements, subscriptions (preapproval) or Point.
- Customers (`/v1/customers`, search by `email` or all, `limit`/`offset`; one customer
  per email, a second refused with cause 101) and their cards (saved from a card
  token, at most 10 per customer; the same card saved twice is one card; `PUT` of a
  card is not imitated). A saved card pays through a token made from its `card_id`
  (stored.py): with `point_of_interaction.type: SUBSCRIPTIONS` and
  `transaction_data.first_time_use: false` the payment is a merchant-initiated
  recurring one, and a saved card's token without a security code, paid by the
  customer (`payer.type: customer`), an unscheduled one; it quotes
  `forward_data.network_transaction_data.network_transaction_id`, else the payment
  `transaction_data.payment_reference.id` names, else the card's first payment's id,
  and is rejected `cc_rejected_card_type_not_allowed` when the schemes did not issue it
  for the card. `X-Expand-Responde-Nodes: gateway.reference` adds the payment's
  network transaction id (`expanded.gateway.reference.network_transaction_id`). A
  merchant-initiated payment whose card expired since it was saved is rejected
  `cc_rejected_bad_filled_date`. Customer not found is cause 2002; a card not found
  (or deleted) is this simulator's 404 with cause 2000. `subscription_sequence`,
  `subscription_id`, `invoice_period` and `billing_date` are accepted and change
  nothing.
- Chargebacks: opened by a scenario rule or the admin API (Mercado Pago documents no
  test trigger); `GET /v1/chargebacks/{id}` (or the payment's id), `GET
  /v1/chargebacks/search` (`payment_id`, `limit`, `offset`) and `POST
  /v1/chargebacks/{id}/documentation` (multipart `files[]`: .jpg, .png, .pdf, 10 MB in
  all; the files' content is not kept). Documentation goes `review_pending` and is
  decided after the decision delay (default 1 h of virtual time) as the trigger asked,
  else `valid` (`coverage_applied: true`); none by `date_documentation_deadline`:
  `not_supplied`, lost. Notifications (topic `chargebacks`, `data.id` the chargeback's
  id) when it opens and when it is decided; the payment turns `charged_back`
  (`in_process`, `reimbursed`, `settled`) and is notified too. `reason` is the
  canonical reason's name; `coverage_elegible` and `documentation_required` are always
  true. A refund of what a chargeback holds is refused.
- The currency comes from the payment method (PIX and boleto BRL, OXXO MXN); cards
  take `currency_id` (a legacy field) or else BRL: the simulator has no account site.
- Card tokens are made with the access token (`POST /v1/card_tokens`, as the SDKs do);
  the browser flow with a `public_key` (MercadoPago.js, Bricks) is not imitated. A
  token's brand is not checked against `payment_method_id`.
- `binary_mode`, `application_fee`, installments pricing, fees (`fee_details`) and
  3DS (`three_d_secure_mode`) are accepted and change nothing.
- Search supports `external_reference`, `status`, `id`, `payment_method_id`,
  `payment_type_id`, `sort`, `criteria`, `limit` and `offset`; date ranges (`range`,
  `begin_date`, `end_date`) are refused with a 400 rather than ignored.
- An authorization not captured is cancelled after 7 virtual days (the period varies
  by country at Mercado Pago).
- Cause codes follow the create-payment reference where it lists one (1, 8, 23,
  2006, 2062, 4020, 4292); others (2000 payment not found, 4037 amount, and state
  errors) are the ones Mercado Pago is seen to answer, not a published table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from paysandbox.core.commands import (
    Command,
    ExpireDispute,
    OpenDispute,
    ReopenDispute,
    ResolveDispute,
    Result,
)
from paysandbox.core.payments import Payment
from paysandbox.hosted.pages import PageRoute
from paysandbox.objects import Objects
from paysandbox.providers.mercadopago import (
    card_tokens,
    chargebacks,
    customers,
    pages,
    payments,
    refunds,
    reports,
    wire,
)
from paysandbox.providers.mercadopago.dialect import MercadoPagoDialect
from paysandbox.providers.seam import Route, op
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme


class MercadoPagoProvider:
    name = "mercadopago"
    title = "Mercado Pago"
    hostnames: Mapping[str, str] = {"api.mercadopago.com": ""}
    # Its API answers a path ending in `/` as the same request, and its Node SDK lists
    # refunds that way (GET /v1/payments/{id}/refunds/).
    trailing_slash = True
    webhooks: WebhookScheme = wire.MercadoPagoWebhooks()
    dialect = MercadoPagoDialect()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_TYPES

    def base_url_hint(self) -> str:
        return ""

    def public_status(self, p: Payment) -> str:
        return wire.status(p)[0]

    def new_dispute_id(self) -> str:
        return chargebacks.new_id()

    def routes(self) -> Iterable[Route]:
        return [
            op("POST", "/v1/payments", payments.create_payment),
            op("GET", "/v1/payments/search", payments.search_payments, read="list"),
            op("GET", "/v1/payments/{id}", payments.get_payment, read="retrieve"),
            op("PUT", "/v1/payments/{id}", payments.update_payment, idempotent=True),
            op("POST", "/v1/payments/{id}/refunds", refunds.create_refund),
            op("GET", "/v1/payments/{id}/refunds", refunds.list_refunds, read="list"),
            op("GET", "/v1/payments/{id}/refunds/{refund_id}", refunds.get_refund,
               read="retrieve"),
            op("POST", "/v1/card_tokens", card_tokens.create_card_token),
            op("GET", "/v1/card_tokens/{id}", card_tokens.get_card_token, read="retrieve"),
            op("POST", "/v1/customers", customers.create_customer, read="create"),
            op("GET", "/v1/customers/search", customers.search_customers, read="list"),
            op("GET", "/v1/customers/{id}", customers.get_customer, read="retrieve"),
            op("PUT", "/v1/customers/{id}", customers.update_customer, read="update"),
            op("DELETE", "/v1/customers/{id}", customers.delete_customer, read="update"),
            op("POST", "/v1/customers/{id}/cards", customers.create_card, read="create"),
            op("GET", "/v1/customers/{id}/cards", customers.list_cards, read="list"),
            op("GET", "/v1/customers/{id}/cards/{card_id}", customers.get_card,
               read="retrieve"),
            op("DELETE", "/v1/customers/{id}/cards/{card_id}", customers.delete_card,
               read="update"),
            op("GET", "/v1/chargebacks/search", chargebacks.search_chargebacks, read="list"),
            op("POST", "/v1/account/release_report", reports.create_release_report,
               read="create", idempotent=False),
            op("GET", "/v1/account/release_report/list", reports.list_release_reports,
               read="list"),
            op("GET", "/v1/account/release_report/{file_name}",
               reports.download_release_report, read="retrieve"),
            op("GET", "/v1/chargebacks/{id}", chargebacks.get_chargeback, read="retrieve"),
            op("POST", "/v1/chargebacks/{id}/documentation",
               chargebacks.upload_documentation, idempotent=False),
        ]

    def hosted_routes(self) -> Iterable[PageRoute]:
        return pages.routes()

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # Mercado Pago's webhooks are configured in its dashboard

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        now = p.history[-1].at if p.history else p.created
        user_id = int(p.extra.get("collector_id", 0))
        notified: list[tuple[str, str, str]] = []  # (action, topic, data.id)
        d = result.dispute
        if d is not None:
            if isinstance(command, OpenDispute):
                notified.append(("chargeback.created", "chargebacks", d.id))
            elif isinstance(command, ExpireDispute | ResolveDispute | ReopenDispute):
                notified.append(("chargeback.updated", "chargebacks", d.id))
            if before is not None and wire.status(before) == wire.status(p):
                return [self._event(namespace, p, now, user_id, *n) for n in notified]
        notified.append((_ACTIONS[before is None], "payment", p.id))
        return [self._event(namespace, p, now, user_id, *n) for n in notified]

    def _event(self, namespace: str, p: Payment, now: float, user_id: int, action: str,
               topic: str, data_id: str) -> Event:
        eid = wire.new_id()
        return Event(id=str(eid), provider=self.name, namespace=namespace, type=action,
                     created=now, url=p.extra.get("notification_url"),
                     render=lambda: wire.dumps(wire.notification(eid, action, data_id, now,
                                                                 user_id, topic)))


#: A notification's `action`, by whether the change created the payment.
_ACTIONS: Mapping[bool, str] = {True: "payment.created", False: "payment.updated"}

#: Every notification action `events_for` can send (each has a payload contract): a
#: payment's, and a chargeback's (topic `chargebacks`).
EVENT_TYPES = frozenset({*_ACTIONS.values(), "chargeback.created", "chargeback.updated"})


provider = MercadoPagoProvider()
