"""Adyen's tokens (stored payment methods): a card saved for one shopper of one merchant
account by a first payment with `storePaymentMethod`, and the payments that use it.

A token is written with its first payment, as one unit, and can be used once that
payment is authorised (at once, or after its 3D Secure challenge): a token whose first
payment was refused is never listed nor charged. Its id is both the Checkout API's
`storedPaymentMethodId` and the Recurring API's `recurringDetailReference`.

Who initiated a payment is Adyen's `shopperInteraction`: `ContAuth` is the merchant
charging a card on file without the shopper (`recurringProcessingModel` Subscription ->
recurring, UnscheduledCardOnFile or CardOnFile -> unscheduled); `Ecommerce` (the
default) is the shopper, who may pay with a saved card and be challenged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from paysandbox.core.cards import is_expired
from paysandbox.core.commands import Record
from paysandbox.core.credentials import Credential, Initiator, MitType
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import CardDetails, Status
from paysandbox.objects import Kind
from paysandbox.providers.adyen import magic, wire
from paysandbox.providers.adyen.wire import AdyenError
from paysandbox.providers.seam import Context


class StoredMethodRecord(TypedDict):
    id: str
    merchantAccount: str
    shopperReference: str
    brand: str  # Adyen's variant (visa, mc, …)
    bin: str
    last4: str
    exp_month: int
    exp_year: int
    funding: str
    country: str
    fingerprint: str
    holderName: str
    test_card: str  # the public test card's number when it is one (its test outcomes)
    network_tx_reference: str  # the scheme's id of the first payment
    first_psp: str
    model: str  # the recurringProcessingModel it was stored for
    created: float


STORED: Kind[StoredMethodRecord] = Kind("adyen.stored_payment_method")

_AUTHORISED = frozenset({Status.AUTHORIZED, Status.CAPTURED})
_MIT_TYPES: Mapping[str, MitType] = {"Subscription": MitType.RECURRING,
                                     "UnscheduledCardOnFile": MitType.UNSCHEDULED,
                                     "CardOnFile": MitType.UNSCHEDULED}


def shopper_required(param: str = "shopperReference") -> AdyenError:
    return AdyenError("Recurring payments require a shopperReference: send the "
                      "shopperReference the card was stored for.", code="000", param=param)


def contract_not_found() -> AdyenError:
    return AdyenError("Contract not found: this shopperReference has no stored payment "
                      "details for this merchant account (deleted, or never stored).",
                      code="800", param="shopperReference")


def detail_not_found(param: str) -> AdyenError:
    return AdyenError("PaymentDetail not found: no stored payment method with this id for "
                      "this shopperReference. List them with GET /storedPaymentMethods.",
                      code="803", param=param)


async def usable(ctx: Context, record: StoredMethodRecord) -> bool:
    """Whether a token's first payment was authorised (a payment retention has since
    forgotten was: its token was listed while it was kept)."""
    first = await ctx.payment(record["first_psp"])
    return first is None or any(h.status in _AUTHORISED for h in first.history)


async def of_shopper(ctx: Context, account: str, shopper: str) -> list[StoredMethodRecord]:
    """The shopper's usable tokens at one merchant account, oldest first."""
    found = [r for r in await ctx.objects(STORED).all()
             if r["merchantAccount"] == account and r["shopperReference"] == shopper]
    return [r for r in found if await usable(ctx, r)]


async def find(ctx: Context, account: str, shopper: str | None, token: str,
               param: str) -> StoredMethodRecord:
    """One usable token of the shopper: Adyen's 800 when the shopper has none, 803 when
    this is not one of them."""
    if not shopper:
        raise shopper_required()
    found = await ctx.objects(STORED).get(token)
    if found is not None and found["merchantAccount"] == account \
            and found["shopperReference"] == shopper and await usable(ctx, found):
        return found
    # Which error: only a miss reads the namespace's tokens.
    raise detail_not_found(param) if await of_shopper(ctx, account, shopper) \
        else contract_not_found()


def card_of(record: StoredMethodRecord) -> CardDetails:
    return CardDetails(brand=record["brand"], last4=record["last4"], bin=record["bin"],
                       exp_month=record["exp_month"], exp_year=record["exp_year"],
                       funding=record["funding"], country=record["country"],
                       fingerprint=record["fingerprint"])


def expired(ctx: Context, record: StoredMethodRecord) -> bool:
    return is_expired(record["exp_month"], record["exp_year"], ctx.clock.now_datetime())


@dataclass(frozen=True, slots=True)
class Use:
    """How one /payments request uses stored credentials: the payment's credential, the
    outcome after the network transaction id it quotes is checked, the token to write
    with it (a new one) and what the payment keeps of it for its response."""

    credential: Credential
    outcome: Outcome
    records: tuple[Record, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


async def use(ctx: Context, params: Mapping[str, Any], psp: str, card: CardDetails,
              outcome: Outcome, saved: StoredMethodRecord | None, test_card: str) -> Use:
    """The stored-credential side of a card payment: an MIT (`ContAuth`) with a token or
    with raw card data and the `networkTxReference` another acquirer gave, or a first
    payment that stores the card (`storePaymentMethod`)."""
    merchant = params.get("shopperInteraction") == "ContAuth"
    model = params.get("recurringProcessingModel")
    quoted = saved["network_tx_reference"] if saved is not None else \
        str((params.get("additionalData") or {}).get("networkTxReference") or "") or None
    if merchant and saved is None and quoted is not None \
            and not ctx.network_transaction_id_matches(quoted, card):
        outcome = Outcome.decline(DeclineReason.TRANSACTION_NOT_ALLOWED)
    nti = ctx.network_transaction_id(card)
    common: dict[str, Any] = {
        "initiator": Initiator.MERCHANT if merchant else Initiator.CUSTOMER,
        "mit_type": _MIT_TYPES.get(str(model), MitType.UNSCHEDULED) if merchant else None,
        "network_transaction_id": nti,
        "original_network_transaction_id": quoted if merchant else None}
    if saved is not None:
        return Use(Credential(stored_method=saved["id"], **common), outcome,
                   extra={"shopperReference": saved["shopperReference"]})
    if params.get("storePaymentMethod") is not True:
        return Use(Credential(**common), outcome)
    shopper = params.get("shopperReference")
    if not shopper:
        raise shopper_required()
    account = params["merchantAccount"]
    existing = next((r for r in await of_shopper(ctx, account, shopper)
                     if r["fingerprint"] == card.fingerprint
                     and (r["exp_month"], r["exp_year"]) == (card.exp_month, card.exp_year)),
                    None)
    extra = {"shopperReference": shopper}
    if existing is not None:
        return Use(Credential(stored_method=existing["id"], saves=True, **common), outcome,
                   extra={**extra, "token_operation": "alreadyExisting"})
    token = wire.psp_reference()
    record = StoredMethodRecord(
        id=token, merchantAccount=account, shopperReference=shopper, brand=card.brand,
        bin=card.bin, last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year,
        funding=card.funding, country=card.country, fingerprint=card.fingerprint,
        holderName=str((params.get("paymentMethod") or {}).get("holderName") or ""),
        test_card=test_card, network_tx_reference=nti, first_psp=psp,
        model=str(model or "CardOnFile"), created=ctx.clock.now())
    return Use(Credential(stored_method=token, saves=True, **common), outcome,
               (ctx.objects(STORED).record(token, record),),
               {**extra, "token_operation": "created"})


def test_card(record: StoredMethodRecord) -> magic.TestCard | None:
    return magic.BY_NUMBER.get(record["test_card"])
