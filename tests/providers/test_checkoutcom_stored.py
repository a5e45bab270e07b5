"""Checkout.com stored credentials through the official SDK: customers, card
instruments, a customer-initiated payment that saves the card, and the
merchant-initiated payments made with it later (by instrument, by customer, quoting a
previous payment or another acquirer's network transaction id)."""

from __future__ import annotations

from typing import Any

import mercadopago
import pytest
import stripe
from checkout_sdk.common.enums import InstrumentType, PaymentSourceType
from checkout_sdk.customers.customers import CustomerRequest
from checkout_sdk.exception import CheckoutApiException
from checkout_sdk.instruments.instruments import (
    CreateInstrumentRequest,
    UpdateCardInstrumentRequest,
)
from checkout_sdk.payments.payments import (
    PaymentRequest,
    PaymentRequestIdSource,
    PaymentRequestSource,
    PaymentType,
    RequestCustomerSource,
)

from paysandbox.testing.server import SimulatorServer
from tests.providers.checkoutcom_support import card_payment, new_key, sdk
from tests.providers.mercadopago_sdk import sdk as mercadopago_sdk
from tests.providers.stripe_support import first_payment_nti

#: A 3DS test card whose issuer always challenges ("3D Secure test cards").
CHALLENGE_CARD = "4010061700000021"


@pytest.fixture
def api(payment_simulator: SimulatorServer) -> Any:
    return sdk(payment_simulator.url("checkoutcom"))


def _customer(email: str, name: str | None = None, **extra: Any) -> CustomerRequest:
    request = CustomerRequest()
    request.email = email
    if name is not None:
        request.name = name
    for key, value in extra.items():
        setattr(request, key, value)
    return request


def _mit(source: PaymentRequestSource, amount: int = 1500,
         payment_type: PaymentType = PaymentType.RECURRING,
         previous: str | None = None) -> PaymentRequest:
    request = PaymentRequest()
    request.source = source
    request.amount = amount
    request.currency = "GBP"
    request.payment_type = payment_type
    request.merchant_initiated = True
    if previous is not None:
        request.previous_payment_id = previous
    return request


def _by_id(src_id: str) -> PaymentRequestIdSource:
    source = PaymentRequestIdSource()
    source.id = src_id
    return source


def _saving(api: Any, number: str = "4242424242424242", email: str = "ana@example.com",
            ) -> Any:
    """A customer-initiated first payment of a subscription, saving the card."""
    paid = api.payments.request_payment(card_payment(
        number, 1500, customer={"email": email, "name": "Ana Lima"},
        payment_type=PaymentType.RECURRING))
    assert paid.approved
    return paid


def _refused(call: Any) -> CheckoutApiException:
    with pytest.raises(CheckoutApiException) as caught:
        call()
    return caught.value


def test_customer_created_read_by_id_and_email_updated_and_deleted(api: Any) -> None:
    made = api.customers.create(_customer("jo@example.com", "Jo", metadata={"tier": "gold"}))
    assert made.http_metadata.status_code == 201 and made.id.startswith("cus_")
    got = api.customers.get(made.id)
    assert (got.email, got.name, got.metadata.tier, got.instruments) == \
        ("jo@example.com", "Jo", "gold", [])
    assert api.customers.get("jo@example.com").id == made.id
    assert _refused(lambda: api.customers.create(_customer("jo@example.com"))) \
        .http_metadata.status_code == 409

    api.customers.update(made.id, _customer("jo.new@example.com", "Joanna"))
    got = api.customers.get(made.id)
    assert (got.email, got.name) == ("jo.new@example.com", "Joanna")
    assert _refused(lambda: api.customers.get("jo@example.com")).http_metadata \
        .status_code == 404

    assert api.customers.delete(made.id).http_metadata.status_code == 204
    assert _refused(lambda: api.customers.get(made.id)).http_metadata.status_code == 404


