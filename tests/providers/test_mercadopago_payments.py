"""Mercado Pago payments through the official SDK: cards by cardholder name, capture,
cancel, refunds, PIX/boleto/OXXO vouchers, expiry on the virtual clock, search,
namespacing, idempotency and scenarios."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import mercadopago
import pytest
import requests

from paysandbox.core.outcomes import DeclineReason
from paysandbox.providers.mercadopago import boleto, pix
from paysandbox.testing.server import SimulatorServer
from tests.providers.mercadopago_sdk import API, SimulatorHttpClient, new_token, ok, sdk

PAYER = {"email": "buyer@testuser.com", "first_name": "Ana", "last_name": "Silva",
         "identification": {"type": "CPF", "number": "19119119100"}}
CARD = {"card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123"}




def card_token(mp: mercadopago.SDK, holder: str = "APRO", **card: Any) -> str:
    token = ok(mp.card_token().create({**CARD, **card, "cardholder": {
        "name": holder, "identification": {"type": "CPF", "number": "12345678909"}}}), 201)
    return str(token["id"])


def pay_card(mp: mercadopago.SDK, holder: str = "APRO", **extra: Any) -> dict[str, Any]:
    return ok(mp.payment().create({
        "transaction_amount": 100.5, "token": card_token(mp, holder), "installments": 1,
        "payment_method_id": "master", "payer": PAYER, **extra}), 201)


def pay_later(mp: mercadopago.SDK, method: str = "pix", **extra: Any) -> dict[str, Any]:
    return ok(mp.payment().create({"transaction_amount": 100.5, "payment_method_id": method,
                                   "payer": PAYER, **extra}), 201)


# -- cards -------------------------------------------------------------------------------

NAMES = [
    ("APRO", "approved", "accredited"),
    ("OTHE", "rejected", "cc_rejected_other_reason"),
    ("CONT", "in_process", "pending_contingency"),
    ("CALL", "rejected", "cc_rejected_call_for_authorize"),
    ("FUND", "rejected", "cc_rejected_insufficient_amount"),
    ("SECU", "rejected", "cc_rejected_bad_filled_security_code"),
    ("EXPI", "rejected", "cc_rejected_bad_filled_date"),
    ("FORM", "rejected", "cc_rejected_bad_filled_other"),
    ("CARD", "rejected", "cc_rejected_bad_filled_card_number"),
    ("INST", "rejected", "cc_rejected_invalid_installments"),
    ("DUPL", "rejected", "cc_rejected_duplicated_payment"),
    ("LOCK", "rejected", "cc_rejected_card_disabled"),
    ("CTNA", "rejected", "cc_rejected_card_type_not_allowed"),
    ("ATTE", "rejected", "cc_rejected_max_attempts"),
    ("BLAC", "rejected", "cc_rejected_blacklist"),
    ("Maria Souza", "approved", "accredited"),
]


@pytest.mark.parametrize(("holder", "status", "detail"), NAMES)
def test_the_cardholder_name_picks_the_outcome(mp: mercadopago.SDK, holder: str, status: str,
                                               detail: str) -> None:
    p = pay_card(mp, holder)

    assert (p["status"], p["status_detail"]) == (status, detail)
    assert isinstance(p["id"], int)
    assert p["payment_type_id"] == "credit_card"
    assert p["card"]["last_four_digits"] == "6351"
    assert ok(mp.payment().get(p["id"]))["status_detail"] == detail


def test_an_approved_card_payment_is_captured_with_its_amount(mp: mercadopago.SDK) -> None:
    p = pay_card(mp)

    assert p["captured"] is True
    assert p["transaction_amount"] == 100.5
    assert p["currency_id"] == "BRL"
    assert p["transaction_details"]["total_paid_amount"] == 100.5
    assert p["date_approved"] is not None


def test_a_card_token_is_single_use(mp: mercadopago.SDK) -> None:
    token = card_token(mp)
    body = {"transaction_amount": 10, "token": token, "payment_method_id": "master",
            "payer": PAYER}
    ok(mp.payment().create(body), 201)

    again = mp.payment().create(body)
    assert again["status"] == 400
    assert again["response"]["cause"][0]["code"] == 2062


@pytest.mark.payment_scenario("""
name: mp-outage-at-13
rules:
  - match: {provider: mercadopago, operation: authorize, amount: 1300}
    fault: {http: 503}
