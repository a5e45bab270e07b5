"""A card payment's stored credential at Mercado Pago.

A payment with a saved card pays with a token made from its `card_id`, the payer
`{type: customer, id}`. It is merchant-initiated (MIT) when it says so the way Mercado
Pago's subscription messaging does (`point_of_interaction.type: SUBSCRIPTIONS` with
`transaction_data.first_time_use: false`: recurring), or when a saved card's token
carries no security code (the customer was not there to type it: unscheduled). An MIT
quotes `forward_data.network_transaction_data.network_transaction_id` (any imitated
acquirer's id), else the payment `transaction_data.payment_reference.id` names, else the
id of the saved card's first payment; one the card schemes did not issue for the card is
rejected (`cc_rejected_card_type_not_allowed`). Every card payment gets a network
transaction id, shown in `expanded.gateway.reference` when the request asks for it
(`X-Expand-Responde-Nodes: gateway.reference`, the header's spelling at Mercado Pago).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from paysandbox.core.commands import Record
from paysandbox.core.credentials import Credential, Initiator, MitType
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import CardDetails
from paysandbox.errors import InvalidRequest
from paysandbox.providers.mercadopago.card_tokens import CardTokenRecord
from paysandbox.providers.mercadopago.cards import CARDS, CardRecord, card_missing
from paysandbox.providers.mercadopago.customers import CUSTOMERS, CustomerRecord
from paysandbox.providers.seam import Context

EXPAND_HEADER = "X-Expand-Responde-Nodes"


@dataclass(frozen=True, slots=True)
class Stored:
    """The payment's credential, the rejection its quoted id calls for (None: none), the
    saved card it pays with and its customer, and the records to write with it."""

    credential: Credential
    refusal: Outcome | None
    card: CardRecord | None
    customer: CustomerRecord | None
    records: tuple[Record, ...]


async def stored(ctx: Context, params: Mapping[str, Any], token: CardTokenRecord,
                 card: CardDetails, nti: str) -> Stored:
    payer = params["payer"]
    customer: CustomerRecord | None = None
    if payer.get("type") == "customer":
        customer = await ctx.objects(CUSTOMERS).get(str(payer.get("id")))
        if customer is None:
            raise InvalidRequest("Customer not found", param="payer.id", code="2002")
    saved: CardRecord | None = None
    if token["card_id"] is not None:
        saved = await ctx.objects(CARDS).get(token["card_id"])
        if saved is None:
            raise card_missing()
    data = (params.get("point_of_interaction") or {}).get("transaction_data") or {}
    subscription = (params.get("point_of_interaction") or {}).get("type") == "SUBSCRIPTIONS"
    if subscription and data.get("first_time_use") is False:
        mit: MitType | None = MitType.RECURRING
    elif saved is not None and customer is not None and not token["security_code_length"]:
        mit = MitType.UNSCHEDULED
    else:
        mit = None
    records: tuple[Record, ...] = ()
    if saved is not None and not saved["_nti"]:
        records = (ctx.objects(CARDS).record(saved["id"], {**saved, "_nti": nti}),)
    if mit is None:
        return Stored(Credential(Initiator.CUSTOMER, network_transaction_id=nti,
                                 stored_method=saved["id"] if saved else None,
                                 saves=bool(records)), None, saved, customer, records)
    quoted = await _quoted(ctx, params, data, saved)
    cred = Credential(Initiator.MERCHANT, mit, network_transaction_id=nti,
                      original_network_transaction_id=quoted,
                      stored_method=saved["id"] if saved else None)
    refusal = None
    if quoted is not None and not ctx.network_transaction_id_matches(quoted, card):
        refusal = Outcome.decline(DeclineReason.TRANSACTION_NOT_ALLOWED)
    return Stored(cred, refusal, saved, customer, records)


async def _quoted(ctx: Context, params: Mapping[str, Any], data: Mapping[str, Any],
                  saved: CardRecord | None) -> str | None:
    forward = ((params.get("forward_data") or {}).get("network_transaction_data") or {}) \
        .get("network_transaction_id")
    if forward:
        return str(forward)
    reference = (data.get("payment_reference") or {}).get("id")
    if reference:
        previous = await ctx.payment(str(reference))
        if previous is None:
            raise InvalidRequest(f"Invalid payment_reference.id {reference}: no such "
                                 "payment.", param="point_of_interaction.transaction_data."
                                 "payment_reference.id", code="2000")
        return str(previous.extra.get("network_transaction_id") or "")
    return saved["_nti"] if saved is not None else None


def expanded(ctx: Context, nti: str | None) -> dict[str, Any] | None:
    """`expanded`, when the request asks for the gateway's reference."""
    if nti is None or "gateway.reference" not in ctx.headers.get(EXPAND_HEADER, ""):
        return None
    return {"gateway": {"reference": {"network_transaction_id": nti}}}
