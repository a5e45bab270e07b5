"""What a user gets from `pip install payments-sandbox`, outside any checkout: every
command the README documents, one official-SDK flow per provider against `paysandbox
serve`, the pytest plugin in a fresh project, and a short load run."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import re
import signal
import subprocess
import sys
import textwrap
import uuid
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import Adyen
import mercadopago
import pytest
import razorpay
import requests
import stripe
from checkout_sdk.checkout_sdk import CheckoutSdk
from checkout_sdk.common.enums import Currency
from checkout_sdk.environment import Environment
from checkout_sdk.payments.payments import PaymentRequest, PaymentRequestCardSource
from conftest import PAYSANDBOX, Served
from mercadopago.http import HttpClient
from mollie.api.client import Client as Mollie

import paysandbox
from paysandbox.testing.client import AdminClient, wait_until

HERE = Path(__file__).resolve().parent


def run(*args: str, timeout: float = 60, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PAYSANDBOX, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


# -- what is installed -------------------------------------------------------------------


def test_everything_comes_from_site_packages() -> None:
    assert "site-packages" in Path(paysandbox.__file__).parts, paysandbox.__file__
    files = metadata.files("payments-sandbox") or []
    top = {f.parts[0] for f in files if not f.parts[0].endswith((".dist-info", "..")) and
           f.parts[0] != "bin"}
    assert top == {"paysandbox"}, f"the wheel installs other top-level names: {top}"
    shipped = {f.as_posix() for f in files}
    for data in ("paysandbox/contracts_data/scenario.schema.json",
                 "paysandbox/contracts_data/stripe/operations.json",
                 "paysandbox/providers/adyen/refusals.yaml",
                 "paysandbox/scenarios/ready/acquirer-brownout.yaml",
                 "paysandbox/loadtests/checkout.py",
                 "paysandbox/examples/payment_service/__main__.py",
                 "paysandbox/py.typed"):
        assert data in shipped, f"{data} is not in the wheel"


def test_providers_lists_every_base_url() -> None:
    done = run("providers")
    assert done.returncode == 0, done.stderr
    for name in ("stripe", "adyen", "checkoutcom", "mollie", "razorpay", "mercadopago",
                 "daraja"):
        assert name in done.stdout
    assert "/adyen/checkout/v71" in done.stdout


# -- scenario files ----------------------------------------------------------------------


def test_validate_a_ready_made_scenario_a_good_file_and_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: good\nrules:\n  - match: {provider: stripe}\n"
                    "    outcome: {decline: insufficient_funds}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nrules:\n  - match: {provider: stripe}\n"
                   "    latency: {distribution: lognormal, median: -5ms}\n")
    ok = run("validate", "acquirer-brownout", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 files OK" in ok.stdout
    refused = run("validate", str(bad))
    assert refused.returncode == 1
    assert re.search(rf"{re.escape(str(bad))}:4:\d+ \$\.rules\[0\]\.latency", refused.stdout), \
        refused.stdout


def test_scenarios_load_list_and_unload_by_name(served: Served) -> None:
    loaded = run("scenarios", "load", "--url", served.url, "outage-timeline")
    assert loaded.returncode == 0, loaded.stderr
    assert "loaded outage-timeline" in loaded.stdout
    listed = run("scenarios", "--url", served.url, "list")
    assert "outage-timeline" in listed.stdout and "happy-path" in listed.stdout
    assert run("scenarios", "unload", "--url", served.url, "outage-timeline").returncode == 0


def test_the_dashboard_and_its_files_are_served_from_the_wheel(served: Served) -> None:
    page = requests.get(f"{served.url}/__admin/ui", timeout=10)
    assert page.status_code == 200 and "/__admin/ui/static/app.js" in page.text
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        got = requests.get(f"{served.url}/__admin/ui/static/{name}", timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"].startswith(kind), name
        assert len(got.content) > 1000, name


# -- one official SDK flow per provider, against `paysandbox serve` -------------------------


def test_stripe(served: Served) -> None:
    client = stripe.StripeClient("sk_test_wheel", base_addresses={"api": served.url + "/stripe"})
    pi = client.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})
    assert pi.status == "succeeded"
    delivery = served.receiver.wait_for("stripe", "payment_intent.succeeded")
    event = stripe.Webhook.construct_event(delivery.body.decode(),
                                           delivery.headers["stripe-signature"],
                                           served.receiver.secret("stripe"))
    assert event.data.object["id"] == pi.id
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(params={
            "amount": 2000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds"})
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "insufficient_funds"


def test_a_saved_card_charged_off_session_and_the_ledger_export(served: Served) -> None:
    key = f"sk_test_{uuid.uuid4().hex}"
    client = stripe.StripeClient(key, base_addresses={"api": served.url + "/stripe"})
    cus = client.v1.customers.create()
    first = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "usd", "customer": cus.id, "confirm": True,
        "payment_method": "pm_card_visa", "setup_future_usage": "off_session"})
    renewal = client.v1.payment_intents.create(params={
        "amount": 1500, "currency": "usd", "customer": cus.id, "confirm": True,
        "payment_method": first.payment_method, "off_session": True})
    assert renewal.status == "succeeded"
    with pytest.raises(stripe.CardError) as soft:
        client.v1.payment_intents.create(params={
            "amount": 1500, "currency": "usd", "confirm": True, "off_session": True,
            "payment_method": "pm_card_authenticationRequired"})
    assert soft.value.code == "authentication_required"
    export = run("ledger", "export", "--url", served.url, "--namespace", key)
    assert export.returncode == 0, export.stderr
    lines = export.stdout.splitlines()
    assert lines[0].startswith("id,type,provider,payment")
    assert sorted(line.split(",")[3] for line in lines[1:]) == sorted([first.id, renewal.id])


def adyen_card_payment(served: Served, key: str, merchant_account: str, value: int
                       ) -> dict[str, Any]:
    """An authorised card payment through the Adyen SDK, as a shop makes one."""
    adyen = Adyen.Adyen(xapikey=key, platform="test")
    adyen.checkout.payments_api.baseUrl = served.url + "/adyen/checkout/v71"
    res: dict[str, Any] = adyen.checkout.payments_api.payments({
        "amount": {"currency": "EUR", "value": value}, "reference": f"order-{value}",
        "merchantAccount": merchant_account, "returnUrl": "https://shop.example/return",
        "paymentMethod": {"type": "scheme", "encryptedCardNumber": "test_4111111111111111",
                          "encryptedExpiryMonth": "test_03", "encryptedExpiryYear": "test_2030",
                          "encryptedSecurityCode": "test_737"}}).message
    assert res["resultCode"] == "Authorised"
    return res


def test_adyen(served: Served) -> None:
    res = adyen_card_payment(served, "AQE_wheel", "WheelECOM", 1000)
    delivery = served.receiver.wait_for("adyen", "AUTHORISATION")
    item = delivery.json()["notificationItems"][0]["NotificationRequestItem"]
    assert item["pspReference"] == res["pspReference"]
    assert Adyen.util.is_valid_hmac_notification(item, served.receiver.secret("adyen"))


def test_payouts_their_report_runs_and_adyens_settlement_report(served: Served) -> None:
    """The ledger's surfaces from the wheel: a Stripe payout and its reconciliation
    report's CSV, an Adyen batch announced by REPORT_AVAILABLE and downloaded from it."""
    key = f"sk_test_{uuid.uuid4().hex}"
    client = stripe.StripeClient(key, base_addresses={"api": served.url + "/stripe"})
    client.v1.payment_intents.create(params={
        "amount": 10_000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})
    adyen_key = f"AQE_{uuid.uuid4().hex}"
    paid = adyen_card_payment(served, adyen_key, "WheelSettleECOM", 2000)
    AdminClient(served.url).advance_clock("4d")  # available, paid out and arrived

    (payout,) = client.v1.payouts.list().data
    assert payout.status == "paid" and 0 < payout.amount < 10_000
    run = client.v1.reporting.report_runs.create(params={
        "report_type": "payout_reconciliation.itemized.5",
        "parameters": {"payout": payout.id}})
    file = client.v1.reporting.report_runs.retrieve(run.id).result
    assert file is not None and file.url is not None
    got = requests.get(file.url.replace("https://files.stripe.com", served.url + "/stripe"),
                       auth=(key, ""), timeout=30)
    assert got.status_code == 200, got.text
    (row,) = list(csv.DictReader(io.StringIO(got.text)))
    assert (row["automatic_payout_id"], row["reporting_category"], row["gross"]) == (
        payout.id, "charge", "100.00")

    def announced() -> list[dict[str, Any]]:
        items = [d.json()["notificationItems"][0]["NotificationRequestItem"]
                 for d in served.receiver.received("adyen", "REPORT_AVAILABLE")]
        return [i for i in items if i["merchantAccountCode"] == "WheelSettleECOM"]

    wait_until(announced, 10, "REPORT_AVAILABLE for WheelSettleECOM")
    (item,) = announced()
    assert Adyen.util.is_valid_hmac_notification(item, served.receiver.secret("adyen"))
    report = requests.get(item["reason"], timeout=30,
                          auth=("report@Company.Wheel", adyen_key))
    assert report.status_code == 200, report.text
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [r["Type"] for r in rows] == ["Settled", "MerchantPayout"]
    assert rows[0]["Psp Reference"] == paid["pspReference"]


