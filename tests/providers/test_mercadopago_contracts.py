"""Mercado Pago's contracts (paysandbox/contracts_data/mercadopago/): the official SDK through every
operation breaks none of them, and a request that breaks one gets Mercado Pago's own 400
naming the field, which `/__admin/contracts` groups under the same field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mercadopago
import pytest

from paysandbox.testing.server import SimulatorServer
from tests.providers.mercadopago_sdk import ok, sdk

PAYER = {"email": "buyer@testuser.com", "first_name": "Ana", "last_name": "Silva",
         "identification": {"type": "CPF", "number": "19119119100"}}
CARD = {"card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123", "cardholder": {
            "name": "APRO", "identification": {"type": "CPF", "number": "12345678909"}}}
PIX = {"transaction_amount": 10, "payment_method_id": "pix", "payer": PAYER}
UNKNOWN = "12345678901"  # a payment id: the body is checked before the payment is looked up




def test_the_sdk_through_every_operation_keeps_every_contract(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer) -> None:
    token = ok(mp.card_token().create(CARD), 201)
    assert ok(mp.card_token().get(token["id"]))["id"] == token["id"]
    p = ok(mp.payment().create({
        "transaction_amount": 100.5, "token": token["id"], "installments": 1,
        "payment_method_id": "master", "issuer_id": 24, "capture": False,
        "external_reference": "order-7", "metadata": {"order": 7}, "payer": PAYER}), 201)
    assert p["status"] == "authorized" and p["issuer_id"] == "24"
    assert ok(mp.payment().capture(p["id"], 90))["status"] == "approved"
    assert ok(mp.payment().get(p["id"]))["captured"] is True
    refund = ok(mp.refund().create(p["id"], {"amount": 40.25}), 201)
    assert [r["id"] for r in ok(mp.refund().list_all(p["id"]))] == [refund["id"]]
    assert ok(mp.refund().get(p["id"], refund["id"]))["amount"] == 40.25
    pending = ok(mp.payment().create(PIX), 201)
    assert ok(mp.payment().update(pending["id"], {"status": "cancelled"}))["status"] == \
        "cancelled"
    boleto = ok(mp.payment().create({**PIX, "payment_method_id": "bolbradesco"}), 201)
    assert boleto["barcode"]["content"]
    found = ok(mp.payment().search({"external_reference": "order-7", "sort": "id",
                                    "criteria": "asc", "limit": 10}))
    assert [r["id"] for r in found["results"]] == [p["id"]]

    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


def create_payment(**changes: Any) -> Callable[[mercadopago.SDK], dict[str, Any]]:
    def call(mp: mercadopago.SDK) -> dict[str, Any]:
        body = {**PIX, **changes}
        result: dict[str, Any] = mp.payment().create(
            {k: v for k, v in body.items() if v is not None})
        return result
    return call


# (name, the SDK call, cause code, words in the message, operation, field, kind)
WRONG: list[tuple[str, Callable[[mercadopago.SDK], dict[str, Any]], int, str, str, str,
                  str]] = [
    ("missing payment_method_id", create_payment(payment_method_id=None), 1,
     "payment_method_id attribute can't be null", "create_payment", "payment_method_id",
     "missing"),
    ("missing payer.email", create_payment(payer={"first_name": "Ana"}), 1,
     "payer.email attribute can't be null", "create_payment", "payer.email", "missing"),
    ("installments of the wrong type", create_payment(installments="3"), 1,
     "installments must be an integer", "create_payment", "installments", "type"),
    ("capture of the wrong type", create_payment(capture="yes"), 1,
     "capture must be a boolean", "create_payment", "capture", "type"),
    ("unknown currency_id", create_payment(currency_id="XYZ"), 1,
     "Invalid currency_id: must be one of", "create_payment", "currency_id", "enum"),
    ("unknown payer.entity_type", create_payment(payer={**PAYER, "entity_type": "company"}),
     1, "Invalid payer.entity_type", "create_payment", "payer.entity_type", "enum"),
    ("transaction_amount as a string", create_payment(transaction_amount="10.50"), 4037,
     "Invalid value for transaction_amount", "create_payment", "transaction_amount",
     "type"),
    ("unknown update status",
     lambda mp: mp.payment().update(UNKNOWN, {"status": "approved"}), 1,
     "Invalid status: must be one of cancelled", "update_payment", "status", "enum"),
    ("capture amount as a string",
     lambda mp: mp.payment().update(UNKNOWN, {"capture": True, "transaction_amount": "5"}),
     4037, "Invalid value for transaction_amount", "update_payment", "transaction_amount",
     "type"),
    ("refund amount as a string",
     lambda mp: mp.refund().create(UNKNOWN, {"amount": "5.00"}), 4037,
     "Invalid value for amount", "create_refund", "amount", "type"),
    ("unknown search sort", lambda mp: mp.payment().search({"sort": "amount"}), 1,
     "Invalid sort: must be one of", "search_payments", "sort", "enum"),
    ("card token without expiration_year",
     lambda mp: mp.card_token().create({k: v for k, v in CARD.items()
                                        if k != "expiration_year"}), 1,
     "expiration_year attribute can't be null", "create_card_token", "expiration_year",
     "missing"),
    ("card number of the wrong type",
     lambda mp: mp.card_token().create({**CARD, "card_number": 5031433215406351}), 1,
     "card_number must be a string", "create_card_token", "card_number", "type"),
]


@pytest.mark.parametrize(("name", "call", "cause", "words", "operation", "field", "kind"),
                         WRONG, ids=[w[0] for w in WRONG])
def test_a_request_breaking_its_contract_is_named_in_the_envelope_and_the_report(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer, name: str,
        call: Callable[[mercadopago.SDK], dict[str, Any]], cause: int, words: str,
        operation: str, field: str, kind: str) -> None:
    result = call(mp)

    assert result["status"] == 400, result
    body = result["response"]
    assert (body["error"], body["status"], body["cause"][0]["code"]) == \
        ("bad_request", 400, cause)
    assert words in body["message"], body["message"]
    assert field in body["cause"][0]["description"]
    report = payment_simulator.admin("GET", "/contracts")
    assert [(g["provider"], g["operation"], g["source"], g["field"], g["kind"])
            for g in report["groups"]] == [("mercadopago", operation, "request", field, kind)]
    assert report["total"] == 1


def test_report_mode_serves_what_it_can_and_records_each_violation(
        lenient: SimulatorServer) -> None:
    mp = sdk(lenient.url("mercadopago"))

    served = mp.payment().search({"sort": "amount", "criteria": "sideways"})
    assert served["status"] == 200 and served["response"]["results"] == []
    cancelled = ok(mp.payment().create(PIX), 201)
    assert ok(mp.payment().update(cancelled["id"], {"status": "cancelled", "colour": "red"}))[
        "status"] == "cancelled"
    refused = mp.payment().create({**PIX, "transaction_amount": "10"})  # cannot be served
    assert refused["status"] == 400
    assert refused["response"]["cause"][0]["code"] == 4037

    report = lenient.admin("GET", "/contracts")
    assert report["mode"] == "report"
    assert sorted((g["operation"], g["field"], g["kind"]) for g in report["groups"]) == [
        ("create_payment", "transaction_amount", "type"),
        ("search_payments", "criteria", "enum"),
        ("search_payments", "sort", "enum"),
        ("update_payment", "colour", "unknown"),
    ]
