"""Wire compatibility in a second language: each provider's official Node.js SDK runs its
main flow (create, capture or complete, refund, a decline, a verified webhook) and a
stored-credential flow (a card saved, then charged without the customer) against the
simulator, at the SDK's production defaults: the providers' real hostnames over TLS
(see tls_support for how a client reaches them, and why as root). The scripts are in
tests/e2e/node/; the SDKs are installed from npm into a folder of this run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import tls_support
from tests.e2e.tls_support import TlsSimulator

SCRIPTS = Path(__file__).with_name("node")
#: The majors the scripts are written against.
PACKAGES = ("stripe@23", "@adyen/api-library@32", "checkout-sdk-node@5",
            "@mollie/api-client@4", "razorpay@2", "mercadopago@3")
NPM_TIMEOUT = 300


sim = tls_support.simulator  # the module's `paysandbox serve --tls`


@pytest.fixture(scope="module")
def node(sim: TlsSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        tls_support.unavailable("node and npm are needed for the Node SDK flows.")
    folder = tmp_path_factory.mktemp("node")
    try:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                        "--prefix", str(folder), *PACKAGES], check=True,
                       capture_output=True, text=True, timeout=NPM_TIMEOUT)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        tls_support.unavailable(f"npm could not install {', '.join(PACKAGES)}: {exc}")
    for script in SCRIPTS.glob("*.js"):
        shutil.copy(script, folder / script.name)
    _trust_in_mollies_bundle(folder, sim.ca)
    return folder


def _trust_in_mollies_bundle(folder: Path, ca: Path) -> None:
    """Mollie's Node SDK hands its agent the CA list inlined in its bundle and ignores
    NODE_EXTRA_CA_CERTS: the CA joins that list, as an image build would patch it."""
    bundle = folder / "node_modules/@mollie/api-client/dist/mollie.cjs.js"
    text = bundle.read_text()
    pinned = 'var caCertificates = "'
    assert pinned in text, f"{bundle} no longer inlines its CA list: see how it trusts now"
    bundle.write_text(text.replace(pinned, pinned + json.dumps(ca.read_text())[1:-1], 1))


def flow(sim: TlsSimulator, node: Path, provider: str) -> Any:
    return sim.run(["node", str(node / f"{provider}.js")], NODE_EXTRA_CA_CERTS=str(sim.ca),
                   PAYSANDBOX_ADMIN=f"{sim.base_url}/__admin")


def test_stripe_node(sim: TlsSimulator, node: Path) -> None:
    out = flow(sim, node, "stripe")
    assert out["authorized"] == "requires_capture"
    assert out["idempotency_key"] == out["key"]  # read from the response's header
    assert out["captured"] == ["succeeded", 1500]
    assert out["refund"] == ["succeeded", 500]
    assert out["order_id"] == "6735"  # metadata updated after payment
    assert out["decline"] == {"type": "StripeCardError", "code": "card_declined",
                              "decline_code": "generic_decline", "status": 402,
                              "last4": "0002"}
    assert out["event"] == ["payment_intent.succeeded", True]
    assert out["billing_email"] is None  # billing_details is an object, its fields null
    assert out["saved"] == {"setup": "succeeded", "listed": True, "off_session": "succeeded",
                            "nti": True, "soft": {"type": "StripeCardError",
                                                  "code": "authentication_required",
                                                  "status": 402,
                                                  "intent": "requires_payment_method"}}


def test_adyen_node(sim: TlsSimulator, node: Path) -> None:
    out = flow(sim, node, "adyen")
    assert out["authorised"] == "Authorised"
    assert out["capture"] == "received" and out["refund"] == "received"
    assert out["refused"] == ["Refused", "Not enough balance"]
    assert {"AUTHORISATION", "CAPTURE"} <= set(out["events"])
    assert out["verified"] is True and out["forged"] is False
    assert out["stored"] == {"first": "Authorised", "token": True, "nti": True,
                             "renewal": "Authorised", "listed": [[True, "1111"]]}


def test_checkoutcom_node(sim: TlsSimulator, node: Path) -> None:
    out = flow(sim, node, "checkoutcom")
    assert out["authorized"] == ["Authorized", True]
    assert out["capture"] and out["refund"]
    assert out["declined"] == [False, "20051"]
    assert out["status"] in ("Captured", "Partially Refunded")
    assert {"payment_approved", "payment_captured"} <= set(out["types"])
    assert out["verified"] is True
    # source.id and scheme_id of the first payment, then a merchant-initiated renewal;
    # the scheme_id quoted for another card is refused
    assert out["saved"] == {"first": [True, True, True],
                            "renewal": [True, "Authorized", True],
                            "other_card": [False, "20057"]}


def test_mercadopago_node(sim: TlsSimulator, node: Path) -> None:
    out = flow(sim, node, "mercadopago")
    assert out["authorized"] == ["authorized", "pending_capture"]
    assert out["captured"] == ["approved", 40]  # the amount captured, not authorized
    assert out["refund"] == ["approved", 10]
    assert out["listed"] == [True]  # listed through the path ending in a slash
    assert out["rejected"] == ["rejected", "cc_rejected_insufficient_amount"]
    assert out["notified"] is True
    assert out["saved"] == {"card": [True, "6351"], "listed": [True],
                            "paid": ["approved", "accredited", True, True]}


def test_mollie_node(sim: TlsSimulator, node: Path) -> None:
    out = flow(sim, node, "mollie")
    assert out["open"] == ["open", True]
    assert out["paid"] == "paid"
    assert out["refund"][1] == "4.00" and out["refund"][0] in ("queued", "pending")
    assert out["notified"] == ["first:paid", "second:failed"]
    assert out["recurring"] == {"first": ["open", "paid", "first"],
                                "mandates": [[True, "valid", "creditcard"]],
                                "renewal": ["paid", "recurring", True, True]}


def test_razorpay_node(sim: TlsSimulator, node: Path) -> None:
    out = flow(sim, node, "razorpay")
    assert out["authorized"] == "authorized"
    assert out["captured"] == ["captured", 30000]
    assert out["refund"] == ["refund", 4000]
    assert out["declined"] == ["failed", True]
    assert {"payment.authorized", "payment.captured"} <= set(out["events"])
    assert out["verified"] is True
