"""Mercado Pago chargebacks: `GET /v1/chargebacks/{id}` and `/v1/chargebacks/search` on
the official SDK (`sdk.chargeback()`), documentation uploaded as multipart files over
plain HTTP (the SDK has no call for it), notifications of topic `chargebacks` verified by
the SDK's own WebhookSignatureValidator, the payment turning `charged_back`, the deadline
and the decision on the virtual clock, refunds of charged-back funds refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import mercadopago
import pytest

from paysandbox.settings import default_secret
from paysandbox.testing.client import eventually
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver
from tests.providers.mercadopago_sdk import new_token, sdk, verify

pytestmark = pytest.mark.filterwarnings("ignore:notification_url is deprecated")

PAYER = {"email": "buyer@testuser.com"}


@pytest.fixture
def token() -> str:
    return new_token()


@pytest.fixture
def mp(payment_simulator: SimulatorServer, token: str) -> mercadopago.SDK:
    return sdk(payment_simulator.url("mercadopago"), token)


def paid(mp: mercadopago.SDK, sim: SimulatorServer, amount: float = 100,
         **extra: Any) -> dict[str, Any]:
    """A PIX payment the payer has paid."""
    created = mp.payment().create({"transaction_amount": amount, "payment_method_id": "pix",
                                   "payer": PAYER, **extra})
    assert created["status"] == 201, created
    pid = str(created["response"]["id"])
    sim.client.complete(pid, "success")
    assert eventually(lambda: mp.payment().get(pid)["response"]["status"] == "approved")
    found: dict[str, Any] = mp.payment().get(pid)["response"]
    return found


def charge_back(sim: SimulatorServer, p: dict[str, Any], **body: object) -> str:
    state = sim.admin("POST", f"/payments/{p['id']}/dispute", {"reason": "fraudulent", **body})
    cid: str = state["disputes"][-1]["id"]
    return cid


def upload(sim: SimulatorServer, token: str, cid: str,
           files: list[tuple[str, str, bytes]]) -> tuple[int, dict[str, Any]]:
    """POST /v1/chargebacks/{id}/documentation with multipart files[], as the curl in
    Mercado Pago's guide does."""
    boundary = uuid.uuid4().hex
    parts = b"".join(
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files[]\"; "
        f"filename=\"{name}\"\r\nContent-Type: {kind}\r\n\r\n".encode() + data + b"\r\n"
        for name, kind, data in files)
    request = urllib.request.Request(
        sim.url("mercadopago") + f"/v1/chargebacks/{cid}/documentation",
        data=parts + f"--{boundary}--\r\n".encode(), method="POST",
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


PDF = ("delivery.pdf", "application/pdf", b"%PDF-1.4 proof of delivery")


def test_a_chargeback_is_notified_documented_and_covered(
        mp: mercadopago.SDK, token: str, payment_simulator: SimulatorServer,
        hook_server: WebhookReceiver) -> None:
    p = paid(mp, payment_simulator, notification_url=hook_server.url)
    assert hook_server.wait_for(lambda got: len(got) == 2)  # created, approved
    cid = charge_back(payment_simulator, p, reason="product_not_received")
    assert cid.isdigit() and len(cid) == 18

    assert hook_server.wait_for(lambda got: len(got) == 4)
    by_type = {r.json()["type"]: r for r in hook_server.received[2:]}
    hook = by_type["chargebacks"]
    secret = default_secret("mercadopago")
    assert verify(hook.headers, hook.path, secret) == cid
    assert parse_qs(urlsplit(hook.path).query)["type"] == ["chargebacks"]
    assert hook.json()["action"] == "chargeback.created"
    assert verify(by_type["payment"].headers, by_type["payment"].path, secret) == str(p["id"])

    got = mp.chargeback().get(cid)
    assert got["status"] == 200, got
    cb = got["response"]
    assert (cb["id"], cb["payments"], cb["amount"], cb["currency"]) == (
        cid, [p["id"]], 100, "BRL")
    assert (cb["documentation_status"], cb["coverage_applied"]) == ("pending", None)
    assert cb["reason"] == "product_not_received"
    assert mp.chargeback().get(str(p["id"]))["response"]["id"] == cid  # by payment id
    payment = mp.payment().get(str(p["id"]))["response"]
    assert (payment["status"], payment["status_detail"]) == ("charged_back", "in_process")

    status, answered = upload(payment_simulator, token, cid, [PDF])
    assert status == 200, answered
    assert answered["documentation_status"] == "review_pending"
    assert answered["documentation"][0]["type"] == "application/pdf"
    status, again = upload(payment_simulator, token, cid, [PDF])
    assert status == 400 and "review_pending" in again["message"]

    payment_simulator.advance_clock("1h")
    assert eventually(lambda: mp.chargeback().get(cid)["response"]["documentation_status"]
                      == "valid")
    assert mp.chargeback().get(cid)["response"]["coverage_applied"] is True
    assert hook_server.wait_for(lambda got: any(
        r.json()["action"] == "chargeback.updated" for r in got))
    payment = mp.payment().get(str(p["id"]))["response"]
    assert (payment["status"], payment["status_detail"]) == ("charged_back", "reimbursed")


def test_no_documentation_by_the_deadline_is_not_supplied_and_lost(
        mp: mercadopago.SDK, token: str, payment_simulator: SimulatorServer) -> None:
    p = paid(mp, payment_simulator)
    cid = charge_back(payment_simulator, p, evidence_window="5d")
    payment_simulator.advance_clock("4d")
    assert mp.chargeback().get(cid)["response"]["documentation_status"] == "pending"
    payment_simulator.advance_clock("1d")
    assert eventually(lambda: mp.chargeback().get(cid)["response"]["documentation_status"]
                      == "not_supplied")
    cb = mp.chargeback().get(cid)["response"]
    assert cb["coverage_applied"] is False
    assert mp.payment().get(str(p["id"]))["response"]["status_detail"] == "settled"
    status, body = upload(payment_simulator, token, cid, [PDF])
    assert status == 400 and "not_supplied" in body["message"]


def test_a_refund_beyond_what_is_not_charged_back_is_refused(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer) -> None:
    p = paid(mp, payment_simulator, 100)
    charge_back(payment_simulator, p, amount=6000)  # 60.00 of 100.00
    refused = mp.refund().create(str(p["id"]), {"amount": 50})
    assert refused["status"] == 400 and "at most 40" in refused["response"]["message"]
    assert mp.refund().create(str(p["id"]))["status"] == 400  # no amount: all of it
    assert mp.refund().create(str(p["id"]), {"amount": 40})["status"] == 201


def test_bad_documentation_is_refused(mp: mercadopago.SDK, token: str,
                                      payment_simulator: SimulatorServer) -> None:
    cid = charge_back(payment_simulator, paid(mp, payment_simulator))
    status, body = upload(payment_simulator, token, cid,
                          [("notes.txt", "text/plain", b"trust us")])
    assert status == 400 and "jpg, .png or .pdf" in body["message"]
    status, body = upload(payment_simulator, token, "123", [PDF])
    assert status == 404 and "not found" in body["message"]
    assert mp.chargeback().get("abc")["status"] == 400
    assert mp.chargeback().get(cid)["response"]["documentation_status"] == "pending"


def test_chargebacks_are_searched_by_payment(mp: mercadopago.SDK,
                                             payment_simulator: SimulatorServer) -> None:
    first, second = paid(mp, payment_simulator), paid(mp, payment_simulator)
    ids = [charge_back(payment_simulator, first), charge_back(payment_simulator, second)]
    found = mp.chargeback().search({"payment_id": str(second["id"])})["response"]
    assert [c["id"] for c in found["results"]] == [ids[1]]
    every = mp.chargeback().search()["response"]
    assert every["paging"]["total"] == 2
