"""Adyen modifications and standard notifications: `status: received` at once, the
outcome later in a notification signed as Adyen signs, verified with the SDK's own
`Adyen.util.is_valid_hmac_notification`, retried until the receiver says `[accepted]`."""

from __future__ import annotations

import Adyen
import pytest

from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import HMAC_KEY, Checkout, Receiver, card

# Fixtures from the helper module, under the names tests ask for.
adyen = adyen_support.adyen
notifications = adyen_support.notifications
receiver = adyen_support.receiver


def _amount(value: int, currency: str = "EUR") -> dict:
    return {"currency": currency, "value": value}


def _verified(rx: Receiver) -> list[dict]:
    for n in rx.received:
        assert Adyen.util.is_valid_hmac_notification(n.json(), HMAC_KEY), n.item
        assert n.json()["live"] == "false"
    return rx.items()


def test_authorisation_notification_is_signed_for_the_sdk(adyen: Checkout,
                                                          notifications: Receiver):
    res = adyen.pay(reference="order-auth")
    item = notifications.one("AUTHORISATION", res["pspReference"])
    _verified(notifications)
    assert item["success"] == "true"
    assert item["merchantAccountCode"] == adyen.merchant
    assert item["merchantReference"] == "order-auth"
    assert item["amount"] == _amount(1000)
    assert item["paymentMethod"] == "visa"
    assert not Adyen.util.is_valid_hmac_notification(notifications.received[0].json(),
                                                     "00" * 32)


def test_refused_payment_notifies_authorisation_false_with_reason(adyen: Checkout,
                                                                  notifications: Receiver):
    res = adyen.pay(card(holder="CARD_EXPIRED"))
    item = notifications.one("AUTHORISATION", res["pspReference"])
    assert (item["success"], item["reason"]) == ("false", "Expired Card")
    _verified(notifications)


def test_capture_refund_and_their_notifications(adyen: Checkout, notifications: Receiver):
    held = adyen.held(value=2000)
    psp = held["pspReference"]
    cap = adyen.modifications.capture_authorised_payment(
        {"amount": _amount(2000), "merchantAccount": adyen.merchant, "reference": "cap-1"},
        psp)
    assert cap.status_code == 201
    assert cap.message["status"] == "received"
    assert cap.message["paymentPspReference"] == psp
    assert len(cap.message["pspReference"]) == 16 and cap.message["pspReference"] != psp
    capture = notifications.one("CAPTURE", cap.message["pspReference"])
    assert (capture["success"], capture["originalReference"]) == ("true", psp)
    assert capture["merchantReference"] == "cap-1"

    ref = adyen.modifications.refund_captured_payment(
        {"amount": _amount(500), "merchantAccount": adyen.merchant}, psp).message
    refund = notifications.one("REFUND", ref["pspReference"])
    assert (refund["success"], refund["amount"]) == ("true", _amount(500))
    _verified(notifications)


def test_capturing_more_than_authorised_fails_in_the_notification(adyen: Checkout,
                                                                  notifications: Receiver):
    held = adyen.held(value=1000)
    cap = adyen.modifications.capture_authorised_payment(
        {"amount": _amount(5000), "merchantAccount": adyen.merchant},
        held["pspReference"]).message
    assert cap["status"] == "received"
    item = notifications.one("CAPTURE", cap["pspReference"])
    assert (item["success"], item["reason"]) == ("false", "Insufficient balance on payment")
    _verified(notifications)


@pytest.mark.payment_scenario("""
name: capture-notification-chaos
webhooks: {match: {event: CAPTURE}, duplicate: 1.0, bad_signature: 1.0}
""")
def test_a_refused_modifications_notification_meets_webhook_chaos(adyen: Checkout,
                                                                  notifications: Receiver):
    # A refused capture changes no payment; its notification still goes through the
    # engine's outbox, so the scenario's webhook chaos applies to it as to any other.
    held = adyen.held(value=1000)
    cap = adyen.modifications.capture_authorised_payment(
        {"amount": _amount(5000), "merchantAccount": adyen.merchant},
        held["pspReference"]).message
    assert notifications.wait_for(lambda got: len(
        [n for n in got if n.item["eventCode"] == "CAPTURE"]) == 2)
    captures = [n for n in notifications.received if n.item["eventCode"] == "CAPTURE"]
    assert {n.item["pspReference"] for n in captures} == {cap["pspReference"]}
    assert {n.item["success"] for n in captures} == {"false"}
    for n in captures:
        assert not Adyen.util.is_valid_hmac_notification(n.json(), HMAC_KEY)


def test_refunding_an_uncaptured_payment_fails_in_the_notification(
        adyen: Checkout, notifications: Receiver):
    held = adyen.held()
    ref = adyen.modifications.refund_captured_payment(
        {"amount": _amount(1000), "merchantAccount": adyen.merchant},
        held["pspReference"]).message
    item = notifications.one("REFUND", ref["pspReference"])
    assert (item["success"], item["reason"]) == ("false", "Transaction hasn't been captured")