def test_card_instrument_linked_updated_and_deleted(api: Any) -> None:
    customer = api.customers.create(_customer("kim@example.com")).id
    request = CreateInstrumentRequest(InstrumentType.CARD)
    request.number = "4242424242424242"
    request.expiry_month = 6
    request.expiry_year = 2031
    request.name = "Kim Lee"
    request.customer = {"id": customer, "default": True}
    made = api.instruments.create(request)
    assert made.http_metadata.status_code == 201
    assert made.id.startswith("src_") and (made.last4, made.scheme) == ("4242", "Visa")
    assert (made.customer.id, made.customer.default) == (customer, True)
    assert api.customers.get(customer).default == made.id

    update = UpdateCardInstrumentRequest()
    update.expiry_year = 2033
    assert api.instruments.update(made.id, update).fingerprint == made.fingerprint
    assert api.instruments.get(made.id).expiry_year == 2033

    assert api.instruments.delete(made.id).http_metadata.status_code == 204
    assert _refused(lambda: api.instruments.get(made.id)).http_metadata.status_code == 404
    after = api.customers.get(customer)
    assert after.instruments == [] and getattr(after, "default", None) is None


def test_a_token_instrument_needs_the_tokens_api(api: Any) -> None:
    request = CreateInstrumentRequest(InstrumentType.TOKEN)
    request.token = "tok_ubfj2q76miwundwlk72vxt2i7q"
    refused = _refused(lambda: api.instruments.create(request))
    assert (refused.http_metadata.status_code, refused.error_details) == (422, ["token_invalid"])


def test_a_saved_card_pays_a_renewal_without_the_customer(api: Any) -> None:
    first = _saving(api)
    assert first.source.id.startswith("src_")
    assert len(first.scheme_id) == 15 and first.scheme_id.isdigit()
    customer = api.customers.get("ana@example.com")
    assert customer.id == first.customer.id and customer.default == first.source.id

    renewal = api.payments.request_payment(_mit(_by_id(first.source.id)))
    assert (renewal.approved, renewal.response_code) == (True, "10000")
    assert renewal.source.id == first.source.id and renewal.source.last4 == "4242"
    assert len(renewal.scheme_id) == 15 and renewal.scheme_id != first.scheme_id
    got = api.payments.get_payment_details(renewal.id)
    assert (got.payment_type, got.customer.id) == ("Recurring", customer.id)


def test_the_customer_source_pays_with_the_default_instrument(api: Any) -> None:
    first = _saving(api, "5436031030606378", "eva@example.com")
    source = RequestCustomerSource()
    source.id = first.customer.id
    paid = api.payments.request_payment(_mit(source, payment_type=PaymentType.UNSCHEDULED))
    assert paid.approved and paid.source.id == first.source.id
    assert paid.source.scheme == "Mastercard" and paid.customer.id == first.customer.id


def test_an_unknown_instrument_or_customer_is_refused(api: Any) -> None:
    refused = _refused(lambda: api.payments.request_payment(
        _mit(_by_id("src_aaaaaaaaaaaaaaaaaaaaaaaaaa"))))
    assert (refused.http_metadata.status_code, refused.error_details) == \
        (422, ["payment_source_id_invalid"])
    source = RequestCustomerSource()
    source.id = "cus_aaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert _refused(lambda: api.payments.request_payment(_mit(source))).error_details == \
        ["customer_not_found"]
    bare = PaymentRequestSource(PaymentSourceType.CUSTOMER)
    assert _refused(lambda: api.payments.request_payment(_mit(bare))).error_details == \
        ["customer_id_required"]


def test_previous_payment_id_of_this_key_or_another_acquirers_id(
        payment_simulator: SimulatorServer, client: stripe.StripeClient, api: Any) -> None:
    first = _saving(api)
    ours = api.payments.request_payment(
        _mit(_by_id(first.source.id), previous=first.id))
    assert ours.approved
    assert payment_simulator.admin("GET", f"/payments/{ours.id}")["credential"][
        "original_network_transaction_id"] == first.scheme_id

    # A renewal that failed over from Stripe quotes the id the card got there.
    foreign = first_payment_nti(client, "4242424242424242")
    card = card_payment("4242424242424242", 1500)
    card.merchant_initiated, card.payment_type = True, PaymentType.RECURRING
    card.previous_payment_id = foreign
    renewed = api.payments.request_payment(card)
    assert renewed.approved
    credential = payment_simulator.admin("GET", f"/payments/{renewed.id}")["credential"]
    assert (credential["initiator"], credential["mit_type"],
            credential["original_network_transaction_id"]) == \
        ("merchant", "recurring", foreign)

    # Another card's id, or one no scheme issued, is refused.
    for quoted in (first_payment_nti(client, "5555555555554444"), "123456789012345"):
        card.previous_payment_id = quoted
        refused = api.payments.request_payment(card)
        assert (refused.approved, refused.response_code, refused.status) == \
            (False, "20057", "Declined")


