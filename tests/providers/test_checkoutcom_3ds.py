"""3D Secure on Checkout.com: 202 Pending with a redirect to the challenge page, the
shopper sent on to success_url or failure_url with cko-session-id, and the outcome
visible on GET /payments/{id} (by payment id or session id)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from paysandbox.testing.server import SimulatorServer
from tests.providers.checkoutcom_support import card_payment, sdk

OK, KO = "http://shop.example/ok?order=7", "http://shop.example/ko"


@pytest.fixture
def api(payment_simulator: SimulatorServer) -> Any:
    return sdk(payment_simulator.url("checkoutcom"))


def _challenge(api: Any, number: str = "4242424242424242", **options: Any) -> Any:
    pending = api.payments.request_payment(card_payment(
        number, three_ds=True, success_url=OK, failure_url=KO, **options))
    assert pending.http_metadata.status_code == 202
    assert pending.status == "Pending"
    assert getattr(pending, "3ds").enrolled == "Y"
    assert "/__hosted/3ds/sid_" in pending._links.redirect.href
    return pending


def _press(pending: Any, verdict: str) -> str:
    page = requests.get(pending._links.redirect.href, timeout=10)
    assert page.status_code == 200 and f"/{verdict}" in page.text
    answer = requests.post(f"{pending._links.redirect.href}/{verdict}",
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    return str(answer.headers["Location"])


def test_challenge_completed_goes_to_success_url(api: Any) -> None:
    pending = _challenge(api, capture=False)
    assert api.payments.get_payment_details(pending.id).status == "Pending"
    location = _press(pending, "complete")
    assert location.startswith(OK + "&cko-session-id=sid_")
    session = parse_qs(urlsplit(location).query)["cko-session-id"][0]
    by_session = api.payments.get_payment_details(session)
    assert by_session.id == pending.id
    assert (by_session.status, by_session.approved) == ("Authorized", True)
    assert getattr(by_session, "3ds").authentication_response == "Y"
    assert [a.type for a in api.payments.get_payment_actions(pending.id).items] == \
        ["Authorization"]


def test_challenge_failed_goes_to_failure_url(api: Any) -> None:
    pending = _challenge(api)
    location = _press(pending, "fail")
    assert location.startswith(KO + "?cko-session-id=sid_")
    got = api.payments.get_payment_details(pending.id)
    assert (got.status, got.approved) == ("Declined", False)
    assert api.payments.get_payment_actions(pending.id).items[0].response_code == "20151"


def test_the_issuer_still_decides_after_the_challenge(api: Any) -> None:
    pending = _challenge(api, "4544249167673670")
    assert _press(pending, "complete").startswith(KO)
    assert api.payments.get_payment_actions(pending.id).items[0].response_code == "20051"


def test_documented_rejected_challenge_card_fails_even_when_completed(api: Any) -> None:
    pending = _challenge(api, "4150561000000019")
    assert _press(pending, "complete").startswith(KO)
    assert api.payments.get_payment_details(pending.id).status == "Declined"


@pytest.mark.parametrize(("number", "approved", "code"), [
    ("4485040371536584", True, "10000"),   # frictionless, authenticated
    ("4539628347117863", False, "20151"),  # frictionless, not authenticated
    ("4532432452900131", False, "20150"),  # not 3DS-enabled
])
def test_frictionless_and_not_enrolled_cards(api: Any, number: str, approved: bool,
                                             code: str) -> None:
    paid = api.payments.request_payment(card_payment(number, three_ds=True))
    assert paid.http_metadata.status_code == 201
    assert (paid.approved, paid.response_code) == (approved, code)


def test_without_3ds_a_challenge_card_is_just_approved(api: Any) -> None:
    assert api.payments.request_payment(card_payment("4010061700000021")).approved
