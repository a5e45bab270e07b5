"""Mollie's wire format without a server: decline reasons, amounts, lifetimes, the error
envelope, the webhook scheme, and what each renders keeping its contract."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest

from paysandbox import contracts
from paysandbox.contracts import ContractViolation
from paysandbox.core import disputes
from paysandbox.core.commands import (
    Complete,
    OpenDispute,
    RefundPayment,
    ResolveDispute,
    Result,
    UpdateDispute,
)
from paysandbox.core.disputes import DisputeReason
from paysandbox.core.outcomes import DeclineReason, Outcome
from paysandbox.core.payments import Payment, attempt, complete_action, expire, refund, void
from paysandbox.errors import RouteMissing, Unauthorized
from paysandbox.providers.mollie import magic, wire
from paysandbox.providers.mollie.dialect import parse_form
from paysandbox.providers.mollie.routes import provider

#: Mollie's documented card failure reasons (Get payment, "Card" details).
FAILURE_REASONS = {
    "authentication_abandoned", "authentication_failed", "authentication_required",
    "authentication_unavailable_acs", "card_declined", "card_expired", "inactive_card",
    "insufficient_funds", "invalid_cvv", "invalid_card_holder_name", "invalid_card_number",
    "invalid_card_type", "possible_fraud", "refused_by_issuer", "unknown_reason"}


def card_payment(reason: DeclineReason | None = None, **extra: object) -> Payment:
    p = Payment(id="tr_test000001", namespace="test_k", provider="mollie", amount=1000,
                currency="EUR", created=1_700_000_000.0, method="creditcard",
                extra={"method": "creditcard", "expiresAt": 1_700_001_800.0, **extra})
    if reason is not None:
        p = attempt(p, Outcome.decline(reason), p.created + 1)
    return p


@pytest.mark.parametrize("reason", list(DeclineReason), ids=str)
def test_every_decline_reason_renders_as_a_documented_failure_reason(reason: DeclineReason):
    details = wire.details(card_payment(reason))
    assert details is not None
    assert details["failureReason"] in FAILURE_REASONS
    assert details["failureMessage"].endswith(".")


def test_codes_yaml_covers_exactly_the_canonical_reasons():
    assert set(wire.codes()) == {r.value for r in DeclineReason}


def test_failed_at_comes_from_when_it_failed():
    body = wire.payment(card_payment(DeclineReason.INSUFFICIENT_FUNDS), "http://h/mollie/v2")
    assert body["status"] == "failed"
    assert body["failedAt"] == "2023-11-14T22:13:21+00:00"
    assert "expiresAt" not in body and "paidAt" not in body


@pytest.mark.parametrize(("amount", "expected"), [
    ({"currency": "EUR", "value": "10.00"}, (1000, "EUR")),
    ({"currency": "eur", "value": "0.01"}, (1, "EUR")),
    ({"currency": "JPY", "value": "1500"}, (1500, "JPY")),
    ({"currency": "ISK", "value": "7"}, (7, "ISK")),
    ({"currency": "GBP", "value": "1000000.99"}, (100000099, "GBP")),
])
def test_amounts_parse_to_minor_units(amount: dict[str, str], expected: tuple[int, str]):
    assert wire.parse_amount(amount) == expected


@pytest.mark.parametrize(("amount", "field"), [
    ({"currency": "EUR", "value": "10"}, "amount.value"),
    ({"currency": "EUR", "value": "10.000"}, "amount.value"),
    ({"currency": "EUR", "value": " 10.00"}, "amount.value"),
    ({"currency": "EUR", "value": "1e3"}, "amount.value"),
    ({"currency": "EUR", "value": "0.00"}, "amount.value"),
    ({"currency": "JPY", "value": "10.00"}, "amount.value"),
    ({"currency": "XTS", "value": "10.00"}, "amount.currency"),
])
def test_bad_amounts_name_their_field(amount: dict[str, str], field: str):
    with pytest.raises(wire.AmountError) as err:
        wire.parse_amount(amount)
    assert err.value.field == field


def test_money_keeps_the_currency_s_decimals():
    assert wire.money(1050, "EUR") == {"value": "10.50", "currency": "EUR"}
    assert wire.money(1050, "JPY") == {"value": "1050", "currency": "JPY"}
    assert wire.money(0, "EUR") == {"value": "0.00", "currency": "EUR"}


def at(y: int, m: int, d: int, hh: int = 12) -> float:
    return datetime(y, m, d, hh, tzinfo=UTC).timestamp()


def test_lifetimes_follow_mollie_s_table():
    start = at(2026, 3, 2)
    assert magic.expires_at("ideal", start) - start == 15 * 60
    assert magic.expires_at("creditcard", start) - start == 30 * 60
    assert magic.expires_at("bancontact", start) - start == 3600
    assert magic.expires_at("paypal", start) - start == 3 * 3600
    assert magic.expires_at(None, start) - start == 15 * 60


def test_a_bank_transfer_ending_on_a_weekend_moves_to_monday():
    weekday = at(2026, 3, 2)  # Monday + 12 days = Saturday 14 March
    assert datetime.fromtimestamp(magic.expires_at("banktransfer", weekday), UTC).date() \
        == date(2026, 3, 16)
    plain = at(2026, 3, 4)  # Wednesday + 12 days = Monday 16 March
    assert magic.expires_at("banktransfer", plain) - plain == 12 * 86400


def test_a_due_date_lasts_until_the_end_of_that_day():
    end = magic.expires_at("banktransfer", at(2026, 3, 2), date(2026, 3, 5))
    assert datetime.fromtimestamp(end, UTC) == datetime(2026, 3, 6, tzinfo=UTC)


def test_the_error_envelope_is_mollie_s():
    body = wire.error_body(wire.MollieError("The amount is invalid", field="amount.value"))
    assert body == {"status": 422, "title": "Unprocessable Entity",
                    "detail": "The amount is invalid", "field": "amount.value",
                    "_links": {"documentation": {
                        "href": "https://docs.mollie.com/overview/handling-errors",
                        "type": "text/html"}}}
    auth = wire.error_body(Unauthorized("Missing authentication"))
    assert auth["title"] == "Unauthorized Request" and "field" not in auth
    missing = wire.error_body(RouteMissing("Unrecognized request URL (GET: /v2/x).",
                                           extra={"closest": ["GET /v2/payments"]}))
    assert "Did you mean: GET /v2/payments?" in missing["detail"]


def test_the_webhook_is_an_unsigned_form_post_of_the_id():
    scheme = wire.MollieWebhooks()
    signed = scheme.sign(wire.webhook_body("tr_abc"), "secret", 0)
    assert signed.body == b"id=tr_abc"
    assert signed.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert scheme.accepted(200, b"") and scheme.accepted(204, b"")
    assert not scheme.accepted(500, b"") and not scheme.accepted(301, b"")


def test_retries_span_mollie_s_26_hours_in_ten_calls():
    schedule = wire.MollieWebhooks.retry_schedule
    assert len(schedule) + 1 == 10
    assert sum(schedule) == 26 * 3600
    assert schedule[:3] == (60.0, 120.0, 240.0)


def test_events_go_to_the_payment_s_webhook_url():
    opened = card_payment(webhookUrl="http://shop/hook")
    waiting = attempt(opened, Outcome.requires_action("redirect"), opened.created)
    assert provider.events_for("test_k", Complete(waiting.id), Result(waiting, None)) == ()
    paid = complete_action(waiting, True, waiting.created + 5)
    [event] = provider.events_for("test_k", Complete(paid.id), Result(paid, waiting))
    assert event.type == "payment.paid"
    assert event.url == "http://shop/hook"
    assert event.body == b"id=tr_test000001"


def test_a_refund_is_an_event_too():
    p = complete_action(attempt(card_payment(), Outcome.requires_action("redirect"), 1.0),
                        True, 2.0)
    [event] = provider.events_for("test_k", RefundPayment(p.id, refund_id="re_1"),
                                  Result(p, p))
    assert event.type == "refund.created"
    assert event.url is None  # no webhookUrl: the endpoint configured for mollie, if any


def test_form_bodies_nest_and_list_like_mollie_s_curl_examples():
    assert parse_form("amount[currency]=EUR&amount[value]=1.00&method[]=ideal&method[]=kbc"
                      "&metadata=%7B%22a%22%3A1%7D") == {
        "amount": {"currency": "EUR", "value": "1.00"}, "method": ["ideal", "kbc"],
        "metadata": {"a": 1}}
    with pytest.raises(wire.MollieError):
        parse_form("amount=1&amount[value]=2")


# -- contracts: what the wire renders keeps contracts_data/mollie/ --------------------------

def form_fields(body: bytes) -> dict[str, str]:
    """A form body as a payment service reads it: each field's single value."""
    return {k: v[0] for k, v in parse_qs(body.decode(), strict_parsing=True).items()}