def test_checkoutcom(served: Served) -> None:
    base = served.url + "/checkoutcom/"
    env = Environment(base_uri=base, authorization_uri=base + "connect/token", files_uri=base,
                      transfers_uri=base, balances_uri=base, forward_uri=base,
                      identity_uri=base, is_sandbox=True)
    builder = CheckoutSdk.builder().secret_key("sk_sbox_" + "a" * 27).environment(env)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "use_legacy_domain", DeprecationWarning)
        api = builder.use_legacy_domain().build()
    source = PaymentRequestCardSource()
    source.number, source.expiry_month, source.expiry_year, source.cvv = \
        "4242424242424242", 12, 2035, "100"
    request = PaymentRequest()
    request.source, request.amount, request.currency = source, 1000, Currency.USD
    request.reference = "ORD-wheel"
    payment = api.payments.request_payment(request)
    assert payment.approved is True and payment.status == "Authorized"


def test_mollie(served: Served) -> None:
    mollie = Mollie()
    mollie.set_api_endpoint(served.url + "/mollie")
    mollie.set_api_key("test_" + uuid.uuid4().hex)
    payment = mollie.payments.create({
        "amount": {"currency": "EUR", "value": "10.00"}, "description": "Order #1",
        "redirectUrl": "https://shop.example/return", "method": "ideal",
        "webhookUrl": served.receiver.url("mollie")})
    assert payment.status == "open"
    AdminClient(served.url).complete(payment.id, "success")
    assert served.receiver.wait_for("mollie").body == f"id={payment.id}".encode()
    assert mollie.payments.get(payment.id).status == "paid"