def test_previous_payment_id_from_another_key(payment_simulator: SimulatorServer,
                                              api: Any) -> None:
    """A scheme id another key's payment got is another acquirer's id here."""
    elsewhere = sdk(payment_simulator.url("checkoutcom"), new_key())
    card = card_payment("4242424242424242", 1500)
    card.merchant_initiated, card.payment_type = True, PaymentType.INSTALLMENT
    card.previous_payment_id = elsewhere.payments.request_payment(
        card_payment("4242424242424242")).scheme_id
    assert api.payments.request_payment(card).approved
    other = elsewhere.payments.request_payment(card_payment("5436031030606378"))
    card.previous_payment_id = other.id  # a pay_ id of another key: not this key's
    assert _refused(lambda: api.payments.request_payment(card)).error_details == \
        ["previous_payment_id_invalid"]


def test_an_issuer_asking_for_3ds_declines_the_merchant_initiated_payment(api: Any) -> None:
    first = _saving(api, CHALLENGE_CARD)
    declined = api.payments.request_payment(_mit(_by_id(first.source.id)))
    assert (declined.approved, declined.status, declined.response_code,
            declined.response_summary) == \
        (False, "Declined", "20154", "3D Secure authentication required")


def test_bad_vault_requests_get_checkout_coms_envelope(api: Any) -> None:
    refused = _refused(lambda: api.customers.create(CustomerRequest()))
    assert (refused.http_metadata.status_code, refused.error_details) == \
        (422, ["email_required"])
    request = CreateInstrumentRequest(InstrumentType.CARD)
    request.number = "4242424242424241"
    request.expiry_month, request.expiry_year = 6, 2031
    assert _refused(lambda: api.instruments.create(request)).error_details == \
        ["card_number_invalid"]
    made = api.instruments.create(_card_instrument())
    update = UpdateCardInstrumentRequest()
    update.expiry_month = 13
    refused = _refused(lambda: api.instruments.update(made.id, update))
    assert (refused.http_metadata.status_code, refused.error_details) == \
        (422, ["expiry_month_invalid"])
    assert _refused(lambda: api.customers.update(
        "cus_aaaaaaaaaaaaaaaaaaaaaaaaaa", _customer("x@example.com"))) \
        .http_metadata.status_code == 404


def _card_instrument() -> CreateInstrumentRequest:
    request = CreateInstrumentRequest(InstrumentType.CARD)
    request.number = "4242424242424242"
    request.expiry_month, request.expiry_year = 6, 2031
    return request


def test_a_renewal_failing_over_from_mercado_pago(payment_simulator: SimulatorServer,
                                                  api: Any) -> None:
    """The network transaction id Mercado Pago gave a card's first payment is accepted
    by Checkout.com for a merchant-initiated payment with the same card."""
    mp = mercadopago_sdk(payment_simulator.url("mercadopago"))
    token = mp.card_token().create({"card_number": "5031433215406351",
                                    "expiration_month": 11, "expiration_year": 2030,
                                    "security_code": "123", "cardholder": {"name": "APRO"}})
    first = mp.payment().create({
        "transaction_amount": 20, "token": token["response"]["id"], "installments": 1,
        "payment_method_id": "master", "payer": {"email": "ana@testuser.com"}},
        mercadopago.config.RequestOptions(
            max_retries=0, custom_headers={"X-Expand-Responde-Nodes": "gateway.reference"}))
    nti = first["response"]["expanded"]["gateway"]["reference"]["network_transaction_id"]

    card = card_payment("5031433215406351", 1500)
    card.merchant_initiated, card.payment_type = True, PaymentType.RECURRING
    card.previous_payment_id = nti
    assert api.payments.request_payment(card).approved