def webhook_contract(event_type: str) -> Any:
    manifest = contracts.manifest("mollie")
    assert manifest is not None
    return contracts.validator("mollie", manifest.webhooks[event_type])


def test_every_webhook_body_keeps_its_form_contract():
    """Webhooks are form-encoded, so the simulator's test mode skips them: parse each the
    way a receiver does and check it against the schema its event type maps to."""
    opened = card_payment(webhookUrl="http://shop/hook")
    waiting = attempt(opened, Outcome.requires_action("redirect"), opened.created)
    paid = complete_action(waiting, True, waiting.created + 5)
    refunded = refund(paid, "re_test000001", 100, paid.created + 10)
    events = [*provider.events_for("test_k", Complete(paid.id), Result(paid, waiting)),
              *provider.events_for("test_k", RefundPayment(paid.id, refund_id="re_1"),
                                   Result(refunded, paid))]
    opened_cb = disputes.open_dispute(paid, "chb_test01", paid.created + 20,
                                      reason=DisputeReason.FRAUDULENT, amount=500)
    defended = disputes.update_evidence(opened_cb, "chb_test01", paid.created + 21,
                                        submit=True)
    reversed_ = disputes.resolve(defended, "chb_test01", paid.created + 30)

    def step(after: Payment, before: Payment) -> Result:
        d = disputes.find(after, "chb_test01", "read")
        was = next((x for x in before.disputes if x.id == d.id), None)
        return Result(after, before, dispute=d, previous_dispute=was)

    events += [
        *provider.events_for("test_k", OpenDispute(paid.id, dispute_id="chb_test01"),
                             step(opened_cb, paid)),
        *provider.events_for("test_k", UpdateDispute(paid.id, dispute_id="chb_test01"),
                             step(defended, opened_cb)),
        *provider.events_for("test_k", ResolveDispute(paid.id, dispute_id="chb_test01"),
                             step(reversed_, defended))]
    assert [e.type for e in events] == ["payment.paid", "refund.created",
                                        "payment.chargeback", "payment.chargeback_reversed"]
    for event in events:
        fields = form_fields(event.body)
        assert webhook_contract(event.type)(fields) == {"id": "tr_test000001"}
    assert provider.event_types == {"payment.paid", "payment.failed", "payment.canceled",
                                    "payment.expired", "payment.authorized",
                                    "refund.created", "payment.chargeback",
                                    "payment.chargeback_reversed"}