""")
def test_a_payment_failed_by_an_outage_leaves_its_card_token_usable(
        mp: mercadopago.SDK) -> None:
    """The token is used up with the payment it pays for, in one step: a request that
    never made the payment did not spend it."""
    token = card_token(mp)
    body = {"transaction_amount": 13, "token": token, "payment_method_id": "master",
            "payer": PAYER}
    assert mp.payment().create(body)["status"] == 503

    paid = ok(mp.payment().create({**body, "transaction_amount": 12}), 201)
    assert paid["status"] == "approved"


def test_capture_false_authorizes_then_capture_approves(mp: mercadopago.SDK) -> None:
    p = pay_card(mp, capture=False)
    assert (p["status"], p["status_detail"], p["captured"]) == (
        "authorized", "pending_capture", False)

    captured = ok(mp.payment().capture(p["id"], 60))

    assert (captured["status"], captured["status_detail"]) == ("approved", "accredited")
    assert captured["captured"] is True
    assert captured["transaction_details"]["net_received_amount"] == 60


def test_a_partial_capture_leaves_the_payment_at_the_captured_amount(
        mp: mercadopago.SDK) -> None:
    p = pay_card(mp, capture=False)
    assert p["transaction_amount"] == 100.5

    captured = ok(mp.payment().capture(p["id"], 40))

    assert captured["transaction_amount"] == 40
    read = ok(mp.payment().get(p["id"]))
    assert (read["transaction_amount"], read["status"]) == (40, "approved")


def test_capturing_more_than_authorized_is_refused(mp: mercadopago.SDK) -> None:
    p = pay_card(mp, capture=False)

    result = mp.payment().capture(p["id"], 500)

    assert result["status"] == 400
    assert "transaction_amount" in result["response"]["message"]
    assert ok(mp.payment().get(p["id"]))["status"] == "authorized"


def test_an_uncaptured_authorization_is_cancelled_after_seven_days(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer) -> None:
    p = pay_card(mp, capture=False)
    payment_simulator.advance_clock("6d")
    assert ok(mp.payment().get(p["id"]))["status"] == "authorized"

    payment_simulator.advance_clock("1d")

    after = wait_for_status(mp, p["id"], "cancelled")
    assert after["status_detail"] == "expired"


def test_cancel_an_authorized_payment(mp: mercadopago.SDK) -> None:
    p = pay_card(mp, capture=False)

    cancelled = ok(mp.payment().update(p["id"], {"status": "cancelled"}))

    assert (cancelled["status"], cancelled["status_detail"]) == ("cancelled", "by_collector")


def test_an_approved_payment_cannot_be_cancelled(mp: mercadopago.SDK) -> None:
    p = pay_card(mp)

    result = mp.payment().update(p["id"], {"status": "cancelled"})

    assert result["status"] == 400
    assert result["response"]["error"] == "bad_request"
    assert "approved" in result["response"]["message"]


# -- refunds ---------------------------------------------------------------------------

def test_partial_then_full_refund(mp: mercadopago.SDK) -> None:
    p = pay_card(mp)

    first = ok(mp.refund().create(p["id"], {"amount": 40.25}), 201)
    assert first["amount"] == 40.25
    assert first["payment_id"] == p["id"]
    assert first["status"] == "approved"
    partly = ok(mp.payment().get(p["id"]))
    assert (partly["status"], partly["status_detail"]) == ("approved", "partially_refunded")
    assert partly["transaction_amount_refunded"] == 40.25

    rest = ok(mp.refund().create(p["id"]), 201)

    assert rest["amount"] == 60.25
    done = ok(mp.payment().get(p["id"]))
    assert (done["status"], done["status_detail"]) == ("refunded", "refunded")
    listed = ok(mp.refund().list_all(p["id"]))
    assert [r["id"] for r in listed] == [first["id"], rest["id"]]
    assert ok(mp.refund().get(p["id"], first["id"]))["amount"] == 40.25


def test_paths_ending_in_a_slash_are_the_same_request(payment_simulator: SimulatorServer) \
        -> None:
    """Mercado Pago's Node SDK lists refunds as GET /v1/payments/{id}/refunds/; the SDKs'
    own HTTP client sends that path here."""
    token = new_token()
    mp = sdk(payment_simulator.url("mercadopago"), token)
    p = pay_card(mp)
    refund = ok(mp.refund().create(p["id"], {"amount": 10}), 201)
    http = SimulatorHttpClient(payment_simulator.url("mercadopago"))
    auth = {"Authorization": f"Bearer {token}"}

    listed = ok(http.get(url=f"{API}/v1/payments/{p['id']}/refunds/", headers=auth))
    assert [r["id"] for r in listed] == [refund["id"]]
    read = ok(http.get(url=f"{API}/v1/payments/{p['id']}/", headers=auth))
    assert read["id"] == p["id"]


def test_refunding_more_than_is_left_is_refused(mp: mercadopago.SDK) -> None:
    p = pay_card(mp)

    result = mp.refund().create(p["id"], {"amount": 100.51})

    assert result["status"] == 400
    assert "100.51" in result["response"]["message"]


def test_a_pending_payment_cannot_be_refunded(mp: mercadopago.SDK) -> None:
    p = pay_later(mp)

    result = mp.refund().create(p["id"])

    assert result["status"] == 400
    assert "only approved payments can be refunded" in result["response"]["message"]


# -- PIX, boleto, OXXO -----------------------------------------------------------------

def test_pix_is_pending_with_a_valid_br_code_and_its_png(mp: mercadopago.SDK) -> None:
    p = pay_later(mp)

    assert (p["status"], p["status_detail"]) == ("pending", "pending_waiting_transfer")
    assert p["payment_type_id"] == "bank_transfer"
    data = p["point_of_interaction"]["transaction_data"]
    fields = dict(pix.parse_tlv(data["qr_code"]))
    assert fields["54"] == "100.50"
    assert fields["53"] == "986"
    assert data["qr_code"][-4:] == f"{pix.crc16(data['qr_code'][:-4].encode()):04X}"
    assert base64.b64decode(data["qr_code_base64"]) == pix.qr_png(data["qr_code"])
    assert data["ticket_url"].startswith(mp_host(mp) + "/__hosted/mercadopago/tickets/")


def mp_host(mp: mercadopago.SDK) -> str:
    return str(mp.http_client.base_url).rsplit("/mercadopago", 1)[0]


def test_pix_expires_after_24_hours_by_default(mp: mercadopago.SDK,
                                               payment_simulator: SimulatorServer) -> None:
    p = pay_later(mp)
    payment_simulator.advance_clock("23h")
    assert ok(mp.payment().get(p["id"]))["status"] == "pending"

    payment_simulator.advance_clock("1h")

    after = wait_for_status(mp, p["id"], "cancelled")
    assert after["status_detail"] == "expired"


def test_pix_expires_at_the_requested_date(mp: mercadopago.SDK,
                                           payment_simulator: SimulatorServer) -> None:
    now = payment_simulator.client.call("GET", "/clock")["now"]
    from datetime import UTC, datetime
    at = datetime.fromtimestamp(now + 3600, UTC).isoformat(timespec="milliseconds")
    p = pay_later(mp, date_of_expiration=at)
    assert p["date_of_expiration"] is not None

    payment_simulator.advance_clock("61m")

    assert wait_for_status(mp, p["id"], "cancelled")["status_detail"] == "expired"


def test_a_pix_paid_before_its_expiry_stays_approved(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer) -> None:
    p = pay_later(mp)
    payment_simulator.client.complete(str(p["id"]), "success")

    payment_simulator.advance_clock("25h")

    after = ok(mp.payment().get(p["id"]))
    assert (after["status"], after["status_detail"]) == ("approved", "accredited")


@pytest.mark.parametrize(("outcome", "status", "detail"), [
    ("success", "approved", "accredited"),
    ("failure", "rejected", "rejected_by_bank"),
    ("canceled", "cancelled", "by_payer"),
    ("expired", "cancelled", "expired"),
])
def test_admin_completion_settles_a_pending_pix(mp: mercadopago.SDK,
                                                payment_simulator: SimulatorServer,
                                                outcome: str, status: str,
                                                detail: str) -> None:
    p = pay_later(mp)

    payment_simulator.client.complete(str(p["id"]), outcome)

    after = ok(mp.payment().get(p["id"]))
    assert (after["status"], after["status_detail"]) == (status, detail)


def test_a_pending_pix_can_be_cancelled(mp: mercadopago.SDK) -> None:
    p = pay_later(mp)

    after = ok(mp.payment().update(p["id"], {"status": "cancelled"}))

    assert (after["status"], after["status_detail"]) == ("cancelled", "by_collector")


def test_boleto_has_a_barcode_and_a_checked_digitable_line(mp: mercadopago.SDK) -> None:
    p = pay_later(mp, "bolbradesco")

    assert (p["status"], p["status_detail"]) == ("pending", "pending_waiting_payment")
    assert p["payment_type_id"] == "ticket"
    code = p["barcode"]["content"]
    line = p["transaction_details"]["digitable_line"]
    assert len(code) == 44 and len(line) == 47
    assert boleto.digitable_line(code) == line
    assert code[4] == str(boleto.mod11(code[:4] + code[5:]))
    assert code[9:19] == "0000010050"  # R$ 100,50
    assert p["transaction_details"]["external_resource_url"].startswith("http://")


def test_boleto_expires_after_three_days(mp: mercadopago.SDK,
                                         payment_simulator: SimulatorServer) -> None:
    p = pay_later(mp, "bolbradesco")
    payment_simulator.advance_clock("71h")
    assert ok(mp.payment().get(p["id"]))["status"] == "pending"

    payment_simulator.advance_clock("1h")

    assert wait_for_status(mp, p["id"], "cancelled")["status_detail"] == "expired"


def test_oxxo_is_a_pending_voucher_in_pesos_that_expires(
        mp: mercadopago.SDK, payment_simulator: SimulatorServer) -> None:
    p = pay_later(mp, "oxxo")

    assert (p["status"], p["status_detail"]) == ("pending", "pending_waiting_payment")
    assert p["currency_id"] == "MXN"
    assert p["transaction_details"]["payment_method_reference_id"]
    assert p["transaction_details"]["external_resource_url"]
    payment_simulator.advance_clock("3d")
    assert wait_for_status(mp, p["id"], "cancelled")["status_detail"] == "expired"


# -- search, namespaces, idempotency ---------------------------------------------------------

def test_search_filters_sorts_and_pages(mp: mercadopago.SDK) -> None:
    order = f"order-{uuid.uuid4().hex[:8]}"
    made = [pay_later(mp, external_reference=order) for _ in range(3)]
    pay_later(mp, external_reference="someone-else")

    page = ok(mp.payment().search({"external_reference": order, "sort": "date_created",
                                   "criteria": "asc", "limit": 2, "offset": 0}))

    assert page["paging"] == {"total": 3, "limit": 2, "offset": 0}
    assert [r["id"] for r in page["results"]] == [m["id"] for m in made[:2]]
    rest = ok(mp.payment().search({"external_reference": order, "sort": "date_created",
                                   "criteria": "asc", "limit": 2, "offset": 2}))
    assert [r["id"] for r in rest["results"]] == [made[2]["id"]]
    every = list(mp.payment().search_auto_paging_iter({"external_reference": order}, limit=1))
    assert sorted(r["id"] for r in every) == sorted(m["id"] for m in made)


def test_search_by_status(mp: mercadopago.SDK) -> None:
    approved = pay_card(mp)
    pay_later(mp)

    page = ok(mp.payment().search({"status": "approved"}))

    assert [r["id"] for r in page["results"]] == [approved["id"]]


def test_two_access_tokens_never_see_each_other(payment_simulator: SimulatorServer) -> None:
    mine, theirs = (sdk(payment_simulator.url("mercadopago"), new_token()) for _ in range(2))
    p = pay_later(mine)

    assert theirs.payment().get(p["id"])["status"] == 404
    assert ok(theirs.payment().search())["paging"]["total"] == 0
    assert ok(mine.payment().search())["paging"]["total"] == 1


def test_the_same_idempotency_key_replays_the_payment(payment_simulator: SimulatorServer) -> None:
    token, key = new_token(), str(uuid.uuid4())
    options = mercadopago.config.RequestOptions(
        access_token=token, max_retries=0, custom_headers={"x-idempotency-key": key})
    mp = sdk(payment_simulator.url("mercadopago"), token)
    body = {"transaction_amount": 10, "payment_method_id": "pix", "payer": PAYER}

    first = ok(mp.payment().create(body, options), 201)
    second = ok(mp.payment().create(body, options), 201)

    assert second == first
    assert ok(mp.payment().search())["paging"]["total"] == 1
    other = mp.payment().create({**body, "transaction_amount": 11}, options)
    assert other["status"] == 400
    assert key in other["response"]["message"]


def test_payment_creation_without_an_idempotency_key_is_refused(
        payment_simulator: SimulatorServer) -> None:
    r = requests.post(payment_simulator.url("mercadopago") + "/v1/payments",
                      json={"transaction_amount": 10, "payment_method_id": "pix",
                            "payer": PAYER},
                      headers={"Authorization": f"Bearer {new_token()}"}, timeout=10)

    assert r.status_code == 400
    body = r.json()
    assert body["message"].startswith("Header X-Idempotency-Key can't be null")
    assert body["cause"][0]["code"] == 4292


# -- scenarios -------------------------------------------------------------------------------

@pytest.mark.payment_scenario("""
name: mp-funds
rules:
  - match: {provider: mercadopago, operation: authorize, method: card}
    outcome: {decline: insufficient_funds}
