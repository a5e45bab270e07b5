"""Razorpay disputes on the official SDK: `/v1/disputes` (list, fetch, accept, contest
with a draft and a submit), the payment.dispute.* webhooks verified by the SDK's own
`utility.verify_webhook_signature`, the respond_by deadline and the decision on the
virtual clock, refunds of disputed funds refused, and the triggers (the admin API, a
scenario rule)."""

from __future__ import annotations

from typing import Any

import pytest
import razorpay

from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.razorpay_helpers import collect, order, wait_status

pytest_plugins = ["tests.providers.razorpay_fixtures"]

SECRET = "whsec-razorpay-disputes"
DAY = 86400


@pytest.fixture
def hooks(payment_simulator: SimulatorServer, hook_server: WebhookReceiver) -> WebhookReceiver:
    payment_simulator.admin("PUT", "/webhooks/razorpay",
                            {"url": hook_server.url, "secret": SECRET})
    return hook_server


def paid(rzp: razorpay.Client, sim: SimulatorServer, amount: int = 50000) -> str:
    """A captured UPI payment (the test VPA approves; the order captures at once)."""
    pid = collect(rzp, order(rzp, amount))
    sim.advance_clock(5)
    assert wait_status(rzp, pid, "captured")["status"] == "captured"
    return pid


def open_dispute(sim: SimulatorServer, pid: str, **body: Any) -> str:
    state = sim.admin("POST", f"/payments/{pid}/dispute", {"reason": "fraudulent", **body})
    dispute_id: str = state["disputes"][-1]["id"]
    return dispute_id


def events(rzp: razorpay.Client, rx: WebhookReceiver, type_: str) -> list[dict[str, Any]]:
    """The deliveries of `type_`, each verified by the SDK with the webhook secret."""
    found = []
    for r in rx.received:
        if r.json()["event"] != type_:
            continue
        assert rzp.utility.verify_webhook_signature(
            r.body.decode(), r.headers["X-Razorpay-Signature"], SECRET)
        found.append(r.json())
    return found


def arrived(rx: WebhookReceiver, type_: str) -> bool:
    return rx.wait_for(lambda got: any(r.json()["event"] == type_ for r in got))


def test_a_contested_dispute_is_drafted_submitted_and_won(
        rzp: razorpay.Client, payment_simulator: SimulatorServer,
        hooks: WebhookReceiver) -> None:
    pid = paid(rzp, payment_simulator)
    did = open_dispute(payment_simulator, pid, reason="product_not_received")
    assert did.startswith("disp_")

    assert arrived(hooks, "payment.dispute.created")
    [created] = events(rzp, hooks, "payment.dispute.created")
    assert created["contains"] == ["payment", "dispute"]
    assert created["payload"]["payment"]["entity"]["id"] == pid
    entity = created["payload"]["dispute"]["entity"]
    assert (entity["id"], entity["status"], entity["phase"]) == (did, "open", "chargeback")

    d = rzp.dispute.fetch(did)
    assert (d["payment_id"], d["amount"], d["currency"]) == (pid, 50000, "INR")
    assert d["amount_deducted"] == 0  # deducted only once lost
    assert d["reason_code"] == "goods_not_received"
    assert d["respond_by"] == d["created_at"] + 7 * DAY
    assert d["evidence"]["submitted_at"] is None

    draft = rzp.dispute.contest(did, {
        "amount": 50000, "summary": "Delivered on 3 May, signed for",
        "shipping_proof": ["doc_EFtmUsbwpXwBH9"], "action": "draft"})
    assert draft["status"] == "open"
    assert draft["evidence"]["shipping_proof"] == ["doc_EFtmUsbwpXwBH9"]
    assert not events(rzp, hooks, "payment.dispute.under_review")  # a draft sends nothing
    submitted = rzp.dispute.contest(did, {
        "others": [{"type": "receipt_signed_by_customer",
                    "document_ids": ["doc_EFtmUsbwpXwBH1"]}], "action": "submit"})
    assert submitted["status"] == "under_review"
    assert submitted["evidence"]["summary"] == "Delivered on 3 May, signed for"
    assert submitted["evidence"]["submitted_at"] is not None
    assert arrived(hooks, "payment.dispute.under_review")
    with pytest.raises(razorpay.errors.BadRequestError, match="under_review"):
        rzp.dispute.contest(did, {"summary": "more", "action": "submit"})

    payment_simulator.advance_clock("1h")  # the issuer decides
    assert eventually(lambda: rzp.dispute.fetch(did)["status"] == "won")
    assert arrived(hooks, "payment.dispute.won")
    [won] = events(rzp, hooks, "payment.dispute.won")
    assert won["payload"]["dispute"]["entity"]["amount_deducted"] == 0
    # Won: the money is the merchant's again, so it can be refunded.
    assert rzp.payment.refund(pid, {"amount": 50000})["amount"] == 50000


