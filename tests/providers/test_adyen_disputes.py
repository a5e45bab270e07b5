"""Adyen disputes on the official SDK: the dispute test holder names, the dispute
notifications (each HMAC-signed and verified with the SDK's own
`is_valid_hmac_notification`, each with the dispute's own pspReference and the
payment's as originalReference), the Disputes API (defense reasons, defense documents,
defend, accept) through the SDK's disputes service on the same base-URL override as
the Checkout API, the evidence deadline and the issuer's decision on the virtual clock,
the second cycle, and a refund of charged-back funds refused."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import Adyen
import pytest
import requests

from paysandbox.testing.server import SimulatorServer
from tests.providers import adyen_support
from tests.providers.adyen_support import HMAC_KEY, Checkout, Receiver, card

# Fixtures from the helper module, under the names tests ask for.
adyen = adyen_support.adyen
notifications = adyen_support.notifications
receiver = adyen_support.receiver

DISPUTES = "/ca/services/DisputeService/v30"
PDF = base64.b64encode(b"%PDF-1.4 delivery receipt, signed by the shopper").decode()


def disputes_api(sim: SimulatorServer, checkout: Checkout) -> Any:
    """The SDK's disputes service, pointed at the simulator as the Checkout API is."""
    api = checkout.sdk.disputes.disputes_api
    api.baseUrl = sim.url("adyen") + DISPUTES
    return api


class Disputes:
    def __init__(self, sim: SimulatorServer, checkout: Checkout) -> None:
        self.api, self.merchant = disputes_api(sim, checkout), checkout.merchant

    def _body(self, psp: str, **extra: Any) -> dict[str, Any]:
        return {"merchantAccountCode": self.merchant, "disputePspReference": psp, **extra}

    def reasons(self, psp: str) -> dict[str, Any]:
        out: dict[str, Any] = self.api.retrieve_applicable_defense_reasons(
            self._body(psp)).message
        return out

    def supply(self, psp: str, code: str = "DefenseMaterial", **doc: Any) -> dict[str, Any]:
        document = {"defenseDocumentTypeCode": code, "contentType": "application/pdf",
                    "content": PDF, **doc}
        out: dict[str, Any] = self.api.supply_defense_document(
            self._body(psp, defenseDocuments=[document])).message
        return out["disputeServiceResult"]

    def delete(self, psp: str, code: str = "DefenseMaterial") -> dict[str, Any]:
        out: dict[str, Any] = self.api.delete_dispute_defense_document(
            self._body(psp, defenseDocumentType=code)).message
        return out["disputeServiceResult"]

    def defend(self, psp: str, reason: str = "SupplyDefenseMaterial") -> dict[str, Any]:
        out: dict[str, Any] = self.api.defend_dispute(
            self._body(psp, defenseReasonCode=reason)).message
        return out["disputeServiceResult"]

    def accept(self, psp: str) -> dict[str, Any]:
        out: dict[str, Any] = self.api.accept_dispute(self._body(psp)).message
        return out["disputeServiceResult"]


@pytest.fixture
def disputes(payment_simulator: SimulatorServer, adyen: Checkout) -> Disputes:
    return Disputes(payment_simulator, adyen)


def item(rx: Receiver, code: str, original: str, status: str | None = None,
         timeout: float = 10) -> dict[str, Any]:
    """The notification `code` about the payment `original` (with that disputeStatus),
    once it came; its signature verified as a merchant verifies it."""
    def matching() -> list[dict[str, Any]]:
        return [n.json() for n in rx.received if n.item["eventCode"] == code
                and n.item.get("originalReference") == original
                and status in (None, n.item["additionalData"].get("disputeStatus"))]
    assert rx.wait_for(lambda _: bool(matching()), timeout), (code, status, rx.items())
    body = matching()[0]
    assert Adyen.util.is_valid_hmac_notification(body, HMAC_KEY)
    found: dict[str, Any] = body["notificationItems"][0]["NotificationRequestItem"]
    return found


def codes(rx: Receiver, original: str) -> list[str]:
    return [i["eventCode"] for i in rx.items() if i.get("originalReference") == original]


def dispute_of(sim: SimulatorServer, psp: str) -> dict[str, Any]:
    [d] = sim.admin("GET", f"/payments/{psp}")["disputes"]
    found: dict[str, Any] = d
    return found


