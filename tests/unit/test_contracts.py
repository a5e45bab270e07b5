"""Contracts: every violation named by field, strict and report modes, responses checked
against their operation's schema, and the grouped report in text, JSON and JUnit."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from paysandbox import contracts
from paysandbox.contract_report import (
    ContractLog,
    groups_from_journal,
    render_junit,
    render_text,
    report_json,
)
from paysandbox.contracts import REPORT, STRICT, ContractViolation, Observed, check

CREATE = "create_payment_intent.request"


def kinds(found: list[contracts.Violation]) -> list[tuple[str, str]]:
    return sorted((v.kind, ".".join(map(str, v.path))) for v in found)


def test_every_violation_names_each_field() -> None:
    found = contracts.every_violation("stripe", CREATE, {
        "amount": "ten", "capture_method": "later", "colour": "red",
        "metadata": {"k": 5}})
    assert kinds(found) == [
        ("enum", "capture_method"), ("missing", "currency"), ("type", "amount"),
        ("type", "metadata.k"), ("unknown", "colour")]


def test_several_missing_fields_are_each_reported_once() -> None:
    found = contracts.every_violation("stripe", "create_refund.request", [])
    assert kinds(found) == [("type", "")]
    found = contracts.every_violation("stripe", CREATE, {})
    assert kinds(found) == [("missing", "amount"), ("missing", "currency")]


def test_strict_raises_the_first_violation_and_records_all() -> None:
    seen = Observed(STRICT)
    token = contracts.OBSERVED.set(seen)
    try:
        with pytest.raises(ContractViolation):
            check("stripe", CREATE, {"amount": 100, "currency": "usd", "colour": "red"})
    finally:
        contracts.OBSERVED.reset(token)
    assert [f.field for f in seen.findings] == ["colour"]
    assert seen.findings[0].to_json() == {
        "provider": "stripe", "contract": CREATE, "source": "request", "field": "colour",
        "kind": "unknown", "message": "Received unknown parameter: colour", "value": "colour"}


@pytest.mark.parametrize(("body", "served"), [
    ({"amount": 100, "currency": "usd", "colour": "red"}, True),  # unknown: served
    ({"amount": 100, "currency": "usd", "capture_method": "later"}, True),  # enum: served
    ({"amount": 100}, False),  # a required field missing: nothing to serve
    ({"amount": "ten", "currency": "usd"}, False),  # wrong type
    ({"amount": -5, "currency": "usd"}, False),  # a negative amount
])
def test_report_mode_serves_what_can_be_served(body: dict[str, object], served: bool) -> None:
    seen = Observed(REPORT)
    token = contracts.OBSERVED.set(seen)
    try:
        if served:
            assert check("stripe", CREATE, body) == body
        else:
            with pytest.raises(ContractViolation):
                check("stripe", CREATE, body)
    finally:
        contracts.OBSERVED.reset(token)
    assert seen.findings, "the violation is recorded either way"


def test_a_clean_request_records_nothing() -> None:
    seen = Observed(REPORT)
    token = contracts.OBSERVED.set(seen)
    try:
        check("stripe", CREATE, {"amount": 100, "currency": "usd"})
    finally:
        contracts.OBSERVED.reset(token)
    assert seen.findings == []


def test_the_manifest_maps_routes_to_schemas() -> None:
    m = contracts.manifest("stripe")
    assert m is not None
    op = m.operations["create_payment_intent"]
    assert (op.method, op.path, op.request, op.response) == (
        "POST", "/v1/payment_intents", CREATE, "objects/payment_intent")
    assert op.reference.startswith("https://docs.stripe.com/api/")
    assert m.webhooks["payment_intent.succeeded"] == "webhooks/payment_intent_event"
    assert contracts.manifest("no_such_provider") is None


def test_responses_are_checked_against_their_operation_and_refs_resolve() -> None:
    good = (b'{"object": "list", "data": [], "has_more": false, '
            b'"url": "/v1/payment_intents"}')
    assert contracts.response_problems("stripe", "list_payment_intents", 200, good) == []
    bad = b'{"object": "list", "data": [{"id": "pi_1"}], "has_more": false, "url": "/v1/x"}'
    found = contracts.response_problems("stripe", "list_payment_intents", 200, bad)
    fields = {f.field for f in found}
    assert "url" in fields and "data.0.amount" in fields and "data.0.status" in fields
    assert all(f.source == "response" for f in found)


def test_error_responses_use_the_error_schema() -> None:
    ok = b'{"error": {"type": "invalid_request_error", "message": "No such thing"}}'
    assert contracts.response_problems("stripe", "create_refund", 404, ok) == []
    bad = b'{"error": {"type": "oops", "message": "x"}}'
    (found,) = contracts.response_problems("stripe", "create_refund", 400, bad)
    assert (found.field, found.violation.kind) == ("error.type", "enum")


def test_a_route_missing_from_the_manifest_is_a_problem() -> None:
    (found,) = contracts.response_problems("stripe", "frobnicate", 200, b"{}")
    assert "no contract for operation 'frobnicate'" in found.violation.message


def test_webhooks_are_checked_by_event_type() -> None:
    (found,) = contracts.webhook_problems("stripe", "payment_intent.teleported", b"{}")
    assert found.violation.kind == "missing"
    found_all = contracts.webhook_problems("stripe", "refund.created", b'{"id": "evt_1"}')
    assert {f.field for f in found_all} >= {"object", "data", "type"}


def test_not_json_is_a_problem() -> None:
    (found,) = contracts.response_problems("stripe", "create_refund", 200, b"<html>")
    assert found.violation.message == "is not JSON"


def _finding(field: str, kind: str = "unknown") -> contracts.Finding:
    return contracts.Finding("stripe", CREATE, "request",
                             contracts.Violation(kind, (field,), f"bad {field}"))


def test_the_log_groups_and_counts_with_the_first_example() -> None:
    log = ContractLog()
    log.add([_finding("colour")], operation="create_payment_intent",
            example={"request_id": "r1", "method": "POST", "path": "/stripe/v1/payment_intents"})
    log.add([_finding("colour"), _finding("amount", "type")],
            operation="create_payment_intent", example={"request_id": "r2"})
    report = log.report()
    assert report["total"] == 3
    colour = next(g for g in report["groups"] if g["field"] == "colour")
    assert (colour["count"], colour["first"]["request_id"]) == (2, "r1")
    text = render_text(log.groups())
    assert "3 contract violation(s) in 2 group(s)" in text
    assert "colour" in text and "x2" in text and "POST /stripe/v1/payment_intents" in text
    log.clear()
    assert log.report() == {"total": 0, "groups": []}
    assert render_text(log.groups()) == "No contract violations."


def test_junit_has_one_failing_case_per_operation() -> None:
    log = ContractLog()
    log.add([_finding("colour"), _finding("size")], operation="create_payment_intent",
            example={})
    log.add([_finding("x")], operation="create_refund", example={})
    root = ElementTree.fromstring(render_junit(log.groups()))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "contracts.stripe"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"create_payment_intent", "create_refund"}
    failure = cases["create_payment_intent"].find("failure")
    assert failure is not None and "colour" in (failure.text or "")


def test_the_report_can_be_rebuilt_from_a_saved_journal() -> None:
    entry = {"request_id": "abc", "method": "POST", "path": "/stripe/v1/refunds",
             "operation": "create_refund",
             "contract_violations": [_finding("colour").to_json()]}
    groups = groups_from_journal([entry, entry, {"request_id": "clean"}])
    assert report_json(groups)["total"] == 2
    assert groups[0].operation == "create_refund"
    assert groups[0].first["request_id"] == "abc"


def test_off_checks_nothing() -> None:
    seen = Observed(contracts.OFF)
    token = contracts.OBSERVED.set(seen)
    try:
        body = {"amount": "ten"}
        assert check("stripe", CREATE, body) is body
    finally:
        contracts.OBSERVED.reset(token)
    assert seen.findings == []


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("reference", "4111 1111 1111 1111", "411111******1111"),
    ("reference", 4111111111111111, "411111******1111"),
    ("metadata.note", "key sk_test_51Habc rotated", "[redacted]"),
    ("description", "Bearer abc.def", "[redacted]"),
    ("description", "TEST-1234567890123456-010203-abc", "[redacted]"),
    ("paymentMethod.cvc", 737, "[redacted]"),
    ("card.number", "abc", "[redacted]"),
    ("api_key", "anything", "[redacted]"),
    ("webhookUrl", "https://shop:pa55@hooks.example/x", "https://***@hooks.example/x"),
    ("currency", "EURO", "EURO"), ("amount", -5, -5), ("capture", True, True),
    ("description", "Order 12345", "Order 12345"),
])
def test_violating_values_never_show_card_data_or_secrets(field: str, value: object,
                                                          shown: object) -> None:
    assert contracts.shown_value(field, value) == shown