def test_an_unanswered_dispute_is_lost_at_respond_by(
        rzp: razorpay.Client, payment_simulator: SimulatorServer,
        hooks: WebhookReceiver) -> None:
    pid = paid(rzp, payment_simulator, 30000)
    did = open_dispute(payment_simulator, pid)
    payment_simulator.advance_clock("6d")
    assert rzp.dispute.fetch(did)["status"] == "open"
    payment_simulator.advance_clock("1d")
    assert eventually(lambda: rzp.dispute.fetch(did)["status"] == "lost")
    assert rzp.dispute.fetch(did)["amount_deducted"] == 30000
    assert arrived(hooks, "payment.dispute.lost")
    [lost] = events(rzp, hooks, "payment.dispute.lost")
    assert lost["payload"]["dispute"]["entity"]["status"] == "lost"
    assert payment_simulator.admin("GET", f"/payments/{pid}")["disputes"][0]["expired"]
    with pytest.raises(razorpay.errors.BadRequestError, match="only open disputes"):
        rzp.dispute.contest(did, {"shipping_proof": ["doc_1"], "action": "submit"})
    with pytest.raises(razorpay.errors.BadRequestError, match="only open disputes"):
        rzp.dispute.accept(did)


def test_accepting_a_dispute_loses_it(rzp: razorpay.Client,
                                      payment_simulator: SimulatorServer,
                                      hooks: WebhookReceiver) -> None:
    pid = paid(rzp, payment_simulator)
    did = open_dispute(payment_simulator, pid, amount=20000)
    accepted = rzp.dispute.accept(did)
    assert (accepted["status"], accepted["amount_deducted"]) == ("lost", 20000)
    assert arrived(hooks, "payment.dispute.lost")
    with pytest.raises(razorpay.errors.BadRequestError, match="only open disputes"):
        rzp.dispute.accept(did)


