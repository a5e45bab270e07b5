"""Mollie's customers' mandates: what a first payment leaves behind, and what recurring
payments and subscriptions are charged on.

A mandate is made when a first payment (`sequenceType: first`) of a customer is paid,
however it got there (the test checkout, the admin API, a scenario), so it is derived
from the payment rather than written with it: its id is a function of the payment's, and
it is kept as a record the first time anything reads the customer's mandates (a list, a
recurring payment, a subscription), so a revocation sticks. Mandates created through the
API (SEPA Direct Debit, PayPal) are records from the start.
"""

from __future__ import annotations

import calendar
import dataclasses
from datetime import date
from typing import Any

from paysandbox.core.credentials import Credential, Initiator, MitType
from paysandbox.core.payments import CardDetails, Payment
from paysandbox.errors import ResourceMissing
from paysandbox.providers.mollie import magic, wire
from paysandbox.providers.mollie.objects import (
    CUSTOMERS,
    MANDATES,
    CustomerRecord,
    MandateRecord,
)
from paysandbox.providers.mollie.wire import MollieError
from paysandbox.providers.seam import Context

#: How many of the namespace's newest payments are searched for a customer's paid first
#: payments (the store's retention keeps no more than that by default).
SEARCHED_PAYMENTS = 10_000

_LABELS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express",
           "maestro": "Maestro", "discover": "Discover", "jcb": "JCB", "diners": "Diners Club"}


def no_mandate(customer_id: str) -> MollieError:
    return MollieError(f"No suitable mandates found for customer {customer_id}. A "
                       "customer gets a mandate when a first payment (sequenceType "
                       "first) is paid, or through the Mandates API.")


async def customer(ctx: Context, customer_id: str, *, field: str | None = None
                   ) -> CustomerRecord:
    """The customer `customer_id`: 404 when the path names an unknown one, 422 naming
    `field` when a body does."""
    found = await ctx.objects(CUSTOMERS).get(customer_id)
    if found is None:
        if field is not None:
            raise MollieError(f"The customer id is invalid: no customer exists with id "
                              f"{customer_id!r}.", field=field)
        raise ResourceMissing(f"No customer exists with token {customer_id}.")
    return found


def card_of(record: MandateRecord) -> CardDetails | None:
    card = record.get("_card")
    return None if card is None else CardDetails(**card)


def _from_payment(p: Payment) -> MandateRecord:
    method = magic.FIRST_PAYMENT_MANDATES.get(p.extra.get("method") or "", "directdebit")
    card = p.card or (magic.test_card(p.created) if method == "creditcard" else None)
    details: dict[str, Any]
    if method == "creditcard" and card is not None:
        last_day = calendar.monthrange(card.exp_year, card.exp_month)[1]
        expiry = date(card.exp_year, card.exp_month, last_day)
        details = {"cardHolder": "T. TEST", "cardNumber": card.last4,
                   "cardLabel": _LABELS.get(card.brand, "Visa"),
                   "cardFingerprint": card.fingerprint or wire.card_fingerprint(p.id),
                   "cardExpiryDate": expiry.isoformat()}
    elif method == "paypal":
        details = {"consumerName": "T. TEST", "consumerAccount": "shopper@example.org"}
    else:
        details = {"consumerName": "T. TEST", "consumerAccount": "NL53INGB0654422370",
                   "consumerBic": "INGBNL2A"}
    paid = next((h.at for h in p.history if h.status in wire.PAID), p.created)
    credential = p.credential
    return MandateRecord(
        id=wire.mandate_id(p.id), customerId=p.extra["customerId"],
        createdAt=wire.timestamp(paid), status="valid", method=method, details=details,
        mandateReference=None, signatureDate=wire.timestamp(paid)[:10],
        _card=None if card is None else dataclasses.asdict(card),
        _nti=None if credential is None else credential.network_transaction_id)


async def of_customer(ctx: Context, customer_id: str) -> list[MandateRecord]:
    """The customer's mandates, newest first: those kept, and those its paid first
    payments made (kept from now on)."""
    repository = ctx.objects(MANDATES)
    kept = [m for m in await repository.all() if m["customerId"] == customer_id]
    known = {m["id"] for m in kept}
    for p in reversed(await ctx.payments(limit=SEARCHED_PAYMENTS)):  # oldest first
        x = p.extra
        if x.get("customerId") != customer_id or x.get("sequenceType") != "first" or \
                p.status not in wire.PAID or wire.mandate_id(p.id) in known:
            continue
        made = _from_payment(p)
        await repository.put(made["id"], made)
        kept.append(made)
        known.add(made["id"])
    return sorted(kept, key=lambda m: m["createdAt"], reverse=True)


async def usable(ctx: Context, customer_id: str, mandate_id: str | None,
                 method: str | None = None) -> MandateRecord:
    """The valid mandate a payment of the customer is charged on: the one named, else
    the newest valid one (of `method`, when one is asked for); Mollie's 422 if none."""
    for m in await of_customer(ctx, customer_id):
        if m["status"] != "valid" or (mandate_id is not None and m["id"] != mandate_id):
            continue
        if method is None or m["method"] == method:
            return m
    raise no_mandate(customer_id)


def render(m: MandateRecord, base: str) -> dict[str, Any]:
    """A mandate object (https://docs.mollie.com/reference/get-mandate)."""
    cid = m["customerId"]
    return {
        "resource": "mandate", "id": m["id"], "mode": "test", "status": m["status"],
        "method": m["method"], "details": m["details"],
        "mandateReference": m["mandateReference"], "signatureDate": m["signatureDate"],
        "createdAt": m["createdAt"],
        "_links": {
            "self": wire.link(f"{base}/customers/{cid}/mandates/{m['id']}"),
            "customer": wire.link(f"{base}/customers/{cid}"),
            "documentation": wire.link(f"{wire.DOCS}/reference/get-mandate", "text/html"),
        },
    }


def charge(mandate: MandateRecord, *, pid: str, namespace: str, now: float, amount: int,
           currency: str, description: str, mit_type: MitType,
           extra: dict[str, Any], metadata: dict[str, str]) -> Payment:
    """A payment the merchant makes on `mandate` without the customer: its card (whose
    expiry the core checks), and a credential quoting the first payment's network
    transaction id."""
    credential = Credential(Initiator.MERCHANT, mit_type,
                            original_network_transaction_id=mandate["_nti"],
                            stored_method=mandate["id"])
    method = mandate["method"]
    return Payment(id=pid, namespace=namespace, provider="mollie", amount=amount,
                   currency=currency, created=now, method=method, card=card_of(mandate),
                   credential=credential, metadata=metadata, description=description,
                   extra={"method": method, "methods": [], "sequenceType": "recurring",
                          "customerId": mandate["customerId"], "mandateId": mandate["id"],
                          "redirectUrl": None, "webhookUrl": None,
                          "expiresAt": magic.expires_at(method, now), **extra})
