"""Daraja's wire pieces against its contracts (paysandbox/contracts_data/daraja/): every result code
renders a callback and a query answer as their schemas say, the callback schema refuses
drift (metadata on a failure, none on a success, a string ResultCode), and the error
envelope is Daraja's."""

from __future__ import annotations

from typing import Any

import pytest

from paysandbox import contracts
from paysandbox.core.outcomes import DeclineReason
from paysandbox.core.payments import Payment, Status
from paysandbox.errors import ApiError, InvalidRequest
from paysandbox.providers.daraja import magic, routes, wire

AT = 1_772_355_600.0  # 2026-03-01 09:00 UTC


def push(status: Status = Status.CAPTURED, **changes: Any) -> Payment:
    fields: dict[str, Any] = {
        "id": wire.checkout_request_id(AT), "namespace": "key", "provider": "daraja",
        "amount": 15000, "currency": "KES", "created": AT, "status": status,
        "method": "mpesa", "extra": {"merchant_request_id": wire.merchant_request_id(),
                                     "phone": "254708374149",
                                     "receipt": wire.receipt_number()},
        **changes}
    return Payment(**fields)


def problems(name: str, body: Any) -> list[contracts.Violation]:
    return contracts.every_violation("daraja", name, body)


FINISHED = [
    push(Status.CAPTURED), push(Status.EXPIRED), push(Status.VOIDED),
    *(push(Status.FAILED, decline=reason) for reason in DeclineReason),
    *(push(Status.FAILED, decline_code=code) for code in magic.RESULT_DESCS if code != "0"),
]


@pytest.mark.parametrize("p", FINISHED, ids=lambda p: f"{p.status}-{p.decline}-{p.decline_code}")
def test_every_result_renders_a_callback_and_a_query_answer_as_the_contract_says(
        p: Payment) -> None:
    callback = wire.stk_callback(p, AT + 3)
    assert problems("webhooks/stk_callback", callback) == []
    assert problems("objects/stkquery_response", wire.query_result(p)) == []
    paid = callback["Body"]["stkCallback"]["ResultCode"] == 0
    assert ("CallbackMetadata" in callback["Body"]["stkCallback"]) is paid


def test_a_pending_push_has_no_result() -> None:
    assert wire.query_result(push(Status.PENDING)) is None


def fields(found: list[contracts.Violation]) -> set[str]:
    return {".".join(map(str, v.path)) for v in found}


def test_the_callback_contract_catches_drift() -> None:
    paid = wire.stk_callback(push(), AT)
    failed = wire.stk_callback(push(Status.EXPIRED), AT)
    cb, metadata = paid["Body"]["stkCallback"], paid["Body"]["stkCallback"]["CallbackMetadata"]
    without = {k: v for k, v in cb.items() if k != "CallbackMetadata"}
    assert problems("webhooks/stk_callback", {"Body": {"stkCallback": without}})
    assert problems("webhooks/stk_callback", {"Body": {"stkCallback": {
        **failed["Body"]["stkCallback"], "CallbackMetadata": metadata}}})
    assert "Body.stkCallback.ResultCode" in fields(problems(
        "webhooks/stk_callback", {"Body": {"stkCallback": {**cb, "ResultCode": "0"}}}))
    wrong_receipt = [{**i, "Value": 42} if i["Name"] == "MpesaReceiptNumber" else i
                     for i in metadata["Item"]]
    assert "Body.stkCallback.CallbackMetadata.Item.1.Value" in fields(problems(
        "webhooks/stk_callback",
        {"Body": {"stkCallback": {**cb, "CallbackMetadata": {"Item": wrong_receipt}}}}))
    no_amount = [i for i in metadata["Item"] if i["Name"] != "Amount"]
    assert problems("webhooks/stk_callback", {"Body": {"stkCallback": {
        **cb, "CallbackMetadata": {"Item": [*no_amount, {"Name": "Balance"}]}}}})


def test_the_documented_balance_item_without_a_value_is_accepted() -> None:
    paid = wire.stk_callback(push(), AT)
    items = paid["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    items.insert(2, {"Name": "Balance"})
    assert problems("webhooks/stk_callback", paid) == []


@pytest.mark.parametrize("error", [
    wire.invalid("Amount", "must be greater than or equal to 1"),
    wire.bad_request("Invalid grant type passed.", code="400.008.02"),
    ApiError("The transaction is being processed", code="500.001.1001", status=500),
    ApiError("Too many requests", code="rate_limit", status=429),
    ApiError("boom", status=503),
], ids=lambda e: str(e.status))
def test_the_error_envelope_is_as_the_contract_says(error: ApiError) -> None:
    assert problems("objects/error", wire.error_body(error, "12345-abcdef0123-1")) == []


def test_the_error_contract_catches_drift() -> None:
    body = wire.error_body(wire.invalid("Amount"), "12345-abcdef0123-1")
    assert problems("objects/error", {**body, "errorCode": "bad_request"})
    assert problems("objects/error", {**body, "error": "x"})


def test_event_types_are_what_events_for_emits() -> None:
    assert routes.provider.event_types == {routes.STK_CALLBACK} == {"stk.callback"}


@pytest.mark.parametrize("query", [{}, {"grant_type": "password"}])
def test_a_wrong_grant_type_is_400_008_02(query: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        wire.check_token_query(query)
    assert wire.error_body(caught.value, "r")["errorCode"] == "400.008.02"
    assert "grant_type" in caught.value.message


def test_the_token_query_contract_accepts_client_credentials() -> None:
    wire.check_token_query({"grant_type": "client_credentials"})


@pytest.mark.parametrize(("change", "field"), [
    ({"Amount": "ten"}, "Amount"), ({"Amount": "0"}, "Amount"),
    ({"PhoneNumber": "07O8374149"}, "PhoneNumber"), ({"CallBackURL": "ftp://x"}, "CallBackURL"),
])
def test_what_report_mode_cannot_serve_is_still_refused(change: dict[str, Any],
                                                         field: str) -> None:
    body = {"Amount": 10, "PhoneNumber": "254708374149", "CallBackURL": "https://x/cb",
            **change}
    with pytest.raises(InvalidRequest, match=f"Bad Request - Invalid {field}"):
        wire.servable_push(body)


def test_a_servable_push_passes() -> None:
    wire.servable_push({"Amount": "10", "PhoneNumber": 254708374149,
                        "CallBackURL": "http://127.0.0.1/cb"})