def test_a_chargeback_holder_name_is_disputed_defended_and_reversed(
        payment_simulator: SimulatorServer, adyen: Checkout, disputes: Disputes,
        notifications: Receiver):
    paid = adyen.pay(card(holder="Chargeback"), value=2500)
    assert paid["resultCode"] == "Authorised"  # the holder name changes nothing yet
    psp = paid["pspReference"]
    payment_simulator.advance_clock("1s")

    # a fraud chargeback: the scheme's fraud report, then the dispute and the deduction
    fraud = item(notifications, "NOTIFICATION_OF_FRAUD", psp)
    opened = item(notifications, "NOTIFICATION_OF_CHARGEBACK", psp)
    charged = item(notifications, "CHARGEBACK", psp)
    dispute_psp = opened["pspReference"]
    assert dispute_psp != psp and len(dispute_psp) == 16
    assert charged["pspReference"] == dispute_psp and fraud["pspReference"] != dispute_psp
    assert (fraud["additionalData"]["nofReasonCode"],
            fraud["additionalData"]["nofSchemeCode"]) == ("6", "visa")
    assert charged["amount"] == {"currency": "EUR", "value": 2500}
    extra = charged["additionalData"]
    assert (extra["chargebackReasonCode"], extra["chargebackSchemeCode"]) == ("10.4", "visa")
    assert (extra["disputeStatus"], extra["defendable"]) == ("Undefended", "true")
    assert opened["additionalData"]["disputeStatus"] == "Unresponded"
    assert charged["merchantReference"] == opened["merchantReference"] != ""
    d = dispute_of(payment_simulator, psp)
    assert (d["id"], d["status"], d["amount"]) == (dispute_psp, "needs_response", 2500)
    assert datetime.fromisoformat(extra["defensePeriodEndsAt"]) == \
        datetime.fromtimestamp(int(d["evidence_due_by"]), UTC)

    # a refund of charged-back funds is refused, in Adyen's way: asynchronously
    refund = adyen.modifications.refund_captured_payment(
        {"merchantAccount": adyen.merchant, "amount": {"currency": "EUR", "value": 100}},
        psp).message
    assert refund["status"] == "received"
    refused = notifications.one("REFUND", refund["pspReference"])
    assert refused["success"] == "false"
    assert "charged back" in refused["reason"] and "Insufficient balance" in refused["reason"]

    # defense: what applies, a defense refused without its document, then with it
    [material] = disputes.reasons(dispute_psp)["defenseReasons"]
    assert (material["defenseReasonCode"], material["satisfied"]) == (
        "SupplyDefenseMaterial", False)
    no = disputes.defend(dispute_psp)
    assert no["success"] is False and "DefenseMaterial" in no["errorMessage"]
    assert disputes.supply(dispute_psp) == {"success": True}
    [material] = disputes.reasons(dispute_psp)["defenseReasons"]
    assert material["satisfied"] is True
    assert {t["defenseDocumentTypeCode"]: t["available"]
            for t in material["defenseDocumentTypes"]} == {"TIDorInvoice": False,
                                                           "DefenseMaterial": True}
    assert disputes.delete(dispute_psp) == {"success": True}
    assert disputes.reasons(dispute_psp)["defenseReasons"][0]["satisfied"] is False
    assert disputes.supply(dispute_psp) == {"success": True}
    assert disputes.defend(dispute_psp) == {"success": True}
    supplied = item(notifications, "INFORMATION_SUPPLIED", psp)
    assert supplied["additionalData"]["disputeStatus"] == "Responded"
    again = disputes.defend(dispute_psp)
    assert again["success"] is False and "already defended" in again["errorMessage"]

    # the issuer decides an hour later (virtual): the chargeback is reversed, funds back
    payment_simulator.advance_clock("1h")
    reversed_ = item(notifications, "CHARGEBACK_REVERSED", psp)
    assert reversed_["pspReference"] == dispute_psp
    assert reversed_["additionalData"]["disputeStatus"] == "Won"
    assert dispute_of(payment_simulator, psp)["status"] == "won"
    closed = disputes.accept(dispute_psp)
    assert closed["success"] is False and "closed" in closed["errorMessage"]
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


