"""Adyen's disputes: the Disputes API (DisputeService v30: applicable defense reasons,
defense documents, defend, accept) -> canonical dispute commands, and the dispute
notifications each step of a dispute is announced with.

A dispute is kept on its payment (paysandbox/core/disputes.py); its id is its own
16-character pspReference, linked to the payment, so `disputePspReference` finds it.
Every dispute notification carries that pspReference, the payment's as
`originalReference`, and the scheme's reason code (`chargebackReasonCode`).

The Disputes API answers a request it could read with HTTP 200: whether the dispute
service did what was asked is `disputeServiceResult.success`, with `errorMessage` when
it did not (an unknown dispute, a closed one, a defense without its required
documents), as Adyen documents
(https://docs.adyen.com/risk-management/disputes-api). A malformed request is a
ServiceError, as on the Checkout API.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from paysandbox.core import disputes as core
from paysandbox.core.commands import (
    AcceptDispute,
    Command,
    ExpireDispute,
    OpenDispute,
    ReopenDispute,
    ResolveDispute,
    Result,
    UpdateDispute,
)
from paysandbox.core.disputes import (
    Dispute,
    DisputeError,
    DisputeKind,
    DisputePlan,
    DisputeReason,
    DisputeStage,
    DisputeStatus,
)
from paysandbox.core.payments import AmountExceeded, NoSuchPayment, Payment, Status
from paysandbox.providers.adyen import magic, wire
from paysandbox.providers.adyen.notifications import NAME
from paysandbox.providers.seam import Context
from paysandbox.webhooks.dispatcher import Event

# -- the notifications ------------------------------------------------------------------

NOTIFICATION_OF_FRAUD = "NOTIFICATION_OF_FRAUD"
REQUEST_FOR_INFORMATION = "REQUEST_FOR_INFORMATION"
NOTIFICATION_OF_CHARGEBACK = "NOTIFICATION_OF_CHARGEBACK"
CHARGEBACK = "CHARGEBACK"
INFORMATION_SUPPLIED = "INFORMATION_SUPPLIED"
CHARGEBACK_REVERSED = "CHARGEBACK_REVERSED"
SECOND_CHARGEBACK = "SECOND_CHARGEBACK"
PREARBITRATION_OPEN = "PREARBITRATION_OPEN"
PREARBITRATION_WON = "PREARBITRATION_WON"
PREARBITRATION_LOST = "PREARBITRATION_LOST"
ISSUER_RESPONSE_TIMEFRAME_EXPIRED = "ISSUER_RESPONSE_TIMEFRAME_EXPIRED"
DISPUTE_DEFENSE_PERIOD_ENDED = "DISPUTE_DEFENSE_PERIOD_ENDED"

#: Every dispute event code `events_for` can notify (each has a payload contract).
EVENT_CODES = frozenset({
    NOTIFICATION_OF_FRAUD, REQUEST_FOR_INFORMATION, NOTIFICATION_OF_CHARGEBACK, CHARGEBACK,
    INFORMATION_SUPPLIED, CHARGEBACK_REVERSED, SECOND_CHARGEBACK, PREARBITRATION_OPEN,
    PREARBITRATION_WON, PREARBITRATION_LOST, ISSUER_RESPONSE_TIMEFRAME_EXPIRED,
    DISPUTE_DEFENSE_PERIOD_ENDED})

#: The scheme's words for each canonical reason, as dispute notifications give them in
#: `reason` (Visa Claims Resolution's and Mastercard's dispute categories).
REASON_TEXT: Mapping[DisputeReason, str] = {
    DisputeReason.FRAUDULENT: "Other Fraud-Card Absent Environment",
    DisputeReason.PRODUCT_NOT_RECEIVED: "Merchandise/Services Not Received",
    DisputeReason.PRODUCT_UNACCEPTABLE: "Not as Described or Defective Merchandise/Services",
    DisputeReason.DUPLICATE: "Duplicate Processing",
    DisputeReason.SUBSCRIPTION_CANCELED: "Cancelled Recurring Transaction",
    DisputeReason.CREDIT_NOT_PROCESSED: "Credit Not Processed",
    DisputeReason.UNRECOGNIZED: "Cardholder Does Not Recognize Transaction",
    DisputeReason.GENERAL: "Cardholder Dispute",
}

#: The fraud type a scheme's fraud report (Visa TC40, Mastercard SAFE) gives a card-not-
#: present fraud: NOTIFICATION_OF_FRAUD's `nofReasonCode`.
_FRAUD_TYPE = {"visa": "6", "mc": "06"}


def scheme(p: Payment) -> str:
    """Adyen's name of the payment's card scheme (visa, mc, amex…)."""
    return str(p.extra.get("brand") or (p.card.brand if p.card else "visa"))


def reason_code(p: Payment, d: Dispute) -> str:
    """The scheme reason code: the trigger's own, else the scheme's usual one for the
    reason (Visa's for a scheme without a table here)."""
    brand = {"mc": "mastercard"}.get(scheme(p), scheme(p))
    return core.scheme_reason_code(d, brand) or core.scheme_reason_code(d, "visa") or ""


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def dispute_item(p: Payment, d: Dispute, event_code: str, status: str | None, at: float,
                 *, auto_defended: bool = False) -> dict[str, Any]:
    """A dispute notification item: the dispute's pspReference, the payment's as
    originalReference, the scheme's reason code and where the dispute stands."""
    x = p.extra
    brand = scheme(p)
    code = reason_code(p, d)
    item = wire.notification_item(
        psp=d.id, original=p.id, merchant_account=x.get("merchantAccount", ""),
        merchant_reference=x.get("reference", ""), value=d.amount, currency=p.currency,
        event_code=event_code, success=True, at=at, reason=REASON_TEXT[d.reason],
        payment_method=brand)
    extra: dict[str, str] = {"modificationMerchantReferences": ""}
    if d.kind is DisputeKind.INQUIRY and d.stage is DisputeStage.FIRST:
        extra.update(rfiReasonCode=code, rfiSchemeCode=brand)
    else:
        extra.update(chargebackReasonCode=code, chargebackSchemeCode=brand,
                     paymentMethodVariant=brand)
    if d.is_open:
        extra.update(defendable="true" if d.status is DisputeStatus.NEEDS_RESPONSE
                     else "false", defensePeriodEndsAt=_iso(d.evidence_due_by))
    if auto_defended:
        extra["autoDefended"] = "true"
    if status is not None:
        extra["disputeStatus"] = status
    item["additionalData"] = extra
    return item


def fraud_item(p: Payment, d: Dispute, at: float) -> dict[str, Any]:
    """The scheme's fraud report that comes before a fraud chargeback (Visa requires
    the issuer to report the fraud before it may charge back for it): its own
    pspReference, informational."""
    brand = scheme(p)
    item = wire.notification_item(
        psp=_fraud_psp(d.id), original=p.id,
        merchant_account=p.extra.get("merchantAccount", ""),
        merchant_reference=p.extra.get("reference", ""), value=d.amount,
        currency=p.currency, event_code=NOTIFICATION_OF_FRAUD, success=True, at=at,
        reason="Fraudulent Use of Account Number", payment_method=brand)
    item["additionalData"] = {"modificationMerchantReferences": "",
                              "nofReasonCode": _FRAUD_TYPE.get(brand, "6"),
                              "nofSchemeCode": brand}
    return item


def _fraud_psp(dispute_psp: str) -> str:
    """The fraud report's pspReference: its own, derived from the dispute's so that the
    same dispute always names the same report."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(alphabet[(alphabet.index(c) + 17) % len(alphabet)]
                   if c in alphabet else c for c in dispute_psp)


def _event(namespace: str, item: Mapping[str, Any], at: float, key: str) -> Event:
    code = str(item["eventCode"])
    return Event(id=f"{code}:{item['pspReference']}:{key}", provider=NAME,
                 namespace=namespace, type=code, created=at,
                 render=lambda: wire.notification(item))


#: disputeStatus once a dispute closed, by how it ended.
_CLOSED_STATUS = {DisputeStatus.WON: "Won", DisputeStatus.LOST: "Lost",
                  DisputeStatus.ACCEPTED: "Accepted"}


def events_for(namespace: str, command: Command, result: Result) -> Sequence[Event]:
    """The notifications of one dispute step:
    - opened: NOTIFICATION_OF_CHARGEBACK then CHARGEBACK (the funds are deducted), a
      fraud chargeback preceded by NOTIFICATION_OF_FRAUD; an inquiry is a
      REQUEST_FOR_INFORMATION;
    - defended (defendDispute, or the issuer's own reversal): INFORMATION_SUPPLIED;
      documents supplied or deleted on their own notify nothing;
    - decided: won, CHARGEBACK_REVERSED (the funds come back), PREARBITRATION_WON in
      pre-arbitration, ISSUER_RESPONSE_TIMEFRAME_EXPIRED for an inquiry; lost, the
      stage's own code with disputeStatus Lost (CHARGEBACK, SECOND_CHARGEBACK,
      PREARBITRATION_LOST), DISPUTE_DEFENSE_PERIOD_ENDED for an inquiry;
    - reopened: SECOND_CHARGEBACK or PREARBITRATION_OPEN (the funds are deducted again);
    - unanswered by its deadline, or accepted: DISPUTE_DEFENSE_PERIOD_ENDED (Expired or
      Accepted), and PREARBITRATION_LOST in pre-arbitration."""
    p, d, was = result.payment, result.dispute, result.previous_dispute
    if d is None:
        return ()
    at = p.history[-1].at if p.history else p.created
    key = f"{d.stage.value}:{len(d.history)}"
    items: list[tuple[dict[str, Any], str]] = []

    def add(code: str, status: str | None, **kw: Any) -> None:
        items.append((dispute_item(p, d, code, status, at, **kw), key))

    inquiry = d.kind is DisputeKind.INQUIRY and d.stage is DisputeStage.FIRST
    if isinstance(command, OpenDispute):
        if inquiry:
            add(REQUEST_FOR_INFORMATION, "Unresponded")
        else:
            if d.reason is DisputeReason.FRAUDULENT:
                items.append((fraud_item(p, d, at), key))
            add(NOTIFICATION_OF_CHARGEBACK, "Unresponded")
            add(CHARGEBACK, "Undefended")
    elif isinstance(command, UpdateDispute):
        if d.status is DisputeStatus.UNDER_REVIEW and was is not None and \
                was.status is DisputeStatus.NEEDS_RESPONSE:
            add(INFORMATION_SUPPLIED, "Responded",
                auto_defended=bool(d.evidence.get(AUTO_DEFENDED)))
    elif isinstance(command, ReopenDispute):
        add(PREARBITRATION_OPEN if d.stage is DisputeStage.PRE_ARBITRATION
            else SECOND_CHARGEBACK, "Undefended")
    elif isinstance(command, ResolveDispute):
        won = d.status is DisputeStatus.WON
        status = _CLOSED_STATUS[d.status]
        if inquiry:
            add(ISSUER_RESPONSE_TIMEFRAME_EXPIRED if won else DISPUTE_DEFENSE_PERIOD_ENDED,
                status)
        elif d.stage is DisputeStage.PRE_ARBITRATION:
            add(PREARBITRATION_WON if won else PREARBITRATION_LOST, status)
        elif won:
            add(CHARGEBACK_REVERSED, status)
        else:
            add(SECOND_CHARGEBACK if d.stage is DisputeStage.SECOND_CHARGEBACK
                else CHARGEBACK, status)
    elif isinstance(command, ExpireDispute | AcceptDispute):
        add(DISPUTE_DEFENSE_PERIOD_ENDED,
            "Expired" if isinstance(command, ExpireDispute) else "Accepted")
        if d.stage is DisputeStage.PRE_ARBITRATION:
            add(PREARBITRATION_LOST, "Lost")
    return [_event(namespace, item, at, f"{k}:{i}") for i, (item, k) in enumerate(items)]


# -- the test holder names ----------------------------------------------------------------

#: How long after the capture a test holder name's dispute opens, after it the issuer's
#: own reversal, and after the reversal its second cycle (virtual seconds). Adyen's test
#: platform sends them within minutes; the clock can be advanced past them.
DISPUTE_AFTER = 1.0
REVERSAL_AFTER = 60.0
SECOND_CYCLE_AFTER = 86400.0
#: The evidence key that marks a defense as the issuer's own (Adyen's auto-defence).
AUTO_DEFENDED = "autoDefended"


def test_dispute_extra(holder_name: object) -> dict[str, Any]:
    """What a payment remembers of a dispute test holder name, for its capture (which
    may come later) to act on."""
    trigger = magic.dispute_trigger(holder_name)
    return {"test_dispute": str(holder_name)} if trigger is not None else {}


def after_capture(ctx: Context, result: Result) -> None:
    """A payment made with a dispute test holder name that has just been captured is
    disputed a moment later on the virtual clock; a reversed one is defended by the
    issuer itself a minute after, and a second cycle follows a day after its reversal."""
    before, after = result.previous, result.payment
    trigger = magic.dispute_trigger(after.extra.get("test_dispute"))
    if trigger is None or after.status is not Status.CAPTURED or after.disputes or (
            before is not None and before.status is Status.CAPTURED):
        return
    plan = DisputePlan(reason=trigger.reason, after=DISPUTE_AFTER, ends=trigger.ends,
                       network_reason_code=trigger.network_reason_code)
    dispute_id = wire.psp_reference()
    opens = ctx.clock.now() + plan.after
    ctx.schedule(OpenDispute.planned(after.id, dispute_id, plan), opens)
    if not trigger.reversed:
        return
    defended = opens + REVERSAL_AFTER
    ctx.schedule(UpdateDispute(after.id, dispute_id=dispute_id,
                               evidence={AUTO_DEFENDED: True}, submit=True), defended)
    if trigger.second_cycle is not None:
        ctx.schedule(ReopenDispute(after.id, dispute_id=dispute_id,
                                   stage=trigger.second_cycle),
                     defended + plan.decide_after + SECOND_CYCLE_AFTER)


# -- defense reasons and documents ----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DefenseReason:
    code: str
    #: (defenseDocumentTypeCode, requirementLevel)
    documents: tuple[tuple[str, str], ...]

    def satisfied(self, supplied: Mapping[str, Any]) -> bool:
        required = [c for c, level in self.documents if level == "Required"]
        one_of = [c for c, level in self.documents if level == "OneOrMore"]
        return all(c in supplied for c in required) and (
            not one_of or any(c in supplied for c in one_of))


_MATERIAL = DefenseReason("SupplyDefenseMaterial",
                          (("TIDorInvoice", "Optional"), ("DefenseMaterial", "Required")))
#: The defense reasons offered for each canonical reason (a subset of Adyen's, by the
#: dispute categories they answer; every dispute can be answered with defense material).
DEFENSE_REASONS: Mapping[DisputeReason, tuple[DefenseReason, ...]] = {
    DisputeReason.PRODUCT_UNACCEPTABLE: (
        DefenseReason("GoodsNotReturned", (("TIDorInvoice", "Optional"),
                                           ("GoodsNotReturned", "Required"))),
        DefenseReason("GoodsRepairedOrReplaced", (("TIDorInvoice", "Optional"),
                                                  ("GoodsRepairedOrReplaced", "Required"))),
        DefenseReason("GoodsWereAsDescribed", (("GoodsWereAsDescribed", "Required"),
                                               ("TIDorInvoice", "Required"))),
        _MATERIAL),
    DisputeReason.PRODUCT_NOT_RECEIVED: (
        DefenseReason("GoodsOrServicesProvided", (("ProofOfDelivery", "OneOrMore"),
                                                  ("ProofOfServiceProvided", "OneOrMore"),
                                                  ("TIDorInvoice", "Optional"))),
        _MATERIAL),
    DisputeReason.CREDIT_NOT_PROCESSED: (
        DefenseReason("CreditOrCancellationPolicyProperlyDisclosed", (
            ("CreditOrCancellationPolicy", "Required"), ("TIDorInvoice", "Optional"))),
        _MATERIAL),
    DisputeReason.SUBSCRIPTION_CANCELED: (
        DefenseReason("CreditOrCancellationPolicyProperlyDisclosed", (
            ("CreditOrCancellationPolicy", "Required"), ("TIDorInvoice", "Optional"))),
        _MATERIAL),
}


def defense_reasons(d: Dispute) -> tuple[DefenseReason, ...]:
    return DEFENSE_REASONS.get(d.reason, (_MATERIAL,))


def supplied(d: Dispute) -> dict[str, Any]:
    """The defense documents on a dispute, by type (a deleted one is kept as None)."""
    docs = d.evidence.get("documents") or {}
    return {k: v for k, v in docs.items() if v is not None}


#: What Adyen takes as defense documents: PDF, JPEG or TIFF
#: (https://docs.adyen.com/risk-management/disputes-api#supply-dispute-defense-documents),
#: each up to 10 MB decoded.
CONTENT_TYPES = frozenset({"application/pdf", "image/jpeg", "image/jpg", "image/tiff"})
MAX_DOCUMENT = 10 * 1024 * 1024


# -- handlers -----------------------------------------------------------------------------

class Refused(Exception):
    """What the dispute service answers with `success: false`."""


def result(error: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"success": error is None}
    if error is not None:
        out["errorMessage"] = error
    return {"disputeServiceResult": out}


async def _find(ctx: Context, params: Mapping[str, Any]) -> tuple[Payment, Dispute]:
    dispute_id, account = params["disputePspReference"], params["merchantAccountCode"]
    p = await ctx.resolve(dispute_id)
    d = next((x for x in p.disputes if x.id == dispute_id), None) if p else None
    if p is None or d is None or p.extra.get("merchantAccount") != account:
        raise Refused(f"Could not find dispute {dispute_id} for merchant account "
                      f"{account}.")
    return p, d


def _open(d: Dispute, now: float, action: str) -> None:
    if d.status is DisputeStatus.UNDER_REVIEW:
        raise Refused(f"Dispute {d.id} is already defended; it can no longer be {action}.")
    if not d.is_open:
        raise Refused(f"Dispute {d.id} is closed ({d.status.value}); it can no longer be "
                      f"{action}.")
    if now >= d.evidence_due_by:
        raise Refused(f"The defense period of dispute {d.id} ended at "
                      f"{_iso(d.evidence_due_by)}; it can no longer be {action}.")


async def _run(ctx: Context, p: Payment, command: UpdateDispute | AcceptDispute) -> None:
    try:
        await ctx.execute(command, p)
    except NoSuchPayment:
        raise Refused(f"Could not find dispute {command.dispute_id}.") from None
    except (DisputeError, AmountExceeded) as exc:
        raise Refused(str(exc)) from None


async def _answer(work: Awaitable[None]) -> dict[str, Any]:
    try:
        await work
    except Refused as exc:
        return result(str(exc))
    return result()


async def retrieve_applicable_defense_reasons(ctx: Context, params: dict[str, Any]) -> Any:
    try:
        _, d = await _find(ctx, params)
    except Refused as exc:
        return result(str(exc))
    docs = supplied(d)
    return {"defenseReasons": [
        {"defenseDocumentTypes": [
            {"available": code in docs, "defenseDocumentTypeCode": code,
             "requirementLevel": level} for code, level in r.documents],
         "defenseReasonCode": r.code, "satisfied": r.satisfied(docs)}
        for r in defense_reasons(d)], **result()}


async def supply_defense_document(ctx: Context, params: dict[str, Any]) -> Any:
    async def work() -> None:
        p, d = await _find(ctx, params)
        _open(d, ctx.clock.now(), "given defense documents")
        known = {c for r in defense_reasons(d) for c, _ in r.documents}
        docs: dict[str, Any] = {}
        for i, doc in enumerate(params["defenseDocuments"]):
            code = doc["defenseDocumentTypeCode"]
            if code not in known:
                raise Refused(f"defenseDocuments[{i}]: defense document type {code!r} does "
                              f"not apply to dispute {d.id}; use one of "
                              f"{', '.join(sorted(known))} "
                              "(retrieveApplicableDefenseReasons lists them).")
            if doc["contentType"].lower() not in CONTENT_TYPES:
                raise Refused(f"defenseDocuments[{i}]: content type {doc['contentType']!r} "
                              "is not accepted; supply application/pdf, image/jpeg or "
                              "image/tiff.")
            try:
                size = len(base64.b64decode(doc["content"], validate=True))
            except (binascii.Error, ValueError):
                raise Refused(f"defenseDocuments[{i}]: content is not base64.") from None
            if size == 0 or size > MAX_DOCUMENT:
                raise Refused(f"defenseDocuments[{i}]: the document is {size} bytes; "
                              f"supply one of 1 to {MAX_DOCUMENT} bytes.")
            docs[code] = {"contentType": doc["contentType"], "size": size}
        await _run(ctx, p, UpdateDispute(
            p.id, dispute_id=d.id,
            evidence={"documents": {**(d.evidence.get("documents") or {}), **docs}}))
    return await _answer(work())


async def delete_dispute_defense_document(ctx: Context, params: dict[str, Any]) -> Any:
    async def work() -> None:
        p, d = await _find(ctx, params)
        _open(d, ctx.clock.now(), "changed")
        code = params["defenseDocumentType"]
        if code not in supplied(d):
            raise Refused(f"Dispute {d.id} has no defense document of type {code!r}.")
        await _run(ctx, p, UpdateDispute(
            p.id, dispute_id=d.id,
            evidence={"documents": {**(d.evidence.get("documents") or {}), code: None}}))
    return await _answer(work())


async def defend_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    async def work() -> None:
        p, d = await _find(ctx, params)
        _open(d, ctx.clock.now(), "defended")
        code = params["defenseReasonCode"]
        reason = next((r for r in defense_reasons(d) if r.code == code), None)
        if reason is None:
            raise Refused(f"Defense reason {code!r} does not apply to dispute {d.id}; use "
                          f"one of {', '.join(r.code for r in defense_reasons(d))}.")
        if not reason.satisfied(supplied(d)):
            missing = [c for c, level in reason.documents
                       if level in ("Required", "OneOrMore") and c not in supplied(d)]
            raise Refused(f"Defense reason {code} needs its required defense documents "
                          f"first ({', '.join(missing)}): supply them with "
                          "supplyDefenseDocument.")
        await _run(ctx, p, UpdateDispute(p.id, dispute_id=d.id,
                                         evidence={"defenseReasonCode": code}, submit=True))
    return await _answer(work())


async def accept_dispute(ctx: Context, params: dict[str, Any]) -> Any:
    async def work() -> None:
        p, d = await _find(ctx, params)
        if not d.is_open:
            raise Refused(f"Dispute {d.id} is closed ({d.status.value}); there is nothing "
                          "to accept.")
        await _run(ctx, p, AcceptDispute(p.id, dispute_id=d.id))
    return await _answer(work())