def test_a_dispute_that_is_to_be_lost_is_lost_after_its_contest(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    pid = paid(rzp, payment_simulator)
    did = open_dispute(payment_simulator, pid, ends="lost", decide_after="2d")
    rzp.dispute.contest(did, {"explanation_letter": ["doc_A1"], "action": "submit"})
    payment_simulator.advance_clock("1d")
    assert rzp.dispute.fetch(did)["status"] == "under_review"
    payment_simulator.advance_clock("1d")
    assert eventually(lambda: rzp.dispute.fetch(did)["status"] == "lost")


def test_an_answered_retrieval_request_is_closed(rzp: razorpay.Client,
                                                 payment_simulator: SimulatorServer,
                                                 hooks: WebhookReceiver) -> None:
    pid = paid(rzp, payment_simulator)
    did = open_dispute(payment_simulator, pid, kind="inquiry")
    d = rzp.dispute.fetch(did)
    assert (d["phase"], d["status"]) == ("retrieval", "open")
    rzp.dispute.contest(did, {"billing_proof": ["doc_B1"], "action": "submit"})
    payment_simulator.advance_clock("1h")
    assert eventually(lambda: rzp.dispute.fetch(did)["status"] == "closed")
    assert arrived(hooks, "payment.dispute.closed")
    # A retrieval request holds nothing back.
    assert rzp.payment.refund(pid)["amount"] == 50000


def test_a_refund_beyond_what_is_neither_refunded_nor_disputed_is_refused(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    pid = paid(rzp, payment_simulator)
    rzp.payment.refund(pid, {"amount": 10000})
    open_dispute(payment_simulator, pid, amount=30000)
    with pytest.raises(razorpay.errors.BadRequestError, match="under dispute") as err:
        rzp.payment.refund(pid, {"amount": 15000})
    assert "at most 100.00 INR" in str(err.value)
    with pytest.raises(razorpay.errors.BadRequestError, match="under dispute"):
        rzp.payment.refund(pid)  # no amount: the whole of what is left
    assert rzp.payment.refund(pid, {"amount": 10000})["amount"] == 10000
    with pytest.raises(razorpay.errors.BadRequestError, match="cannot be refunded"):
        rzp.payment.refund(pid, {"amount": 100})


def test_a_bad_contest_is_refused_in_razorpays_words(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    pid = paid(rzp, payment_simulator)
    did = open_dispute(payment_simulator, pid, amount=5000)
    with pytest.raises(razorpay.errors.BadRequestError, match="At least one evidence"):
        rzp.dispute.contest(did, {"summary": "We delivered", "action": "submit"})
    with pytest.raises(razorpay.errors.BadRequestError, match="greater than the disputed"):
        rzp.dispute.contest(did, {"amount": 6000, "shipping_proof": ["doc_1"]})
    with pytest.raises(razorpay.errors.BadRequestError, match="should not be sent"):
        rzp.dispute.contest(did, {"colour": "red"})
    with pytest.raises(razorpay.errors.BadRequestError, match="action"):
        rzp.dispute.contest(did, {"shipping_proof": ["doc_1"], "action": "send"})
    with pytest.raises(razorpay.errors.BadRequestError, match="does not exist"):
        rzp.dispute.fetch("disp_00000000000000")
    assert rzp.dispute.fetch(did)["status"] == "open"


def test_disputes_are_listed_newest_first_and_paged(
        rzp: razorpay.Client, make_razorpay: Any,
        payment_simulator: SimulatorServer) -> None:
    ids = []
    for _ in range(3):
        ids.append(open_dispute(payment_simulator, paid(rzp, payment_simulator, 10000)))
        payment_simulator.advance_clock(10)
    listed = rzp.dispute.all()
    assert listed["entity"] == "collection"
    assert [d["id"] for d in listed["items"]] == ids[::-1]
    assert [d["id"] for d in rzp.dispute.all({"count": 2, "skip": 1})["items"]] == ids[1::-1]
    assert make_razorpay().dispute.all()["items"] == []  # another key id sees none


SCENARIO = """
name: razorpay-disputes
seed: 5
rules:
  - name: half-are-disputed
    match: {provider: razorpay, operation: complete}  # the UPI approval captures
    dispute: {reason: duplicate, after: 2d, evidence_window: 5d, probability: 0.5}
"""


def test_a_scenario_rule_disputes_a_share_of_captured_payments(
        rzp: razorpay.Client, payment_simulator: SimulatorServer) -> None:
    payment_simulator.client.use_scenario(SCENARIO)
    pids = [paid(rzp, payment_simulator, 10000) for _ in range(20)]
    assert rzp.dispute.all({"count": 100})["items"] == []
    payment_simulator.advance_clock("2d")
    applied = payment_simulator.client.scenarios()[0]["rules"][0]["applied"]
    assert 4 <= applied <= 16  # the seeded rate of 0.5 over 20 captures
    assert eventually(lambda: len(rzp.dispute.all({"count": 100})["items"]) == applied)
    found = rzp.dispute.all({"count": 100})["items"]
    assert {d["reason_code"] for d in found} == {"duplicate_transaction"}
    assert {d["payment_id"] for d in found} <= set(pids)
    payment_simulator.advance_clock("5d")  # none answered
    assert eventually(lambda: {d["status"] for d in rzp.dispute.all({"count": 100})["items"]}
                      == {"lost"})