""")
def test_a_scenario_decline_renders_as_mercado_pago_does(mp: mercadopago.SDK) -> None:
    p = pay_card(mp, "APRO")

    assert (p["status"], p["status_detail"]) == ("rejected", "cc_rejected_insufficient_amount")


@pytest.mark.payment_scenario("""
name: mp-outage
rules:
  - match: {provider: mercadopago, operation: authorize}
    fault: {http: 503}
""")
def test_a_scenario_fault_is_a_503_in_mercado_pago_s_envelope(mp: mercadopago.SDK) -> None:
    result = mp.payment().create({"transaction_amount": 10, "payment_method_id": "pix",
                                  "payer": PAYER})

    assert result["status"] == 503
    assert result["response"]["error"] == "service_unavailable"
    assert result["response"]["status"] == 503


@pytest.mark.payment_scenario("""
name: mp-slow
rules:
  - match: {provider: mercadopago, operation: retrieve}
    latency: 1ms
""")
def test_a_scenario_matches_reads(mp: mercadopago.SDK,
                                  payment_simulator: SimulatorServer) -> None:
    p = pay_later(mp)

    ok(mp.payment().get(p["id"]))

    entry = [e for e in payment_simulator.journal(provider="mercadopago")
             if e["method"] == "GET"][-1]
    assert entry["scenario_rules"] == ["mp-slow/rules[0]"]


def test_every_decline_reason_renders_on_a_card(mp: mercadopago.SDK,
                                                payment_simulator: SimulatorServer) -> None:
    """Through admin completion of a CONT (in_process) payment."""
    for reason in DeclineReason:
        p = pay_card(mp, "CONT")
        payment_simulator.client.complete(str(p["id"]), "failure", reason=reason.value)
        after = ok(mp.payment().get(p["id"]))
        assert after["status"] == "rejected"
        assert after["status_detail"].startswith(("cc_rejected_", "cc_amount_")), reason


def wait_for_status(mp: mercadopago.SDK, pid: int, status: str) -> dict[str, Any]:
    """Scheduled expiries run on the simulator's loop just after the clock moves."""
    from paysandbox.testing.client import wait_until
    return wait_until(lambda: (lambda p: p if p["status"] == status else None)(
        ok(mp.payment().get(pid))), 10, f"payment {pid} never became {status}")  # type: ignore[no-any-return]