def test_an_unanswered_dispute_is_lost_when_its_defense_period_ends(
        payment_simulator: SimulatorServer, adyen: Checkout, disputes: Disputes,
        notifications: Receiver):
    psp = adyen.pay(card("5555341244441115"), value=4000)["pspReference"]
    payment_simulator.admin("POST", f"/payments/{psp}/dispute", {
        "reason": "product_not_received", "amount": 1500, "evidence_window": "2d"})
    charged = item(notifications, "CHARGEBACK", psp)
    dispute_psp = charged["pspReference"]
    assert charged["amount"]["value"] == 1500
    assert (charged["additionalData"]["chargebackReasonCode"],
            charged["additionalData"]["chargebackSchemeCode"]) == ("4855", "mc")
    assert "NOTIFICATION_OF_FRAUD" not in codes(notifications, psp)
    reasons = {r["defenseReasonCode"] for r in disputes.reasons(dispute_psp)["defenseReasons"]}
    assert reasons == {"GoodsOrServicesProvided", "SupplyDefenseMaterial"}

    # only what is neither refunded nor charged back can still be refunded
    ok = adyen.modifications.refund_captured_payment(
        {"merchantAccount": adyen.merchant, "amount": {"currency": "EUR", "value": 2500}},
        psp).message
    assert notifications.one("REFUND", ok["pspReference"])["success"] == "true"

    payment_simulator.advance_clock("2d")
    ended = item(notifications, "DISPUTE_DEFENSE_PERIOD_ENDED", psp)
    assert (ended["pspReference"], ended["additionalData"]["disputeStatus"]) == (
        dispute_psp, "Expired")
    assert dispute_of(payment_simulator, psp)["status"] == "lost"
    late = disputes.supply(dispute_psp, "ProofOfDelivery")
    assert late["success"] is False and "closed" in late["errorMessage"]
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


def test_second_chargeback_comes_after_the_issuers_own_reversal(
        payment_simulator: SimulatorServer, adyen: Checkout, disputes: Disputes,
        notifications: Receiver):
    psp = adyen.pay(card(holder="Second Chargeback"))["pspReference"]
    payment_simulator.advance_clock("1s")
    dispute_psp = item(notifications, "CHARGEBACK", psp)["pspReference"]
    payment_simulator.advance_clock("61s")
    auto = item(notifications, "INFORMATION_SUPPLIED", psp)
    assert auto["additionalData"]["autoDefended"] == "true"
    payment_simulator.advance_clock("1h")
    item(notifications, "CHARGEBACK_REVERSED", psp, "Won")
    payment_simulator.advance_clock("1d")
    second = item(notifications, "SECOND_CHARGEBACK", psp)
    assert second["pspReference"] == dispute_psp
    assert (second["additionalData"]["disputeStatus"],
            second["additionalData"]["defendable"]) == ("Undefended", "true")
    d = dispute_of(payment_simulator, psp)
    assert (d["status"], d["stage"]) == ("needs_response", "second_chargeback")

    assert disputes.accept(dispute_psp) == {"success": True}
    accepted = item(notifications, "DISPUTE_DEFENSE_PERIOD_ENDED", psp)
    assert accepted["additionalData"]["disputeStatus"] == "Accepted"
    assert dispute_of(payment_simulator, psp)["status"] == "accepted"
    # (notifications sent at the same moment may arrive in any order, as at Adyen)
    assert sorted(codes(notifications, psp)) == sorted([
        "NOTIFICATION_OF_FRAUD", "NOTIFICATION_OF_CHARGEBACK", "CHARGEBACK",
        "INFORMATION_SUPPLIED", "CHARGEBACK_REVERSED", "SECOND_CHARGEBACK",
        "DISPUTE_DEFENSE_PERIOD_ENDED"])


def test_pre_arbitration_is_defended_and_won(
        payment_simulator: SimulatorServer, adyen: Checkout, disputes: Disputes,
        notifications: Receiver):
    psp = adyen.pay(card(holder="Prearbitration"))["pspReference"]
    payment_simulator.advance_clock("1s")
    dispute_psp = item(notifications, "CHARGEBACK", psp)["pspReference"]
    for step in ("61s", "1h", "1d"):
        payment_simulator.advance_clock(step)
    opened = item(notifications, "PREARBITRATION_OPEN", psp)
    assert opened["pspReference"] == dispute_psp
    assert disputes.supply(dispute_psp) == {"success": True}
    assert disputes.defend(dispute_psp) == {"success": True}
    payment_simulator.advance_clock("1h")
    won = item(notifications, "PREARBITRATION_WON", psp)
    assert won["additionalData"]["disputeStatus"] == "Won"
    assert dispute_of(payment_simulator, psp)["status"] == "won"
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


