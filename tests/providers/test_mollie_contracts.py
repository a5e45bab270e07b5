"""Mollie's contracts over HTTP (contracts_data/mollie/): the official SDK driven through every
operation breaks none of them, and each kind of wrong request is refused in Mollie's
envelope naming the field, and counted under that operation and field in
`/__admin/contracts`. In report mode what can be served is served and still recorded."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from mollie.api.client import Client
from mollie.api.error import UnprocessableEntityError

from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers import mollie_support as support
from tests.providers.mollie_support import REDIRECT

GOOD: dict[str, Any] = {"amount": {"currency": "EUR", "value": "10.00"},
                        "description": "Order #1", "redirectUrl": REDIRECT, "method": "ideal"}


def test_the_sdk_through_every_operation_breaks_no_contract(
        payment_simulator: SimulatorServer, hook_server: WebhookReceiver) -> None:
    mollie: Client = support.client(payment_simulator)
    transfer = support.create(mollie, method="banktransfer", webhookUrl=hook_server.url,
                              billingEmail="shopper@example.org", locale="nl_NL",
                              metadata={"order_id": 12345})
    mollie.payments.update(transfer.id, {"description": "Order #12346",
                                         "metadata": {"order_id": 12346}})
    mollie.payments.delete(transfer.id)  # cancel: open bank transfers can be

    ideal = support.create(mollie, webhookUrl=hook_server.url,
                           issuer="ideal_INGBNL2A")
    payment_simulator.client.complete(ideal.id, "success")
    paid = mollie.payments.get(ideal.id)
    refund = paid.refunds.create({"amount": {"currency": "EUR", "value": "2.50"},
                                  "description": "Damaged", "metadata": {"rma": 7}})
    paid.refunds.get(refund.id)
    assert [r.id for r in paid.refunds.list(limit=5)] == [refund.id]
    assert mollie.payments.get(ideal.id, embed="refunds").status == "paid"
    assert {p.id for p in mollie.payments.list(limit=10)} == {transfer.id, ideal.id}
    with pytest.raises(UnprocessableEntityError):  # refused, in the error envelope
        paid.refunds.delete(refund.id)

    # payment.canceled, payment.paid and refund.created: each event type has a contract
    assert hook_server.wait_for(lambda got: len(got) >= 3)
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


# (id, operation, HTTP method, path below /v2 ("{id}": an open payment), body or None,
#  status, field, kind)
WRONG: list[tuple[str, str, str, str, Any, int, str, str]] = [
    ("missing-required-field", "create_payment", "POST", "/payments",
     {k: v for k, v in GOOD.items() if k != "description"}, 422, "description", "missing"),
    ("wrong-type", "create_payment", "POST", "/payments", {**GOOD, "description": 42},
     422, "description", "type"),
    ("unknown-enum-value", "create_payment", "POST", "/payments",
     {**GOOD, "locale": "xx_XX"}, 422, "locale", "enum"),
    ("amount-as-string", "create_payment", "POST", "/payments",
     {**GOOD, "amount": "10.00"}, 422, "amount", "type"),
    ("amount-value-as-number", "create_payment", "POST", "/payments",
     {**GOOD, "amount": {"currency": "EUR", "value": 10.0}}, 422, "amount.value", "type"),
    ("unknown-field", "create_payment", "POST", "/payments", {**GOOD, "testmode": True},
     422, "testmode", "unknown"),
    ("update-wrong-type", "update_payment", "PATCH", "/payments/{id}",
     {"redirectUrl": 7}, 422, "redirectUrl", "type"),
    ("refund-amount-as-string", "create_refund", "POST", "/payments/{id}/refunds",
     {"amount": "1.00"}, 422, "amount", "type"),
    ("refund-missing-currency", "create_refund", "POST", "/payments/{id}/refunds",
     {"amount": {"value": "1.00"}}, 422, "amount.currency", "missing"),
    ("limit-out-of-range", "list_payments", "GET", "/payments?limit=251", None, 400,
     "limit", "range"),
    ("unknown-query-parameter", "get_payment", "GET", "/payments/{id}?expand=refunds", None,
     400, "expand", "unknown"),
]


@pytest.mark.parametrize(("operation", "method", "path", "body", "status", "field", "kind"),
                         [c[1:] for c in WRONG], ids=[c[0] for c in WRONG])
def test_wrong_requests_are_caught_naming_the_field(
        payment_simulator: SimulatorServer, operation: str, method: str, path: str,
        body: Any, status: int, field: str, kind: str) -> None:
    key = support.new_key()
    p = support.create(support.client(payment_simulator, key))
    resp = requests.request(method, f"{payment_simulator.url('mollie')}/v2"
                            + path.replace("{id}", p.id), json=body, timeout=10,
                            headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/hal+json")
    envelope = resp.json()
    assert (envelope["status"], envelope["field"]) == (status, field), envelope
    assert f"'{field}'" in envelope["detail"] or f'"{field}"' in envelope["detail"]
    groups = payment_simulator.admin("GET", "/contracts")["groups"]
    assert [(g["provider"], g["operation"], g["source"], g["field"], g["kind"])
            for g in groups] == [("mollie", operation, "request", field, kind)]


def test_report_mode_serves_what_it_can_and_records_every_violation(
        lenient: SimulatorServer) -> None:
    api, key = f"{lenient.url('mollie')}/v2", support.new_key()
    auth = {"Authorization": f"Bearer {key}"}
    served = requests.post(f"{api}/payments", json={**GOOD, "colour": "red"}, headers=auth,
                           timeout=10)
    assert served.status_code == 201, served.text
    assert served.json()["status"] == "open"
    # what cannot be served is still refused, in Mollie's envelope
    refused = requests.post(f"{api}/payments", json={**GOOD, "amount": "10.00"},
                            headers=auth, timeout=10)
    assert (refused.status_code, refused.json()["field"]) == (422, "amount")
    report = lenient.admin("GET", "/contracts")
    assert report["mode"] == "report"
    assert {(g["operation"], g["field"], g["kind"], g["count"]) for g in report["groups"]} \
        == {("create_payment", "colour", "unknown", 1), ("create_payment", "amount", "type", 1)}
