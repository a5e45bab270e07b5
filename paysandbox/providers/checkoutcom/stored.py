"""A payment's source and stored credential at Checkout.com.

A `card` source is saved as an instrument unless `store_for_future_use` is false (the
API's default is true), linked to the payment's customer when it names one; `id` pays
with a saved instrument and `customer` with the customer's default one. With
`merchant_initiated: true` the payment is merchant-initiated (MIT): `payment_type`
Recurring, Installment or else unscheduled. It quotes `previous_payment_id` (a `pay_`
id of this key, whose scheme id it takes, or another acquirer's network transaction
id), else the scheme id of the payment that saved its instrument. A quoted id the card
schemes did not issue for the card is declined 20057.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paysandbox.core.cards import detect_brand
from paysandbox.core.commands import Record
from paysandbox.core.credentials import Credential, Initiator, MitType
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import CardDetails
from paysandbox.providers.checkoutcom import magic, vault
from paysandbox.providers.checkoutcom.vault import CustomerRecord, InstrumentRecord
from paysandbox.providers.checkoutcom.wire import Invalid
from paysandbox.providers.seam import Context

_MIT_TYPES: Mapping[str, MitType] = {"Recurring": MitType.RECURRING,
                                     "Installment": MitType.INSTALLMENT}
#: The 3DS test cards whose issuer always asks for a challenge: a merchant-initiated
#: payment on them cannot be authenticated (declined 20154, authentication required).
_CHALLENGES = frozenset({magic.ThreeDs.CHALLENGE, magic.ThreeDs.CHALLENGE_FAILED})


@dataclass(frozen=True, slots=True)
class Source:
    """What a payment pays with: the card, its number where the test values need it
    (empty for a saved card that is not a test card), the instrument it is saved as
    (None: not saved), and its customer, with the `customer` the payment shows."""

    card: CardDetails
    number: str
    instrument: InstrumentRecord | None
    saves: bool
    customer: CustomerRecord | None
    shown_customer: dict[str, Any] | None


async def source(ctx: Context, body: Mapping[str, Any], number: str) -> Source:
    src = body["source"]
    found, shown = (None, None)
    if body.get("customer") is not None:
        found, shown = await vault.payment_customer(ctx, body["customer"])
    if src["type"] == "card":
        record = vault.new_instrument(ctx, number, src, found["id"] if found else None,
                                      None)
        card = CardDetails(brand=detect_brand(number).value, last4=number[-4:],
                           bin=number[:6], exp_month=src["expiry_month"],
                           exp_year=src["expiry_year"], country="GB",
                           fingerprint=record["fingerprint"])
        known = await ctx.objects(vault.INSTRUMENTS).get(record["id"])
        if known is not None:  # saved before: keep its customer and first scheme id
            record = {**record, "nti": known["nti"],
                      "customer": record["customer"] or known["customer"]}
        saves = src.get("store_for_future_use") is not False
        return Source(card, number, record, saves, found, shown)
    if src["type"] == "customer":
        found = await ctx.objects(vault.CUSTOMERS).get(src["id"])
        if found is None:
            raise Invalid("customer_not_found")
        if not found["default"]:
            raise Invalid("customer_instrument_not_found")
        src_id = found["default"]
        shown = {"id": found["id"], "email": found["email"]}
        if found["name"]:
            shown["name"] = found["name"]
    else:
        src_id = src["id"]
    saved = await ctx.objects(vault.INSTRUMENTS).get(src_id)
    if saved is None:
        raise Invalid("payment_source_id_invalid")
    if found is None and saved["customer"]:
        found = await ctx.objects(vault.CUSTOMERS).get(saved["customer"])
        if found is not None:
            shown = {"id": found["id"], "email": found["email"]}
    return Source(vault.card_of(saved), saved["magic"], saved, False, found, shown)


async def credential(ctx: Context, body: Mapping[str, Any], paid: Source, nti: str
                     ) -> tuple[Credential, Outcome | None]:
    """The payment's stored credential, and the decline of an MIT whose quoted network
    transaction id the schemes did not issue for its card (None: none)."""
    instrument = paid.instrument
    stored = instrument["id"] if instrument is not None and (
        paid.saves or body["source"]["type"] != "card") else None
    if not body.get("merchant_initiated"):
        return Credential(Initiator.CUSTOMER, network_transaction_id=nti,
                          stored_method=stored,
                          saves=paid.saves and (instrument is None or not instrument["nti"])
                          ), None
    previous = body.get("previous_payment_id")
    quoted: str | None = instrument["nti"] if instrument is not None else None
    if previous:
        quoted = await _quoted(ctx, previous)
    mit = _MIT_TYPES.get(body.get("payment_type", "Regular"), MitType.UNSCHEDULED)
    cred = Credential(Initiator.MERCHANT, mit, network_transaction_id=nti,
                      original_network_transaction_id=quoted, stored_method=stored)
    if quoted is not None and not ctx.network_transaction_id_matches(quoted, paid.card):
        return cred, Outcome.decline(DeclineReason.TRANSACTION_NOT_ALLOWED)
    return cred, None


async def _quoted(ctx: Context, previous: str) -> str:
    """The network transaction id `previous_payment_id` stands for: a payment of this key
    gives its scheme id; anything else is taken as another acquirer's id."""
    if not previous.startswith("pay_"):
        return previous
    p = await ctx.payment(previous)
    if p is None:
        raise Invalid("previous_payment_id_invalid")
    return str(p.extra.get("scheme_id") or "")


def challenges(paid: Source) -> bool:
    """Whether the card's issuer asks for 3DS whatever the request says (a challenge
    test card)."""
    return magic.THREE_DS_CARDS.get(paid.number) in _CHALLENGES


def writes(ctx: Context, paid: Source, nti: str) -> tuple[Record, ...]:
    """The instrument a card payment saves (with the payment's scheme id when it is the
    first) and its customer, or a customer the payment's email made."""
    out: list[Record] = []
    c = paid.customer
    record = paid.instrument
    if paid.saves and record is not None:
        if not record["nti"]:
            record = {**record, "nti": nti}
        out.append(ctx.objects(vault.INSTRUMENTS).record(record["id"], record))
        if c is not None:
            c = vault.link(c, record["id"])
    if c is not None:
        out.extend(vault.customer_records(ctx, c))
    return tuple(out)