@pytest.mark.parametrize(("body", "field"), [
    (b"id=re_test000001", "id"),  # a refund's id: Mollie posts the payment's
    (b"id=tr_test000001&status=paid", "status"),  # Mollie posts nothing but the id
    (b"payment=tr_test000001", "id"),
])
def test_the_webhook_contract_refuses_what_mollie_never_posts(body: bytes, field: str):
    with pytest.raises(ContractViolation) as err:
        webhook_contract("payment.paid")(form_fields(body))
    assert err.value.violation.path == (field,)


BASE = "http://127.0.0.1:8080/mollie/v2"
CHECKOUT = "http://127.0.0.1:8080/__hosted/mollie/checkout/tok"


def made(method: str | None, end: str, **extra: object) -> Payment:
    """A payment with `method`, taken to `end` the way the checkout and the API do."""
    p = Payment(id="tr_test000002", namespace="test_k", provider="mollie", amount=1050,
                currency="EUR", created=1_700_000_000.0, method=method or "",
                description="Order #12345", metadata={"order_id": "12345"},
                extra={"method": method, "expiresAt": 1_700_000_900.0,
                       "redirectUrl": "https://webshop.example.org/order/12345/",
                       "webhookUrl": None, "metadata": {"order_id": 12345}, **extra})
    if end == "failed":
        return attempt(p, Outcome.decline(DeclineReason.INSUFFICIENT_FUNDS), p.created + 1)
    if end == "authorized":
        return attempt(p, Outcome.approve(), p.created + 1, capture_manual=True)
    opened = attempt(p, Outcome.requires_action("redirect"), p.created)
    if end == "open":
        return opened
    if end == "pending":
        return attempt(p, Outcome.pending(), p.created)
    if end == "canceled":
        return void(opened, p.created + 2)
    if end == "expired":
        return expire(opened, p.created + 900)
    paid = complete_action(opened, True, p.created + 3)
    return refund(paid, "re_test000002", 250, p.created + 4, reason="Damaged") \
        if end == "refunded" else paid


@pytest.mark.parametrize(("method", "end"), [
    (None, "open"), ("ideal", "open"), ("ideal", "paid"), ("ideal", "refunded"),
    ("ideal", "canceled"), ("ideal", "expired"), ("kbc", "paid"), ("paypal", "pending"),
    ("banktransfer", "open"), ("banktransfer", "paid"), ("bancontact", "paid"),
    ("creditcard", "open"), ("creditcard", "paid"), ("creditcard", "failed"),
    ("creditcard", "authorized"),
])
def test_every_payment_the_wire_renders_keeps_its_contract(method: str | None, end: str):
    p = made(method, end, billingEmail="shopper@example.org", locale="nl_NL")
    rendered = wire.payment(p, BASE, checkout=CHECKOUT, refunds=p.refunds)
    assert rendered["status"] == {"refunded": "paid"}.get(end, end)
    contracts.validator("mollie", "objects/payment")(rendered)
    for r in p.refunds:
        contracts.validator("mollie", "objects/refund")(wire.refund(p, r, BASE))


@pytest.mark.parametrize(("change", "field"), [
    ({"status": "refunded"}, "status"),  # Mollie's payments are paid, refunds refunded
    ({"amount": {"value": 10.5, "currency": "EUR"}}, "amount.value"),
    ({"createdAt": "1700000000"}, "createdAt"),
    ({"paidAt": None}, "paidAt"),
    ({"details": {"cardNumber": "6787"}}, "details"),  # a bank account's details
    ({"surprise": True}, "surprise"),
])
def test_the_payment_contract_catches_drift(change: dict[str, Any], field: str):
    rendered = {**wire.payment(made("ideal", "paid"), BASE), **change}
    with pytest.raises(ContractViolation):
        contracts.validator("mollie", "objects/payment")(rendered)
    found = contracts.every_violation("mollie", "objects/payment", rendered)
    assert field in {".".join(map(str, v.path)) for v in found}, found