def test_an_unanswered_pre_arbitration_is_lost(
        payment_simulator: SimulatorServer, adyen: Checkout, notifications: Receiver):
    psp = adyen.pay(card(holder="Prearbitration"))["pspReference"]
    for step in ("1s", "61s", "1h", "1d"):
        payment_simulator.advance_clock(step)
    item(notifications, "PREARBITRATION_OPEN", psp)
    payment_simulator.advance_clock("7d")
    lost = item(notifications, "PREARBITRATION_LOST", psp)
    assert lost["additionalData"]["disputeStatus"] == "Lost"
    item(notifications, "DISPUTE_DEFENSE_PERIOD_ENDED", psp, "Expired")
    d = dispute_of(payment_simulator, psp)
    assert (d["status"], d["expired"], d["funds_reinstated"]) == ("lost", True, False)
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


def test_a_defended_chargeback_the_issuer_upholds_is_lost(
        payment_simulator: SimulatorServer, adyen: Checkout, disputes: Disputes,
        notifications: Receiver):
    psp = adyen.pay(value=3000)["pspReference"]
    payment_simulator.admin("POST", f"/payments/{psp}/dispute",
                            {"reason": "credit_not_processed", "ends": "lost",
                             "network_reason_code": "13.6"})
    dispute_psp = item(notifications, "CHARGEBACK", psp)["pspReference"]
    reasons = {r["defenseReasonCode"] for r in disputes.reasons(dispute_psp)["defenseReasons"]}
    assert "CreditOrCancellationPolicyProperlyDisclosed" in reasons
    assert disputes.supply(dispute_psp, "CreditOrCancellationPolicy",
                           contentType="image/jpeg") == {"success": True}
    assert disputes.defend(dispute_psp, "CreditOrCancellationPolicyProperlyDisclosed") == \
        {"success": True}
    payment_simulator.advance_clock("1h")
    lost = item(notifications, "CHARGEBACK", psp, "Lost")
    assert (lost["pspReference"], lost["additionalData"]["chargebackReasonCode"]) == (
        dispute_psp, "13.6")
    d = dispute_of(payment_simulator, psp)
    assert (d["status"], d["expired"]) == ("lost", False)
    assert d["evidence"]["documents"]["CreditOrCancellationPolicy"]["contentType"] == \
        "image/jpeg"
    assert payment_simulator.admin("GET", "/contracts")["total"] == 0


@pytest.mark.payment_scenario("""
name: adyen-dispute-rate
seed: 5
rules:
  - name: some-payments-are-disputed
    match: {provider: adyen, operation: [authorize, capture]}
    dispute: {reason: product_unacceptable, after: 2d, probability: 0.5}
""")
def test_a_scenario_rule_disputes_a_share_of_adyen_payments(
        payment_simulator: SimulatorServer, adyen: Checkout, notifications: Receiver):
    paid = {adyen.pay()["pspReference"] for _ in range(20)}
    payment_simulator.advance_clock("1d")
    assert not notifications.items("CHARGEBACK")
    payment_simulator.advance_clock("1d")
    rule = payment_simulator.client.scenarios()[0]["rules"][0]
    assert 4 <= rule["applied"] <= 16
    assert notifications.wait_for(
        lambda got: len([n for n in got if n.item["eventCode"] == "CHARGEBACK"])
        == rule["applied"])
    charged = notifications.items("CHARGEBACK")
    assert {i["originalReference"] for i in charged} <= paid
    assert {i["additionalData"]["chargebackReasonCode"] for i in charged} == {"13.3"}


def test_chargeback_reversed_and_a_reason_code_take_effect_only_once_captured(
        payment_simulator: SimulatorServer, adyen: Checkout, notifications: Receiver):
    reversed_psp = adyen.pay(card(holder="Chargeback Reversed"))["pspReference"]
    held = adyen.held(paymentMethod=card("5555341244441115", holder="Chargeback:4853"))
    held_psp = held["pspReference"]
    payment_simulator.advance_clock("1s")
    item(notifications, "CHARGEBACK", reversed_psp)
    assert "CHARGEBACK" not in codes(notifications, held_psp)  # authorised only
    assert payment_simulator.admin("GET", f"/payments/{held_psp}")["disputes"] == []

    adyen.modifications.capture_authorised_payment(
        {"merchantAccount": adyen.merchant, "amount": {"currency": "EUR", "value": 1000}},
        held_psp)
    payment_simulator.advance_clock("1s")
    charged = item(notifications, "CHARGEBACK", held_psp)
    assert charged["additionalData"]["chargebackReasonCode"] == "4853"
    assert dispute_of(payment_simulator, held_psp)["reason"] == "product_unacceptable"

    payment_simulator.advance_clock("61s")
    payment_simulator.advance_clock("1h")
    item(notifications, "CHARGEBACK_REVERSED", reversed_psp, "Won")
    assert "CHARGEBACK_REVERSED" not in codes(notifications, held_psp)


