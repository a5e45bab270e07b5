"""Adyen's Checkout API: the provider and its routes.

Mounted at `/adyen`; the Checkout API lives under `/adyen/checkout/v{version}`, any
version from v68 on (the SDK's default, v71, v72…). Authentication is the `X-API-Key`
header (Basic auth with a web-service user works too); the key is the namespace, and
each payment also belongs to the `merchantAccount` it was made for, which the ledger
settles on its own (its own batches and, if the pricing file says, its own currency).

Capture: Adyen's default is immediate auto-capture (the merchant account's setting),
so a payment is captured when authorised unless it asks for manual capture with
`additionalData.manualCapture: "true"` or delays it with `captureDelayHours` > 0 (both
leave it authorised until `/payments/{pspReference}/captures`).

Modifications are asynchronous, as in Adyen (modifications.py): the call answers
`status: received`, and its outcome arrives as a standard notification.

LIMITATIONS (what of the real API this does not imitate):
- Card payments only (`paymentMethod.type: scheme`); `/paymentMethods` lists cards
  (not the shopper's stored ones). No sessions flow (`/sessions`), orders, payment
  links, donations, Apple/Google Pay, or local payment methods.
- Stored cards (tokens.py, recurring.py): a token is created by an authorised payment
  with `storePaymentMethod: true` and a `shopperReference` (the same card again for the
  same shopper: `alreadyExisting`), listed and deleted through `/storedPaymentMethods`
  and the Recurring API v68 (`/listRecurringDetails`, `/disable`, at
  /pal/servlet/Recurring/v68). No `POST /storedPaymentMethods` (tokens without a
  payment), zero-value verification, `/forward`, permits, the account updater, network
  tokens or `/paymentMethods`' `storedPaymentMethods`. Every token serves every
  `recurringProcessingModel` and both contract types (ONECLICK, RECURRING);
  `recurringExpiry`/`recurringFrequency` are not enforced. A token is kept with the
  merchant account's other objects (the newest as many as payments are retained, per
  API key); a token whose first payment was never authorised is never usable.
- Merchant-initiated payments: `shopperInteraction: ContAuth` with a token, or with raw
  card data and `additionalData.networkTxReference` (any network transaction id this
  simulator issued for that card, by any provider; another is Refused 23). A 3D Secure
  test card is Refused 38 ("Authentication required"), a card expired since it was
  stored Refused 6. Every authorised card payment shows a `networkTxReference`.
- 3D Secure 2: redirect (default since v69, `RedirectShopper`) and native
  (`authenticationData.threeDSRequestData.nativeThreeDS: preferred`) flows. Native:
  the device fingerprint (`IdentifyShopper`, then `Authorised` when frictionless or
  `ChallengeShopper`) for the test cards magic.py lists; others are challenged at once.
  The fingerprint has no 3DS Method page (no `threeDSMethodUrl` in its token; any
  `threeDSCompInd` is accepted); in the redirect flow the frictionless card authorises
  at once instead of passing through a redirect. No 3D Secure 1, data-only or
  authentication-only (`threeDSAuthenticationOnly`) flows.
- `captureDelayHours` > 0 leaves the payment authorised: the scheduled capture never
  happens by itself. Authorisations never expire.
- `/payments/{pspReference}/amountUpdates` adjusts an authorised payment's amount (up
  or down) whatever `industryUsage` says; Adyen's per-scheme rules on which
  adjustments an issuer accepts are not imitated.
- Encrypted card fields only in Adyen's test form (`test_4111111111111111`); real
  client-side encryption cannot be decrypted here.
- Risk (fraudResult), AVS, DCC, splits, line items and Level 2/3 data are accepted and
  ignored. Standard notifications (payments, modifications, disputes, and
  REPORT_AVAILABLE for settlement details reports) are sent; the webhook is configured
  through the admin API, as Adyen's is in the Customer Area.
- Disputes (disputes.py): the Disputes API v30 at /ca/services/DisputeService/v30
  (retrieveApplicableDefenseReasons, supplyDefenseDocument,
  deleteDisputeDefenseDocument, defendDispute, acceptDispute) on disputes opened by the
  test holder names (magic.py), a scenario rule or the admin API. The defense reasons
  offered are a subset of Adyen's (defense material for every dispute, plus a few per
  dispute category); documents are checked (PDF, JPEG or TIFF, base64, up to 10 MB) and
  only their type, content type and size are kept. A defended dispute is decided after
  its decision delay (default 1 h of virtual time): as its trigger says, else won; there
  are no evidence test values. Notifications follow one dispute's cycle as
  `disputes.events_for` lists (a fraud chargeback preceded by NOTIFICATION_OF_FRAUD, a
  reversal, a second chargeback or pre-arbitration); arbitration, ISSUER_COMMENTS,
  chargebacks on non-card methods and the disputes of a Brazilian acquirer are not
  imitated. Reason codes are Visa's and Mastercard's (Visa's for other schemes).
  A refund of more than what is neither refunded nor charged back is refused in its
  REFUND notification ("Insufficient balance on payment").
- Reports (reports.py): the Settlement details report of each merchant account's
  settlement batch (the ledger's payouts, numbered per merchant account), downloaded at
  /reports/download/MerchantAccount/{account}/settlement_detail_report_batch_{n}.csv
  as ca-test.adyen.com serves it, by a report user whose password is the API key, and
  announced by a REPORT_AVAILABLE notification when the batch closes. No other
  reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlencode

from paysandbox.core.commands import Authorize, Command, Complete, DisputeStep, Result, Settle
from paysandbox.core.payments import Payment, Status
from paysandbox.ledger import AccountBooks
from paysandbox.objects import Objects
from paysandbox.providers.adyen import (
    disputes,
    modifications,
    payments,
    recurring,
    reports,
    wire,
)
from paysandbox.providers.adyen.dialect import AdyenDialect
from paysandbox.providers.adyen.notifications import (
    EVENT_CODES,
    MODIFICATION_EVENTS,
    NAME,
    AdyenAdjust,
    AdyenCancel,
    AdyenCapture,
    AdyenRefund,
    authorisation_item,
    event,
    last_change,
    modification_item,
    recurring_contract_item,
)
from paysandbox.providers.seam import Route, op
from paysandbox.webhooks.dispatcher import Endpoint, Event, WebhookScheme

_V = "/checkout/v{version:[0-9]+}"
#: The Disputes API, where its real host puts it relative to the Checkout API's:
#: ca-test.adyen.com/ca/services/DisputeService/v30 -> /adyen/ca/services/DisputeService/v30.
DISPUTES = "/ca/services/DisputeService/v30"
#: The Recurring API, likewise: pal-test.adyen.com/pal/servlet/Recurring/v68.
RECURRING = "/pal/servlet/Recurring/v68"


class AdyenProvider:
    name = NAME
    title = "Adyen"
    # Test mode, then the live-prefix hosts the SDKs build ({prefix}-checkout-live…).
    hostnames: Mapping[str, str] = {"checkout-test.adyen.com": "/checkout",
                                    "*.adyenpayments.com": "",
                                    "ca-test.adyen.com": "",
                                    "pal-test.adyen.com": ""}
    webhooks: WebhookScheme = wire.AdyenWebhooks()
    dialect = AdyenDialect()

    @property
    def event_types(self) -> frozenset[str]:
        return EVENT_CODES | disputes.EVENT_CODES | {reports.REPORT_AVAILABLE}

    def sub_account(self, p: Payment) -> str:
        """Adyen settles each merchant account on its own: the ledger's part of the API
        key's account a payment settles to."""
        return str(p.extra.get("merchantAccount", ""))

    async def settlement_events(self, books: AccountBooks, objects: Objects,
                                namespace: str, due: Settle, now: float
                                ) -> Sequence[Event]:
        """A batch closes with its payout: REPORT_AVAILABLE for each merchant account's
        settlement details report of the day (nothing when the payout arrives)."""
        if due.arrived:
            return ()
        return reports.report_available(books, namespace, due.day)

    def new_dispute_id(self) -> str:
        """A dispute's own pspReference (which also says Adyen renders disputes)."""
        return wire.psp_reference()

    def base_url_hint(self) -> str:
        return "/checkout/v71"  # any version from v68 works

    def public_status(self, p: Payment) -> str:
        return wire.result_code(p)

    def return_url(self, p: Payment) -> str | None:
        """Back to the merchant's returnUrl with Adyen's `redirectResult`, which the
        merchant submits to /payments/details."""
        url = p.extra.get("returnUrl")
        if not url:
            return None
        query = urlencode({"redirectResult": p.extra.get("redirect_token", "")})
        return f"{url}{'&' if '?' in url else '?'}{query}"

    def routes(self) -> Iterable[Route]:
        return [
            op("POST", f"{_V}/payments", payments.create_payment),
            op("POST", f"{_V}/payments/details", payments.submit_payment_details),
            # a read: no idempotency, and scenarios see a `list`
            op("POST", f"{_V}/paymentMethods", payments.list_payment_methods, read="list",
               idempotent=False),
            op("POST", f"{_V}/payments/{{psp}}/captures", modifications.capture_payment),
            op("POST", f"{_V}/payments/{{psp}}/refunds", modifications.refund_payment),
            op("POST", f"{_V}/payments/{{psp}}/cancels", modifications.cancel_payment),
            op("POST", f"{_V}/payments/{{psp}}/reversals", modifications.reverse_payment),
            op("POST", f"{_V}/payments/{{psp}}/amountUpdates",
               modifications.update_payment_amount),
            op("POST", f"{_V}/cancels", modifications.cancel_payment_by_reference),
            op("GET", f"{_V}/storedPaymentMethods", recurring.list_stored_payment_methods,
               read="list"),
            op("DELETE", f"{_V}/storedPaymentMethods/{{storedPaymentMethodId}}",
               recurring.delete_stored_payment_method, read="update"),
            # Recurring API v68: a read and a change, both POSTs with a JSON body
            op("POST", f"{RECURRING}/listRecurringDetails", recurring.list_recurring_details,
               read="list", idempotent=False),
            op("POST", f"{RECURRING}/disable", recurring.disable, read="update",
               idempotent=False),
            # Disputes API: reads and steps alike are POSTs with a JSON body
            op("POST", f"{DISPUTES}/retrieveApplicableDefenseReasons",
               disputes.retrieve_applicable_defense_reasons, read="retrieve",
               idempotent=False),
            op("POST", f"{DISPUTES}/supplyDefenseDocument", disputes.supply_defense_document),
            op("POST", f"{DISPUTES}/deleteDisputeDefenseDocument",
               disputes.delete_dispute_defense_document),
            op("POST", f"{DISPUTES}/defendDispute", disputes.defend_dispute),
            op("POST", f"{DISPUTES}/acceptDispute", disputes.accept_dispute),
            # Reports, where ca-test.adyen.com serves them, for a report user
            op("GET", f"{reports.REPORTS}/MerchantAccount/{{account}}/{{file}}",
               reports.download_settlement_detail_report, read="retrieve"),
        ]

    async def webhook_endpoints(self, objects: Objects, namespace: str) -> Sequence[Endpoint]:
        return ()  # Adyen's webhooks are configured in the Customer Area: see the admin API

    def events_for(self, namespace: str, command: Command, result: Result) -> Sequence[Event]:
        p, before = result.payment, result.previous
        if isinstance(command, DisputeStep):
            return disputes.events_for(namespace, command, result)
        if isinstance(command, AdyenCapture):
            item = modification_item(p, command.psp, command.reference,
                                     MODIFICATION_EVENTS["captures"], p.amount_captured, True)
        elif isinstance(command, AdyenCancel):
            item = modification_item(p, command.psp, command.reference, command.event_code,
                                     p.amount, True)
        elif isinstance(command, AdyenAdjust):
            item = modification_item(p, command.psp, command.reference,
                                     MODIFICATION_EVENTS["amount_updates"],
                                     p.amount_authorized, True)
        elif isinstance(command, AdyenRefund):
            refund = result.refund
            item = modification_item(p, command.refund_id, command.reference,
                                     command.event_code, refund.amount if refund else 0, True)
        elif isinstance(command, Authorize | Complete) and \
                (before is None or before.status is not p.status) and \
                p.status in (Status.AUTHORIZED, Status.CAPTURED, Status.FAILED):
            events = [event(namespace, authorisation_item(p), last_change(p))]
            stored = recurring_contract_item(p) if p.status is not Status.FAILED else None
            if stored is not None:
                events.append(event(namespace, stored, last_change(p)))
            return events
        else:
            return ()
        return [event(namespace, item, last_change(p))]


provider = AdyenProvider()
