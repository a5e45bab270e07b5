"""Mercado Pago's chargebacks -> the canonical dispute commands, and back to its
chargeback object (https://www.mercadopago.com.br/developers/en/reference/chargebacks/
_chargebacks_id/get).

A chargeback lives on its payment (paysandbox/core/disputes.py) and its id is linked to
the payment. The seller answers by uploading documentation (`POST /v1/chargebacks/{id}/
documentation`, multipart `files[]`) before `date_documentation_deadline`: it goes
`review_pending`, then `valid` (`coverage_applied: true`, the money comes back) or
`invalid` (`coverage_applied: false`); unanswered by the deadline it is `not_supplied`
and lost. The payment shows `charged_back` meanwhile (`in_process`, then `reimbursed`
or `settled`).
"""

from __future__ import annotations

import random
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from paysandbox.core.commands import UpdateDispute
from paysandbox.core.disputes import Dispute, DisputeError, DisputeStatus
from paysandbox.core.payments import AmountExceeded, NoSuchPayment, Payment
from paysandbox.errors import InvalidRequest
from paysandbox.providers.mercadopago import wire
from paysandbox.providers.mercadopago.errors import not_found
from paysandbox.providers.seam import Context

#: The largest upload Mercado Pago takes, all files together (10 MB).
MAX_UPLOAD = 10 * 1024 * 1024
#: The file types it takes.
FILE_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})


def new_id() -> str:
    """Chargeback ids are 18-digit numbers, sent as strings."""
    return str(random.randint(10**17, 10**18 - 1))


def documentation_status(d: Dispute) -> str:
    if d.expired:
        return "not_supplied"
    return {DisputeStatus.NEEDS_RESPONSE: "pending", DisputeStatus.UNDER_REVIEW:
            "review_pending", DisputeStatus.WON: "valid", DisputeStatus.LOST: "invalid",
            DisputeStatus.ACCEPTED: "not_supplied"}[d.status]


def coverage_applied(d: Dispute) -> bool | None:
    """Whether the decision went the seller's way (the money comes back); null until
    decided."""
    if d.is_open:
        return None
    return d.status is DisputeStatus.WON


def _updated(d: Dispute) -> float:
    return d.history[-1].at if d.history else d.created


def chargeback(p: Payment, d: Dispute) -> dict[str, Any]:
    files = d.evidence.get("documentation") or []
    return {
        "id": d.id,
        "payments": [int(p.id)],
        "currency": p.currency,
        "amount": wire.amount(d.amount, p.currency),
        "reason": d.reason.value,
        "coverage_applied": coverage_applied(d),
        "coverage_elegible": True,
        "documentation_required": True,
        "documentation_status": documentation_status(d),
        "documentation": [{"type": f["content_type"], "description": f"File: {f['filename']}",
                           "url": f"https://api.mercadopago.com/v1/chargebacks/documentation/"
                                  f"other/{d.id}-{i}"} for i, f in enumerate(files)],
        "date_documentation_deadline": wire.date(d.evidence_due_by),
        "date_created": wire.date(d.created),
        "date_last_updated": wire.date(_updated(d)),
        "live_mode": False,
    }


def parse_files(raw: bytes, content_type: str) -> dict[str, Any]:
    """A multipart body -> `{"files": [{filename, content_type, size}]}` (the route's
    contract checks it); Mercado Pago's 400 when it is not multipart."""
    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        raise InvalidRequest("Send the documentation as multipart/form-data with one or "
                             "more files[] parts (.jpg, .png or .pdf).", param="files",
                             code="1")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    files = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name is None:
            continue
        files.append({"field": str(name), "filename": part.get_filename() or "",
                      "content_type": part.get_content_type(),
                      "size": len(payload) if isinstance(payload, bytes) else 0})
    return {"files": files}


# -- handlers -----------------------------------------------------------------------------

async def _find(ctx: Context, raw_id: str) -> tuple[Payment, Dispute]:
    """A chargeback by its id, or by its payment's id, as Mercado Pago takes either."""
    if not raw_id.isdigit():
        raise InvalidRequest(f"Invalid chargeback id {raw_id!r}: Mercado Pago's chargeback "
                             "ids are numbers.", code="1")
    p = await ctx.resolve(raw_id) or await ctx.payment(raw_id)
    d = None
    if p is not None:
        d = next((x for x in p.disputes if x.id == raw_id), None)
        if d is None and p.id == raw_id and p.disputes:
            d = max(p.disputes, key=lambda x: x.created)
    if p is None or d is None:
        raise not_found("Chargeback")
    return p, d


async def get_chargeback(ctx: Context, params: dict[str, Any]) -> Any:
    p, d = await _find(ctx, ctx.path["id"])
    return chargeback(p, d)


async def search_chargebacks(ctx: Context, params: dict[str, Any]) -> Any:
    pays = await ctx.payments(limit=100_000)
    found = sorted(((p, d) for p in pays for d in p.disputes),
                   key=lambda pd: (-pd[1].created, pd[1].id))
    if "payment_id" in params:
        found = [(p, d) for p, d in found if p.id == str(params["payment_id"])]
    limit, offset = params.get("limit", 30), params.get("offset", 0)
    return {"paging": {"total": len(found), "limit": limit, "offset": offset},
            "results": [chargeback(p, d) for p, d in found[offset:offset + limit]]}


async def upload_documentation(ctx: Context, params: dict[str, Any]) -> Any:
    """The seller's documentation goes to review at once; a chargeback already decided,
    under review or past its deadline takes none."""
    p, d = await _find(ctx, ctx.path["id"])
    files = [f for f in params["files"] if f["field"] in ("files[]", "files")]
    if not files:
        raise InvalidRequest("No documentation received: send one or more files[] parts.",
                             param="files", code="1")
    wrong = [f["filename"] or f["content_type"] for f in files
             if f["content_type"] not in FILE_TYPES]
    if wrong:
        raise InvalidRequest(f"Invalid file type ({', '.join(wrong)}): documentation can "
                             "be .jpg, .png or .pdf.", param="files", code="1")
    if sum(f["size"] for f in files) > MAX_UPLOAD:
        raise InvalidRequest("The documentation exceeds 10 MB in all.", param="files",
                             code="1")
    kept = [{"filename": f["filename"], "content_type": f["content_type"]} for f in files]
    command = UpdateDispute(p.id, dispute_id=d.id, evidence={"documentation": kept},
                            submit=True)
    try:
        result = await ctx.execute(command, p, amount=d.amount)
    except NoSuchPayment:
        raise not_found("Chargeback") from None
    except (DisputeError, AmountExceeded):
        status = documentation_status(d)
        raise InvalidRequest(
            f"The chargeback {d.id} takes no documentation: its documentation_status is "
            f"{status}" + (" (its date_documentation_deadline has passed)."
                           if status in ("pending", "not_supplied") else "."),
            code="2030") from None
    assert result.dispute is not None
    return chargeback(result.payment, result.dispute)
