"""Any client, unchanged: the official SDKs with their production defaults (no base URL)
reach the simulator on the providers' real hostnames over TLS, with only a hosts entry
and the local CA in their environment (see tls_support for how, and why as root)."""

from __future__ import annotations

import socket
import ssl
import textwrap
from pathlib import Path

import pytest
import stripe

from tests.conftest import WebhookReceiver, receiving
from tests.e2e import tls_support
from tests.e2e.tls_support import CHECKOUT_SUBDOMAIN, TlsSimulator

sim = tls_support.simulator  # the module's `paysandbox serve --tls`


def _client(code: str) -> str:
    return textwrap.dedent(code).lstrip()


STRIPE = _client("""
    import json, sys, uuid
    import stripe

    client = stripe.StripeClient(f"sk_test_{uuid.uuid4().hex}", max_network_retries=0)
    endpoint = client.v1.webhook_endpoints.create(params={
        "url": sys.argv[1], "enabled_events": ["payment_intent.succeeded"]})
    params = {"amount": 2000, "currency": "usd", "payment_method": "pm_card_visa"}
    pi = client.v1.payment_intents.create(params=params,
                                          options={"idempotency_key": "order-1"})
    again = client.v1.payment_intents.create(params=params,
                                             options={"idempotency_key": "order-1"})
    confirmed = client.v1.payment_intents.confirm(pi.id)
    try:
        client.v1.payment_intents.create(params={
            "amount": 2000, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_chargeDeclined"})
        declined = None
    except stripe.CardError as exc:
        declined = {"status": exc.http_status, "code": exc.code}
    print(json.dumps({"id": pi.id, "replayed": again.id, "status": confirmed.status,
                      "secret": endpoint.secret, "declined": declined}))
""")


def test_stripe_sdk_on_api_stripe_com(sim: TlsSimulator) -> None:
    """Create, an idempotent replay, confirm, a decline in Stripe's error envelope and
    a signed webhook: the same behaviour as on the prefix."""
    with receiving(lambda base: WebhookReceiver(base + "/hooks")) as rx:
        out = sim.run_client(STRIPE.replace("sys.argv[1]", repr(rx.url)))
        assert out["status"] == "succeeded"
        assert out["replayed"] == out["id"]
        assert out["declined"] == {"status": 402, "code": "card_declined"}
        assert rx.wait_for(lambda got: any(r.json()["type"] == "payment_intent.succeeded"
                                           for r in got))
    delivery = next(r for r in rx.received if r.json()["type"] == "payment_intent.succeeded")
    event = stripe.Webhook.construct_event(delivery.body.decode(),
                                           delivery.headers["Stripe-Signature"], out["secret"])
    assert event.data.object.id == out["id"]
    # Served on the provider's own paths, journaled as if through the prefix.
    entries = sim.admin(f"/journal?provider=stripe&path=/v1/payment_intents/{out['id']}")
    assert [e["path"] for e in entries["entries"]] == \
        [f"/stripe/v1/payment_intents/{out['id']}/confirm"]


ADYEN = _client("""
    import json, uuid
    import Adyen
    from Adyen.exceptions import AdyenAPIUnprocessableEntity

    adyen = Adyen.Adyen(xapikey="AQE_" + uuid.uuid4().hex, platform="test")
    body = {"amount": {"currency": "EUR", "value": 1000}, "reference": "order-1",
            "merchantAccount": "TestMerchant", "returnUrl": "https://shop.example/return",
            "paymentMethod": {"type": "scheme", "number": "4111111111111111",
                              "expiryMonth": "03", "expiryYear": "2030", "cvc": "737"}}
    paid = adyen.checkout.payments_api.payments(body).message
    try:
        adyen.checkout.payments_api.payments({**body, "amount": {"currency": "EUR"}})
        refused = None
    except AdyenAPIUnprocessableEntity as exc:
        refused = str(exc)
    print(json.dumps({"resultCode": paid["resultCode"], "refused": refused}))
""")


def test_adyen_sdk_on_checkout_test_adyen_com(sim: TlsSimulator) -> None:
    out = sim.run_client(ADYEN)
    assert out["resultCode"] == "Authorised"
    assert "'errorCode': '100'" in out["refused"]  # Adyen's own validation envelope
    assert "amount.value" in out["refused"]
    entries = sim.admin("/journal?provider=adyen")["entries"]
    assert {e["path"] for e in entries} == {"/adyen/checkout/v72/payments"}


CHECKOUT = _client("""
    import json, secrets
    from checkout_sdk.checkout_sdk import CheckoutSdk
    from checkout_sdk.common.enums import Currency
    from checkout_sdk.environment import Environment
    from checkout_sdk.payments.payments import PaymentRequest, PaymentRequestCardSource

    key = "sk_sbox_" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567")
                               for _ in range(27))
    api = CheckoutSdk.builder().secret_key(key).environment(Environment.sandbox()) \\
        .environment_subdomain(SUBDOMAIN).build()
    source = PaymentRequestCardSource()
    source.number, source.expiry_month, source.expiry_year, source.cvv = \\
        "4242424242424242", 12, 2035, "100"
    request = PaymentRequest()
    request.source, request.amount, request.currency, request.reference = \\
        source, 1000, Currency.USD, "ORD-1"
    paid = api.payments.request_payment(request)
    print(json.dumps({"status": paid.status, "self": paid._links.self.href}))
""")