def test_razorpay(served: Served) -> None:
    rzp = razorpay.Client(auth=("rzp_test_wheel", "secret"), base_url=served.url + "/razorpay")
    order = rzp.order.create({"amount": 5000, "currency": "INR", "receipt": "r-wheel"})
    assert order["status"] == "created"
    answer = rzp.payment.createUpi({
        "amount": 5000, "currency": "INR", "order_id": order["id"], "method": "upi",
        "email": "gaurav.kumar@example.com", "contact": "9000090000",
        "upi": {"flow": "collect", "vpa": "success@razorpay"}})
    payment_id = answer["razorpay_payment_id"]
    AdminClient(served.url).complete(payment_id, "success")
    assert rzp.payment.fetch(payment_id)["status"] == "captured"


class _ToSimulator(HttpClient):  # type: ignore[misc]
    """Mercado Pago's SDK has no base URL setting; its http_client is the way in."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        return super().request(method, url.replace("https://api.mercadopago.com",
                                                   self.base_url), **kwargs)


def test_mercadopago(served: Served) -> None:
    token = f"TEST-{uuid.uuid4().int % 10**16:016d}-010203-{uuid.uuid4().hex}-123456789"
    sdk = mercadopago.SDK(token, http_client=_ToSimulator(served.url + "/mercadopago"))
    created = sdk.payment().create({
        "transaction_amount": 100, "description": "Order", "payment_method_id": "pix",
        "payer": {"email": "test_user@example.com"}})
    assert created["status"] == 201, created
    assert created["response"]["status"] == "pending"


def test_daraja(served: Served) -> None:
    base = served.url + "/daraja"
    token = requests.get(base + "/oauth/v1/generate?grant_type=client_credentials",
                         auth=("wheel-key", "secret"), timeout=5).json()["access_token"]
    stamp = "20260301120000"
    passkey = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
    pushed = requests.post(base + "/mpesa/stkpush/v1/processrequest", timeout=5, json={
        "BusinessShortCode": "174379", "Timestamp": stamp,
        "Password": base64.b64encode(f"174379{passkey}{stamp}".encode()).decode(),
        "TransactionType": "CustomerPayBillOnline", "Amount": 10, "PartyA": "254708374149",
        "PartyB": "174379", "PhoneNumber": "254708374149",
        "CallBackURL": served.receiver.url("daraja"), "AccountReference": "INV-1",
        "TransactionDesc": "Payment"}, headers={"Authorization": f"Bearer {token}"})
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["ResponseCode"] == "0"


# -- contracts, load, demo -------------------------------------------------------------


def test_contracts_report_and_verify(served: Served, tmp_path: Path) -> None:
    admin = AdminClient(served.url)
    admin.call("DELETE", "/contracts")
    sent = requests.post(served.url + "/stripe/v1/payment_intents", auth=("sk_test_c", ""),
                         data={"amount": 100, "currency": "usd", "colour": "blue"}, timeout=5)
    assert sent.status_code == 200  # --contracts report: served, and recorded
    report = run("contracts", "report", "--url", served.url)
    assert report.returncode == 0 and "colour" in report.stdout, report.stdout
    verify = run("contracts", "verify", "--url", served.url, "--junit",
                 str(tmp_path / "contracts.xml"))
    assert verify.returncode == 1 and "colour" in verify.stdout
    assert "colour" in (tmp_path / "contracts.xml").read_text()
    admin.call("DELETE", "/contracts")
    assert run("contracts", "verify", "--url", served.url).returncode == 0


def test_a_ten_second_load_of_the_providers_suite(served: Served, tmp_path: Path) -> None:
    done = run("load", "--suite", "providers", "--simulator", served.url, "--users", "4",
               "--spawn-rate", "4", "--run-time", "10s", "--scenario", "acquirer-brownout",
               "--slo", "rps>1", "--report", str(tmp_path / "load"), timeout=120,
               cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SLO PASS rps>1" in done.stdout
    assert (tmp_path / "load" / "report.html").stat().st_size > 0


def test_the_demo_runs_from_site_packages(tmp_path: Path) -> None:
    done = run("demo", "--run-time", "10s", "--report", str(tmp_path / "demo"), timeout=180,
               cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "circuit breaker stripe:" in done.stdout
    assert (tmp_path / "demo" / "report.html").stat().st_size > 0


# -- the pytest plugin in a fresh project ------------------------------------------------


def test_the_readmes_pytest_example_in_a_fresh_project(tmp_path: Path) -> None:
    readme = (HERE / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## In your own pytest suite"):]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None
    (tmp_path / "test_checkout.py").write_text(textwrap.dedent(block.group(1)))
    (tmp_path / "test_marker.py").write_text(textwrap.dedent('''
        import pytest, stripe

        @pytest.mark.payment_scenario("decline-mix-us")
        def test_ready_made_scenario_by_name(payment_simulator):
            assert [s["name"] for s in payment_simulator.client.scenarios()] == [
                "decline-mix-us"]
    '''))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout


# -- the MCP server, as a coding agent starts it -----------------------------------------


def test_the_mcp_server_over_stdio_and_http(served: Served) -> None:
    from mcp import Client, StdioServerParameters

    async def providers(target: StdioServerParameters | str) -> Any:
        async with Client(target) as client:
            result = await client.call_tool("providers", {"provider": "stripe"})
            assert not result.is_error, result.content
            return result.structured_content["providers"][0]

    for target in (StdioServerParameters(command=PAYSANDBOX, args=["mcp", "--url", served.url]),
                   f"{served.url}/__admin/mcp"):
        stripe_ = asyncio.run(providers(target))
        assert stripe_["base_url"] == f"{served.url}/stripe"
        assert {"value": "4242424242424242", "result": "approved"}.items() <= \
            next(r for r in stripe_["test_values"] if r["value"] == "4242424242424242").items()
        assert stripe_["decline_codes"]["insufficient_funds"]["code"] == "card_declined"


# -- last: the served simulator stops cleanly -------------------------------------------


def test_sigterm_stops_serve_with_its_webhook_report(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    out, _ = served.process.communicate(timeout=30)
    assert served.process.returncode == 0, served.log.read_text()[-3000:]
    assert re.search(r"webhooks: \d+ delivered, 0 failed", out), out
    assert "Traceback" not in served.log.read_text()


def test_serve_tls_with_its_kept_ca(tmp_path: Path) -> None:
    """The TLS site as installed: the CA `paysandbox ca path` names (made once, kept)
    verifies the certificate, and the Stripe SDK is served over HTTPS."""
    ca_dir = tmp_path / "ca"
    path = run("ca", "path", "--ca-dir", str(ca_dir))
    assert path.returncode == 0, path.stderr
    ca = Path(path.stdout.strip())
    pem = ca.read_bytes()
    default_bundle = stripe.ca_bundle_path
    proc = subprocess.Popen([PAYSANDBOX, "serve", "--port", "0", "--tls", "--tls-port", "0",
                             "--ca-dir", str(ca_dir), "--log-level", "warning"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        banner = []
        for line in proc.stdout or ():
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        found = re.search(r"TLS +(https://127\.0\.0\.1:\d+)", "".join(banner))
        assert found, "".join(banner)
        assert str(ca) in "".join(banner)
        stripe.ca_bundle_path = str(ca)
        client = stripe.StripeClient("sk_test_wheel_tls", max_network_retries=0,
                                     base_addresses={"api": found.group(1) + "/stripe"})
        pi = client.v1.payment_intents.create(params={
            "amount": 2000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa"})
        assert pi.status == "succeeded"
    finally:
        stripe.ca_bundle_path = default_bundle
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert ca.read_bytes() == pem  # kept, not made again
