"""Mollie's objects that are not payments: customers, mandates and subscriptions.

Each kind is kept as a record per namespace (the test API key), in the shape the API
shows it plus a few fields of the simulator's own, named with a leading underscore and
never rendered."""

from __future__ import annotations

from typing import Any, TypedDict

from paysandbox.objects import Kind


class CustomerRecord(TypedDict):
    id: str
    createdAt: str
    name: str | None
    email: str | None
    locale: str | None
    metadata: Any


class MandateRecord(TypedDict):
    id: str
    customerId: str
    createdAt: str
    status: str  # valid | pending | invalid (revoked)
    method: str  # creditcard | directdebit | paypal
    details: dict[str, Any]
    mandateReference: str | None
    signatureDate: str | None
    _card: dict[str, Any] | None  # the card's CardDetails fields, for its payments
    _nti: str | None  # the network transaction id of the first payment


class SubscriptionRecord(TypedDict):
    id: str
    customerId: str
    createdAt: str
    status: str  # active | canceled | completed
    amount: dict[str, str]
    times: int | None
    timesRemaining: int | None
    interval: str
    startDate: str
    nextPaymentDate: str | None
    description: str
    method: str | None
    mandateId: str | None
    canceledAt: str | None
    webhookUrl: str | None
    metadata: Any
    _namespace: str  # the test key's namespace (its payments are made in it)
    _sequence: int  # the period the next charge is (1: the first)
    _due: str | None  # the payment id the next scheduled charge will create
    _anchor: str  # a period's date is _anchor + (period - _anchorSequence) intervals
    _anchorSequence: int


class CancellationRecord(TypedDict):
    """A subscription's cancellation, kept apart from the subscription: a period being
    charged writes the subscription it read, and must not undo a cancellation made
    meanwhile."""

    id: str
    canceledAt: str


CUSTOMERS: Kind[CustomerRecord] = Kind("mollie.customer")
MANDATES: Kind[MandateRecord] = Kind("mollie.mandate")
SUBSCRIPTIONS: Kind[SubscriptionRecord] = Kind("mollie.subscription")
CANCELLATIONS: Kind[CancellationRecord] = Kind("mollie.subscription_cancellation")