def test_an_inquiry_is_a_request_for_information(
        payment_simulator: SimulatorServer, adyen: Checkout, disputes: Disputes,
        notifications: Receiver):
    psp = adyen.pay()["pspReference"]
    payment_simulator.admin("POST", f"/payments/{psp}/dispute",
                            {"reason": "unrecognized", "kind": "inquiry"})
    rfi = item(notifications, "REQUEST_FOR_INFORMATION", psp)
    dispute_psp = rfi["pspReference"]
    assert (rfi["additionalData"]["rfiReasonCode"], rfi["additionalData"]["rfiSchemeCode"],
            rfi["additionalData"]["disputeStatus"]) == ("10", "visa", "Unresponded")
    assert "CHARGEBACK" not in codes(notifications, psp)  # no money moved
    assert disputes.supply(dispute_psp, "TIDorInvoice") == {"success": True}
    assert disputes.supply(dispute_psp) == {"success": True}
    assert disputes.defend(dispute_psp) == {"success": True}
    item(notifications, "INFORMATION_SUPPLIED", psp)
    payment_simulator.advance_clock("1h")
    closed = item(notifications, "ISSUER_RESPONSE_TIMEFRAME_EXPIRED", psp)
    assert closed["additionalData"]["disputeStatus"] == "Won"


def test_the_dispute_service_refuses_what_it_cannot_do(
        payment_simulator: SimulatorServer, adyen: Checkout, disputes: Disputes):
    psp = adyen.pay()["pspReference"]
    payment_simulator.admin("POST", f"/payments/{psp}/dispute", {"reason": "duplicate"})
    [d] = payment_simulator.admin("GET", f"/payments/{psp}")["disputes"]

    unknown = disputes.accept("ABCDEFGHIJKLMNOP")
    assert unknown["success"] is False and "Could not find dispute" in unknown["errorMessage"]
    other = Disputes(payment_simulator, adyen)
    other.merchant = "SomeoneElseECOM"
    assert other.accept(d["id"])["success"] is False
    wrong_type = disputes.supply(d["id"], "GoodsWereAsDescribed")
    assert wrong_type["success"] is False and "does not apply" in wrong_type["errorMessage"]
    wrong_content = disputes.supply(d["id"], contentType="text/plain")
    assert wrong_content["success"] is False and "application/pdf" in \
        wrong_content["errorMessage"]
    not_base64 = disputes.supply(d["id"], content="%%% not base64 %%%")
    assert not_base64["success"] is False and "base64" in not_base64["errorMessage"]
    wrong_reason = disputes.defend(d["id"], "GoodsNotReturned")
    assert wrong_reason["success"] is False and "SupplyDefenseMaterial" in \
        wrong_reason["errorMessage"]
    missing_doc = disputes.delete(d["id"], "TIDorInvoice")
    assert missing_doc["success"] is False

    # a request the service cannot read is a ServiceError naming the field
    with pytest.raises(Adyen.AdyenAPIUnprocessableEntity) as err:
        disputes.api.defend_dispute({"merchantAccountCode": adyen.merchant,
                                     "disputePspReference": d["id"]})
    assert err.value.message["errorCode"] == "702"
    assert "defenseReasonCode" in err.value.message["message"]
    assert payment_simulator.admin("GET", f"/payments/{psp}")["disputes"][0]["status"] == \
        "needs_response"


def test_the_disputes_api_answers_on_its_real_host(payment_simulator: SimulatorServer):
    url = f"{payment_simulator.base_url}/ca/services/DisputeService/v30/acceptDispute"
    resp = requests.post(url, json={"merchantAccountCode": "M", "disputePspReference": "X"},
                         headers={"Host": "ca-test.adyen.com", "X-API-Key": "AQE_host"},
                         timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["disputeServiceResult"]["success"] is False
    unauthorised = urllib.request.Request(url, data=b"{}", method="POST",
                                          headers={"Host": "ca-test.adyen.com",
                                                   "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(unauthorised, timeout=10)
    assert info.value.code == 401