def test_cancel_reversal_and_cancel_by_reference(adyen: Checkout, notifications: Receiver):
    held = adyen.held()
    c = adyen.modifications.cancel_authorised_payment_by_psp_reference(
        {"merchantAccount": adyen.merchant}, held["pspReference"]).message
    assert notifications.one("CANCELLATION", c["pspReference"])["success"] == "true"
    again = adyen.modifications.cancel_authorised_payment_by_psp_reference(
        {"merchantAccount": adyen.merchant}, held["pspReference"]).message
    failed = notifications.one("CANCELLATION", again["pspReference"])
    assert (failed["success"], failed["reason"]) == ("false", "Transaction is already cancelled")

    captured = adyen.pay()  # auto-captured: a reversal refunds it
    r = adyen.modifications.refund_or_cancel_payment(
        {"merchantAccount": adyen.merchant}, captured["pspReference"]).message
    reversal = notifications.one("CANCEL_OR_REFUND", r["pspReference"])
    assert (reversal["success"], reversal["amount"]) == ("true", _amount(1000))

    by_ref = adyen.held(reference="order-77")
    s = adyen.modifications.cancel_authorised_payment(
        {"merchantAccount": adyen.merchant, "paymentReference": "order-77"}).message
    assert (s["status"], s["paymentReference"]) == ("received", "order-77")
    tech = notifications.one("TECHNICAL_CANCEL", s["pspReference"])
    assert (tech["success"], tech["originalReference"]) == ("true", by_ref["pspReference"])
    missing = adyen.modifications.cancel_authorised_payment(
        {"merchantAccount": adyen.merchant, "paymentReference": "no-such-order"}).message
    assert notifications.one("TECHNICAL_CANCEL", missing["pspReference"])["success"] == "false"
    _verified(notifications)


def test_amount_update_adjusts_what_the_authorisation_holds(adyen: Checkout,
                                                            notifications: Receiver):
    held = adyen.held()
    u = adyen.modifications.update_authorised_amount(
        {"amount": _amount(1500), "merchantAccount": adyen.merchant, "reference": "adj"},
        held["pspReference"]).message
    assert (u["status"], u["reference"]) == ("received", "adj")
    adjusted = notifications.one("AUTHORISATION_ADJUSTMENT", u["pspReference"])
    assert (adjusted["success"], adjusted["originalReference"]) == (
        "true", held["pspReference"])
    assert adjusted["amount"] == {"currency": "EUR", "value": 1500}
    # the capture may now take the larger amount, and no more
    too_much = adyen.modifications.capture_authorised_payment(
        {"amount": _amount(1600), "merchantAccount": adyen.merchant},
        held["pspReference"]).message
    assert notifications.one("CAPTURE", too_much["pspReference"])["success"] == "false"
    cap = adyen.modifications.capture_authorised_payment(
        {"amount": _amount(1500), "merchantAccount": adyen.merchant},
        held["pspReference"]).message
    assert notifications.one("CAPTURE", cap["pspReference"])["success"] == "true"


def test_amount_update_of_a_captured_payment_is_refused(adyen: Checkout,
                                                         notifications: Receiver):
    paid = adyen.pay()
    u = adyen.modifications.update_authorised_amount(
        {"amount": _amount(500), "merchantAccount": adyen.merchant},
        paid["pspReference"]).message
    refused = notifications.one("AUTHORISATION_ADJUSTMENT", u["pspReference"])
    assert refused["success"] == "false" and refused["reason"]


def test_modification_idempotency(adyen: Checkout, notifications: Receiver):
    held = adyen.held()
    body = {"amount": _amount(1000), "merchantAccount": adyen.merchant}
    first = adyen.modifications.capture_authorised_payment(body, held["pspReference"],
                                                           idempotency_key="cap-key")
    second = adyen.modifications.capture_authorised_payment(body, held["pspReference"],
                                                            idempotency_key="cap-key")
    assert first.message == second.message
    notifications.one("CAPTURE", first.message["pspReference"])
    assert len(notifications.items("CAPTURE")) == 1


def test_unacknowledged_notifications_are_retried_on_adyens_schedule(
        adyen: Checkout, notifications: Receiver, payment_simulator: SimulatorServer):
    notifications.reply = b"ok"  # not "[accepted]": Adyen keeps retrying
    adyen.pay()

    def deliveries() -> list[dict]:
        found: list[dict] = payment_simulator.admin(
            "GET", "/webhooks/deliveries?provider=adyen")["deliveries"]
        return found

    assert eventually(lambda: deliveries() and deliveries()[0]["attempts"])
    assert deliveries()[0]["state"] == "pending"
    payment_simulator.advance_clock("2m")
    assert eventually(lambda: len(deliveries()[0]["attempts"]) == 2)
    notifications.reply = b"[accepted]"
    payment_simulator.advance_clock("5m")
    assert eventually(lambda: deliveries()[0]["state"] == "delivered")
    assert len(deliveries()[0]["attempts"]) == 3
    _verified(notifications)


def test_basic_auth_from_the_configured_url(adyen: Checkout, receiver: Receiver,
                                            payment_simulator: SimulatorServer):
    receiver.user, receiver.password = "adyen-hooks", "s3cret"
    url = receiver.url.replace("http://", "http://adyen-hooks:s3cret@")
    payment_simulator.admin("PUT", "/webhooks/adyen", {"url": url, "secret": HMAC_KEY})
    try:
        res = adyen.pay()
        assert receiver.one("AUTHORISATION", res["pspReference"])
    finally:
        payment_simulator.admin("DELETE", "/webhooks/adyen")


@pytest.mark.payment_scenario("""
name: adyen-bad-signatures
webhooks:
  match: {provider: adyen}
  bad_signature: 1.0
""")
def test_a_scenario_can_break_signatures(adyen: Checkout, notifications: Receiver):
    adyen.pay()
    assert notifications.wait_for(lambda got: len(got) >= 1)
    assert not Adyen.util.is_valid_hmac_notification(notifications.received[0].json(),
                                                     HMAC_KEY)
