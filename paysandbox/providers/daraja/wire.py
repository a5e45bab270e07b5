"""Daraja's wire format: JSON in, Daraja's responses, STK callback and error envelope
`{"requestId", "errorCode", "errorMessage"}` out. Callbacks are unsigned."""

from __future__ import annotations

import random
import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from paysandbox.contracts import ContractViolation, Violation, check
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Status
from paysandbox.errors import ApiError, InvalidRequest
from paysandbox.providers.base import data_table
from paysandbox.providers.daraja import magic
from paysandbox.webhooks.dispatcher import Signed

EAT_OFFSET = 3 * 3600  # Daraja's timestamps are Nairobi time (UTC+3)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def bad_request(message: str, code: str = "400.002.02", status: int = 400) -> InvalidRequest:
    return InvalidRequest(message, code=code, status=status)


def invalid(field: str, why: str = "") -> InvalidRequest:
    return bad_request(f"Bad Request - Invalid {field}" + (f": {why}" if why else ""))


def error_body(exc: ApiError, request_id: str) -> dict[str, Any]:
    code = exc.code if exc.code and exc.code[:1].isdigit() else _DEFAULT.get(
        exc.status, f"{exc.status}.001.01")
    message = exc.message
    if exc.kind == "route_missing":
        closest = exc.extra.get("closest") or []
        message = ("Resource not found: " + message
                   + (f" Did you mean: {', '.join(closest)}?" if closest else ""))
    return {"requestId": request_id, "errorCode": code, "errorMessage": message}


_DEFAULT = {400: "400.002.02", 401: "404.001.03", 404: "404.001.01", 413: "400.002.05",
            409: "409.001.01", 429: "429.001.01", 500: "500.001.1001", 502: "502.001.01",
            503: "503.001.01", 504: "504.001.01"}


def parse_body(raw: bytes) -> dict[str, Any]:
    """A JSON body -> its parameters (checked against the route's contract after)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Bad Request - Invalid Request Payload: send a JSON object.",
                          code="400.002.05") from None
    if not isinstance(data, dict):
        raise bad_request("Bad Request - Invalid Request Payload: send a JSON object.",
                          code="400.002.05")
    return data


def violation_error(v: Violation) -> InvalidRequest:
    """Daraja's 400 for a request that breaks its contract: "Bad Request - Invalid
    <Field>" with the reason; the OAuth query's grant_type is 400.008.02."""
    if v.path == ("grant_type",) and v.kind != "unknown":  # only the OAuth query has it
        return token_query_error(v)
    return invalid(v.dotted or "Request Payload", v.message)


def token_query_error(v: Violation) -> InvalidRequest:
    field = v.dotted or "query"
    return bad_request(f"Invalid grant type passed: {field} {v.message}; "
                       "use ?grant_type=client_credentials.", code="400.008.02")


def check_token_query(query: dict[str, str]) -> None:
    """The OAuth query (`grant_type=client_credentials`) against its contract; Daraja's
    400.008.02 if it breaks it (served anyway in report mode when it can be)."""
    try:
        check("daraja", "generate_token.request", query)
    except ContractViolation as exc:
        raise token_query_error(exc.violation) from None


def servable_push(body: Mapping[str, Any]) -> None:
    """What even report mode cannot serve past (it records a pattern violation and
    goes on): an amount that is no whole number of shillings, a phone number that is
    no number, a callback URL that cannot be posted to."""
    amount = str(body["Amount"])
    if not amount.isdecimal() or int(amount) < 1:
        raise invalid("Amount", "it must be a whole number of shillings, at least 1")
    if not str(body["PhoneNumber"]).isdecimal():
        raise invalid("PhoneNumber", "it must be the customer's number, 2547XXXXXXXX")
    if not str(body["CallBackURL"]).startswith(("http://", "https://")):
        raise invalid("CallBackURL", "it must be an http(s) URL")


def codes() -> Mapping[str, Mapping[str, str]]:
    return data_table(__name__)


def result_of(p: Payment) -> tuple[str, str] | None:
    """ResultCode and ResultDesc of a finished push; None while it is pending."""
    descs = magic.RESULT_DESCS
    if p.status in (Status.CAPTURED, Status.AUTHORIZED):
        return "0", descs["0"]
    if p.status is Status.EXPIRED:
        return "1037", descs["1037"]
    if p.status is Status.VOIDED:
        return "1032", descs["1032"]
    if p.status is not Status.FAILED:
        return None
    if p.decline_code and p.decline_code in descs:
        return p.decline_code, descs[p.decline_code]
    row = codes()[(p.decline or DeclineReason.GENERIC_DECLINE).value]
    return row["code"], row["desc"]


def nairobi_time(at: float) -> int:
    return int(datetime.fromtimestamp(at + EAT_OFFSET, UTC).strftime("%Y%m%d%H%M%S"))


def stk_callback(p: Payment, at: float) -> dict[str, Any]:
    result = result_of(p)
    assert result is not None
    code, desc = result
    cb: dict[str, Any] = {"MerchantRequestID": p.extra["merchant_request_id"],
                          "CheckoutRequestID": p.id, "ResultCode": int(code),
                          "ResultDesc": desc}
    if code == "0":
        cb["CallbackMetadata"] = {"Item": [
            {"Name": "Amount", "Value": p.amount // 100},
            {"Name": "MpesaReceiptNumber", "Value": p.extra["receipt"]},
            {"Name": "TransactionDate", "Value": nairobi_time(at)},
            {"Name": "PhoneNumber", "Value": int(p.extra["phone"])},
        ]}
    return {"Body": {"stkCallback": cb}}


def query_result(p: Payment) -> dict[str, Any] | None:
    result = result_of(p)
    if result is None:
        return None
    return {"ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": p.extra["merchant_request_id"], "CheckoutRequestID": p.id,
            "ResultCode": result[0], "ResultDesc": result[1]}


_UPPER = string.ascii_uppercase + string.digits


def receipt_number() -> str:
    return "".join(random.choices(_UPPER, k=10))


def merchant_request_id() -> str:
    return f"{random.randrange(10000, 99999)}-{random.randrange(10**7, 10**8)}-1"


def checkout_request_id(now: float) -> str:
    stamp = datetime.fromtimestamp(now + EAT_OFFSET, UTC).strftime("%d%m%Y%H%M%S")
    return f"ws_CO_{stamp}{random.randrange(10**11, 10**12)}"


class DarajaCallbacks:
    """Daraja posts the STK result to the request's CallBackURL, unsigned."""

    # Safaricom does not document callback retries; the simulator retries three times
    # so a receiver that was briefly down still hears of the payment (virtual seconds).
    retry_schedule: Sequence[float] = (60.0, 300.0, 900.0)

    def sign(self, body: bytes, secret: str, timestamp: int) -> Signed:
        return Signed(body, {"Content-Type": "application/json"})

    def accepted(self, status: int, body: bytes) -> bool:
        return 200 <= status < 300
