"""Adyen's standard notifications: which event code each state change is announced as,
and the modification commands that carry Adyen's own references into them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paysandbox.core.commands import Adjust, Capture, RefundPayment, Void
from paysandbox.core.payments import Payment, Status
from paysandbox.providers.adyen import wire
from paysandbox.webhooks.dispatcher import Event

NAME = "adyen"

#: The notification event code each modification endpoint's outcome arrives as, by the
#: name of its request contract (paysandbox/contracts_data/adyen/<kind>.request.json).
MODIFICATION_EVENTS: Mapping[str, str] = {
    "captures": "CAPTURE",
    "refunds": "REFUND",
    "cancels": "CANCELLATION",
    "reversals": "CANCEL_OR_REFUND",
    "amount_updates": "AUTHORISATION_ADJUSTMENT",
    "standalone_cancels": "TECHNICAL_CANCEL",
}
AUTHORISATION = "AUTHORISATION"
RECURRING_CONTRACT = "RECURRING_CONTRACT"
#: Every event code `events_for` and the modification endpoints can notify (each has a
#: payload contract in paysandbox/contracts_data/adyen/operations.json).
EVENT_CODES = frozenset({AUTHORISATION, RECURRING_CONTRACT, *MODIFICATION_EVENTS.values()})


# -- modification commands: the canonical ones, carrying Adyen's references ---------------

@dataclass(frozen=True, slots=True)
class AdyenCapture(Capture):
    psp: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class AdyenCancel(Void):
    psp: str = ""
    reference: str = ""
    event_code: str = MODIFICATION_EVENTS["cancels"]


@dataclass(frozen=True, slots=True)
class AdyenAdjust(Adjust):
    psp: str = ""
    reference: str = ""


@dataclass(frozen=True, slots=True)
class AdyenRefund(RefundPayment):
    reference: str = ""
    event_code: str = MODIFICATION_EVENTS["refunds"]


def authorisation_item(p: Payment) -> dict[str, Any]:
    x = p.extra
    ok = p.status is not Status.FAILED
    reason = f"{x.get('auth_code', '')}:{p.card.last4}:{p.card.exp_month}/{p.card.exp_year}" \
        if ok and p.card else ("" if ok else wire.refusal(p)[1])
    return wire.notification_item(
        psp=p.id, original=None, merchant_account=x.get("merchantAccount", ""),
        merchant_reference=x.get("reference", ""), value=p.amount, currency=p.currency,
        event_code=AUTHORISATION, success=ok, at=last_change(p), reason=reason,
        payment_method=x.get("brand", ""),
        operations=("CANCEL", "CAPTURE", "REFUND") if ok else ())


def recurring_contract_item(p: Payment) -> dict[str, Any] | None:
    """The RECURRING_CONTRACT notification of an authorised payment that created a token:
    its pspReference is the token (the recurringDetailReference), its originalReference
    (and originalPsp) the payment's."""
    credential, x = p.credential, p.extra
    if credential is None or not credential.saves or not credential.stored_method \
            or x.get("token_operation") != "created":
        return None
    item = wire.notification_item(
        psp=credential.stored_method, original=p.id,
        merchant_account=x.get("merchantAccount", ""),
        merchant_reference=x.get("reference", ""), value=p.amount, currency=p.currency,
        event_code=RECURRING_CONTRACT, success=True, at=last_change(p),
        payment_method=x.get("brand", ""))
    item["originalPsp"] = p.id
    item["additionalData"] = {"shopperReference": x.get("shopperReference", ""),
                              "recurring.recurringDetailReference": credential.stored_method,
                              "recurring.firstPspReference": p.id}
    return item


def modification_item(p: Payment, psp: str, reference: str, event_code: str, value: int,
                      success: bool, reason: str = "") -> dict[str, Any]:
    x = p.extra
    return wire.notification_item(
        psp=psp, original=p.id, merchant_account=x.get("merchantAccount", ""),
        merchant_reference=reference or x.get("reference", ""), value=value,
        currency=p.currency, event_code=event_code, success=success, at=last_change(p),
        reason=reason, payment_method=x.get("brand", ""))


def last_change(p: Payment) -> float:
    return p.history[-1].at if p.history else p.created


def event(namespace: str, item: Mapping[str, Any], at: float) -> Event:
    return Event(id=f"{item['eventCode']}:{item['pspReference']}:{item['success']}",
                 provider=NAME, namespace=namespace, type=str(item["eventCode"]),
                 created=at, render=lambda: wire.notification(item))