def test_checkout_sdk_on_its_merchant_subdomain(sim: TlsSimulator) -> None:
    """The SDK's default: {prefix}.api.sandbox.checkout.com, covered by the wildcard."""
    out = sim.run_client(CHECKOUT.replace("SUBDOMAIN", repr(CHECKOUT_SUBDOMAIN)))
    assert out["status"] == "Authorized"
    assert out["self"].startswith(
        f"https://{CHECKOUT_SUBDOMAIN}.api.sandbox.checkout.com/payments/pay_")


MOLLIE = _client("""
    import json, uuid
    import requests
    from mollie.api.client import Client

    client = Client()
    client.set_api_key(f"test_{uuid.uuid4().hex}")
    payment = client.payments.create({
        "amount": {"currency": "EUR", "value": "10.00"}, "description": "Order 1",
        "redirectUrl": "https://shop.example/return", "method": "ideal"})
    again = client.payments.get(payment.id)
    page = requests.get(payment.checkout_url, timeout=30)
    print(json.dumps({"status": again.status, "self": payment["_links"]["self"]["href"],
                      "checkout": payment.checkout_url, "page": page.status_code,
                      "html": page.headers["Content-Type"]}))
""")


def test_mollie_sdk_on_api_mollie_com_and_its_hosted_checkout(sim: TlsSimulator) -> None:
    """API links name the real host without the prefix; the hosted checkout is linked
    on the host the request came to, and opens there."""
    out = sim.run_client(MOLLIE)
    assert out["status"] == "open"
    assert out["self"].startswith("https://api.mollie.com/v2/payments/tr_")
    assert out["checkout"].startswith("https://api.mollie.com/__hosted/mollie/checkout/")
    assert out["page"] == 200
    assert out["html"].startswith("text/html")


RAZORPAY = _client("""
    import json, uuid
    import razorpay

    client = razorpay.Client(auth=("rzp_test_" + uuid.uuid4().hex[:14], "secret"))
    order = client.order.create({"amount": 50000, "currency": "INR", "receipt": "r1"})
    fetched = client.order.fetch(order["id"])
    print(json.dumps({"status": fetched["status"], "amount": fetched["amount"]}))
""")


def test_razorpay_sdk_on_api_razorpay_com(sim: TlsSimulator) -> None:
    assert sim.run_client(RAZORPAY) == {"status": "created", "amount": 50000}


MERCADOPAGO = _client("""
    import json, uuid
    import mercadopago

    token = f"TEST-{uuid.uuid4().int % 10**16:016d}-010203-{uuid.uuid4().hex}-123456"
    mp = mercadopago.SDK(token, request_options=mercadopago.config.RequestOptions(
        max_retries=0))
    card = mp.card_token().create({
        "card_number": "5031433215406351", "expiration_month": 11,
        "expiration_year": 2030, "security_code": "123",
        "cardholder": {"name": "APRO",
                       "identification": {"type": "CPF", "number": "12345678909"}}})
    paid = mp.payment().create({
        "transaction_amount": 100.5, "token": card["response"]["id"], "installments": 1,
        "payment_method_id": "master",
        "payer": {"email": "buyer@testuser.com",
                  "identification": {"type": "CPF", "number": "19119119100"}}})
    print(json.dumps({"http": paid["status"], "status": paid["response"]["status"]}))
""")


def test_mercadopago_sdk_on_api_mercadopago_com(sim: TlsSimulator) -> None:
    assert sim.run_client(MERCADOPAGO) == {"http": 201, "status": "approved"}


DARAJA = _client("""
    import json
    import requests

    r = requests.get("https://sandbox.safaricom.co.ke/oauth/v1/generate",
                     params={"grant_type": "client_credentials"}, auth=("key", "secret"),
                     timeout=30)
    print(json.dumps({"status": r.status_code, "token": bool(r.json().get("access_token"))}))
""")


def test_daraja_on_sandbox_safaricom_co_ke(sim: TlsSimulator) -> None:
    """No official Python SDK: a plain HTTPS client, as Daraja's own samples use."""
    assert sim.run_client(DARAJA) == {"status": 200, "token": True}


def test_a_name_not_in_the_certificate_fails_tls(sim: TlsSimulator) -> None:
    context = ssl.create_default_context(cafile=str(sim.ca))
    with socket.create_connection((sim.address, 443), timeout=10) as raw, \
            pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        context.wrap_socket(raw, server_hostname="api.example.com")
    with socket.create_connection((sim.address, 443), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="api.stripe.com") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_the_ca_is_kept_and_exported(sim: TlsSimulator, tmp_path: Path) -> None:
    """`paysandbox ca path|export` name and print the CA the server was issued from."""
    import subprocess
    import sys

    ca_dir = str(sim.ca.parent)
    path = subprocess.run([sys.executable, "-m", "paysandbox", "ca", "path", "--ca-dir",
                           ca_dir], capture_output=True, text=True, timeout=60, check=True)
    assert path.stdout.strip() == str(sim.ca)
    pem = subprocess.run([sys.executable, "-m", "paysandbox", "ca", "export", "--ca-dir",
                          ca_dir], capture_output=True, text=True, timeout=60, check=True)
    assert pem.stdout == sim.ca.read_text()


NODE_PACKAGES = ("@adyen/api-library@32", "@mollie/api-client@4")
NODE = """
const { Client, CheckoutAPI } = require("@adyen/api-library");
const { createMollieClient } = require("@mollie/api-client");

(async () => {
  const checkout = new CheckoutAPI(new Client({ apiKey: "AQE_node", environment: "TEST" }));
  const paid = await checkout.PaymentsApi.payments({
    amount: { currency: "EUR", value: 1000 }, reference: "node-1",
    merchantAccount: "TestMerchant", returnUrl: "https://shop.example/return",
    paymentMethod: { type: "scheme", number: "4111111111111111", expiryMonth: "03",
                     expiryYear: "2030", cvc: "737" } });
  const mollie = createMollieClient({ apiKey: "test_" + "n".repeat(30) });
  const payment = await mollie.payments.create({
    amount: { currency: "EUR", value: "10.00" }, description: "Order 1",
    redirectUrl: "https://shop.example/return", method: "ideal" });
  console.log(JSON.stringify({ adyen: paid.resultCode, mollie: payment.status,
                               checkout: payment.getCheckoutUrl() }));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.fixture(scope="module")
def node_sdks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Adyen's and Mollie's Node SDKs (both refuse anything but https to their own
    hosts), installed from npm into a folder of this run."""
    import shutil
    import subprocess

    if shutil.which("node") is None or shutil.which("npm") is None:
        tls_support.unavailable("node and npm are needed for the Node SDK check.")
    folder = tmp_path_factory.mktemp("node")
    try:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                        "--prefix", str(folder), *NODE_PACKAGES], check=True,
                       capture_output=True, text=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        tls_support.unavailable(f"npm could not install {', '.join(NODE_PACKAGES)}: {exc}")
    (folder / "client.js").write_text(NODE)
    return folder


def test_node_sdks_that_force_https_reach_the_real_hostnames(sim: TlsSimulator,
                                                             node_sdks: Path) -> None:
    """The cross-language check: Node trusts the CA through NODE_EXTRA_CA_CERTS. Mollie's
    Node SDK ignores it: it always hands its agent the CA list inlined in its bundle, so
    the CA is added to that list, as an image build would patch it (see README)."""
    import json

    bundle = node_sdks / "node_modules/@mollie/api-client/dist/mollie.cjs.js"
    text = bundle.read_text()
    pinned = 'var caCertificates = "'
    assert pinned in text, f"{bundle} no longer inlines its CA list: see how it trusts now"
    if str(sim.ca) not in text:
        ours = json.dumps(sim.ca.read_text())[1:-1]
        bundle.write_text(text.replace(pinned, f"{pinned}{ours}", 1) + f"\n// {sim.ca}\n")
    out = sim.run(["node", str(node_sdks / "client.js")], NODE_EXTRA_CA_CERTS=str(sim.ca))
    assert out["adyen"] == "Authorised"
    assert out["mollie"] == "open"
    assert out["checkout"].startswith("https://api.mollie.com/__hosted/mollie/checkout/")


JAVA = """
import java.net.URI;
import java.net.http.*;

public class Client {
    public static void main(String[] args) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(
                URI.create("https://api.stripe.com/v1/payment_intents"))
            .header("Authorization", "Bearer sk_test_jvm")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString(
                "amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa"))
            .build();
        HttpResponse<String> response = HttpClient.newHttpClient()
            .send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println("{\\"status\\": " + response.statusCode() + ", \\"succeeded\\": "
            + response.body().contains("\\"status\\":\\"succeeded\\"") + "}");
    }
}
"""


def test_the_jvm_trusts_the_ca_through_a_truststore(sim: TlsSimulator, tmp_path: Path) -> None:
    """The README's JVM recipe as written: keytool imports the CA into a truststore, and
    JAVA_TOOL_OPTIONS points the JDK's own HTTPS client at it."""
    import shutil
    import subprocess

    if shutil.which("java") is None or shutil.which("keytool") is None:
        pytest.skip("no JDK (java, keytool): the JVM recipe is not checked here")
    store = tmp_path / "paysandbox.jks"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "paysandbox", "-file",
                    str(sim.ca), "-keystore", str(store), "-storepass", "changeit"],
                   check=True, capture_output=True, timeout=60)
    source = tmp_path / "Client.java"
    source.write_text(JAVA)
    out = sim.run(["java", str(source)], JAVA_TOOL_OPTIONS=(
        f"-Djavax.net.ssl.trustStore={store} -Djavax.net.ssl.trustStorePassword=changeit"))
    assert out == {"status": 200, "succeeded": True}
