"""Secure by default, each test written as the attack it stops: code from the store, a web
page driving the admin API, webhooks aimed at the simulator's network, card data and
secrets leaking into what the admin API shows, a credential naming an internal
namespace."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import pickle
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import requests
import stripe
from mollie.api.error import UnprocessableEntityError

from paysandbox.settings import Settings, WebhookTarget
from paysandbox.testing.server import SimulatorServer
from tests.conftest import WebhookReceiver, receiving
from tests.providers import mercadopago_sdk, mollie_support
from tests.providers.test_daraja_stk import Daraja

METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


@pytest.fixture
def server() -> Iterator[Callable[..., SimulatorServer]]:
    """Simulators with settings of the test's own, stopped afterwards."""
    started: list[SimulatorServer] = []

    def start(**settings: Any) -> SimulatorServer:
        s = SimulatorServer(Settings(**settings))
        s.start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def empty_redis(redis_url: str) -> Iterator[redis.Redis]:
    """The session's redis-server, emptied: these simulators use the default key prefix."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def stripe_sdk(sim: SimulatorServer, key: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(key or f"sk_test_{uuid.uuid4().hex}",
                               base_addresses={"api": sim.url("stripe")},
                               max_network_retries=0)


def a_payment(sim: SimulatorServer, key: str | None = None) -> stripe.PaymentIntent:
    return stripe_sdk(sim, key).v1.payment_intents.create(params={
        "amount": 1000, "currency": "usd", "confirm": True, "payment_method": "pm_card_visa"})


# -- the store holds data, never code ---------------------------------------------------


class _CreatesAFile:
    """What an attacker who can reach the Redis writes: unpickling it creates a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.path), "w")


def test_a_pickled_payment_written_into_redis_is_refused_never_run(
        empty_redis: redis.Redis, redis_url: str, tmp_path: Path,
        server: Callable[..., SimulatorServer]) -> None:
    sim = server(store=redis_url)
    key = f"sk_test_{uuid.uuid4().hex}"
    pi = a_payment(sim, key)
    stored = f"paysandbox:ns{{{quote(key, safe='')}}}:pay:{pi.id}"
    assert json.loads(empty_redis.get(stored) or b"")["id"] == pi.id  # data, readable as such

    marker = tmp_path / "pwned"
    empty_redis.set(stored, pickle.dumps(_CreatesAFile(marker), pickle.HIGHEST_PROTOCOL))

    with pytest.raises(stripe.APIError) as info:
        stripe_sdk(sim, key).v1.payment_intents.retrieve(pi.id)
    assert info.value.http_status == 503
    assert f"refusing the stored record {stored}: it is a pickle" in str(info.value)
    listing = requests.get(f"{sim.base_url}/__admin/payments", timeout=10)
    assert listing.status_code == 503
    assert "never loaded" in listing.json()["error"]["message"]
    assert not marker.exists()  # refused, not run


def test_a_foreign_record_in_redis_is_refused_with_a_clear_error(
        empty_redis: redis.Redis, redis_url: str, server: Callable[..., SimulatorServer]
) -> None:
    sim = server(store=redis_url)
    key = f"sk_test_{uuid.uuid4().hex}"
    pi = a_payment(sim, key)
    empty_redis.set(f"paysandbox:ns{{{key}}}:pay:{pi.id}", b'{"v": 1, "id": "pi_x"}')
    got = requests.get(f"{sim.base_url}/__admin/payments/{pi.id}", timeout=10)
    assert got.status_code == 503
    assert "missing or malformed" in got.json()["error"]["message"]


# -- card fingerprints are keyed, with the install's key --------------------------------


def test_card_fingerprints_are_hmacs_under_the_key_kept_in_redis(
        empty_redis: redis.Redis, redis_url: str, server: Callable[..., SimulatorServer]
) -> None:
    number = "4242424242424242"
    first = SimulatorServer(Settings(store=redis_url))
    first.start()
    try:
        pm = stripe_sdk(first).v1.payment_methods.retrieve("pm_card_visa")
    finally:
        first.stop()
    key = bytes.fromhex((empty_redis.get("paysandbox:!secret:card-fingerprint") or b"").decode())
    assert len(key) == 32
    assert pm.card.fingerprint == hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:16]
    # BIN and last4 sit beside it: a bare hash of the number would give the number away.
    assert pm.card.fingerprint != hashlib.sha256(number.encode()).hexdigest()[:16]

    again = server(store=redis_url)  # a restart, or another process of the fleet
    assert stripe_sdk(again).v1.payment_methods.retrieve("pm_card_visa").card.fingerprint \
        == pm.card.fingerprint
    again.admin("POST", "/reset")  # a full reset keeps the install's key
    assert empty_redis.get("paysandbox:!secret:card-fingerprint") == key.hex().encode()


def test_memory_stores_fingerprint_under_a_key_of_their_own(
        server: Callable[..., SimulatorServer]) -> None:
    one, two = server(), server()
    fingerprints = {stripe_sdk(s).v1.payment_methods.retrieve("pm_card_visa").card.fingerprint
                    for s in (one, two, one)}
    assert len(fingerprints) == 2  # stable in a process, unrelated between processes
    assert hashlib.sha256(b"4242424242424242").hexdigest()[:16] not in fingerprints


# -- no web page can drive the admin API -------------------------------------------------


def admin(sim: SimulatorServer, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/__admin{path}", timeout=10, **kwargs)


def test_a_text_plain_post_from_a_page_cannot_reset_or_move_the_clock(
        payment_simulator: SimulatorServer) -> None:
    pi = a_payment(payment_simulator)
    before = payment_simulator.admin("GET", "/clock")
    for path, body in (("/reset", "{}"), ("/clock/advance", '{"by": "30d"}'),
                       (f"/payments/{pi.id}/complete", '{"outcome": "failure"}')):
        for headers in ({"Content-Type": "text/plain"}, {}):  # what a form or fetch sends
            refused = admin(payment_simulator, "POST", path, data=body, headers=headers)
            assert refused.status_code == 415, refused.text
            assert "application/json" in refused.json()["error"]["message"]
    form = admin(payment_simulator, "POST", "/reset", data={"namespace": "x"})
    assert form.status_code == 415
    assert payment_simulator.admin("GET", f"/payments/{pi.id}")["status"] == "captured"
    assert payment_simulator.admin("GET", "/clock")["offset"] == before["offset"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:12111", "127.0.0.1.nip.io",
                                  "[::ffff:7f00:1]x", ""])
def test_a_rebinding_host_can_neither_read_nor_change_anything(
        payment_simulator: SimulatorServer, host: str) -> None:
    """DNS rebinding: the attacker's name now resolves to 127.0.0.1, so the page's
    requests arrive with the attacker's Host. Reading the journal (and its secrets) and
    resetting are both refused."""
    pi = a_payment(payment_simulator)
    for method, path, body in (("GET", "/journal", None), ("GET", "/webhooks", None),
                               ("POST", "/reset", {})):
        refused = admin(payment_simulator, method, path, json=body, headers={"Host": host})
        assert refused.status_code == 403, refused.text
        assert "--allowed-host" in refused.json()["error"]["message"]
    assert payment_simulator.admin("GET", f"/payments/{pi.id}")["id"] == pi.id


def test_a_cross_origin_browser_request_is_refused(payment_simulator: SimulatorServer) -> None:
    pi = a_payment(payment_simulator)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}):
        refused = admin(payment_simulator, "POST", "/reset", json={}, headers=headers)
        assert refused.status_code == 403, (headers, refused.text)
        assert "Cross-" in refused.json()["error"]["message"]
    assert payment_simulator.admin("GET", f"/payments/{pi.id}")["id"] == pi.id
    own = payment_simulator.base_url  # the simulator's own origin, as its pages send it
    ok = admin(payment_simulator, "GET", "/health",
               headers={"Origin": own, "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 200


def test_hosts_the_operator_allows_are_answered(server: Callable[..., SimulatorServer]) -> None:
    sim = server(allowed_hosts=("sim.ci.internal",), public_url="http://simulator:12111")
    for host in ("sim.ci.internal:8080", "SIM.CI.INTERNAL", "simulator:12111", "localhost",
                 "127.0.0.1:1", "[::1]:80"):
        got = admin(sim, "POST", "/clock/advance", json={"by": "1s"}, headers={"Host": host})
        assert got.status_code == 200, (host, got.text)
    assert admin(sim, "GET", "/health", headers={"Host": "other.ci.internal"}).status_code \
        == 403


@pytest.mark.parametrize("authorization", [
    "Bearer tökén".encode("latin-1"), "Bearer ✓ token".encode(), b"Bearer \xff\xfe",
    b"Basic czNjcmV0", b"", b"Bearer", b"Bearer s3cret-but-longer"])
def test_a_wrong_token_of_any_bytes_is_a_401_never_a_500(
        server: Callable[..., SimulatorServer], authorization: bytes) -> None:
    sim = server(admin_token="s3cret")
    got = requests.post(f"{sim.base_url}/__admin/reset", json={}, timeout=10,
                        headers={"Authorization": authorization})
    assert got.status_code == 401, got.text
    assert "admin token" in got.json()["error"]["message"]
    right = requests.post(f"{sim.base_url}/__admin/reset", json={}, timeout=10,
                          headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200


async def test_beyond_loopback_a_made_up_token_is_printed_and_required() -> None:
    """`paysandbox serve --host 0.0.0.0` without a token: one is made up, printed in the
    banner, and the admin API wants it (served here on loopback, as a test must)."""
    from aiohttp.test_utils import TestClient, TestServer

    from paysandbox.app import create_app
    from paysandbox.cli import banner

    settings = Settings(host="0.0.0.0", providers=("stripe",))
    token = settings.admin_token
    assert token and settings.admin_token_generated
    assert f"admin token     {token}  (made up for this run" in banner(settings, 12111)
    async with TestClient(TestServer(create_app(settings))) as client:
        without = await client.get("/__admin/health")
        assert without.status == 401
        with_it = await client.get("/__admin/health",
                                   headers={"Authorization": f"Bearer {token}"})
        assert with_it.status == 200


# -- webhooks go only where the operator allows -------------------------------------------


@pytest.mark.filterwarnings("ignore:notification_url is deprecated")  # still sent, still read
@pytest.mark.parametrize("url", [METADATA, "http://192.0.2.10/hook", "http://[fe80::1]/hook",
                                 "http://0.0.0.0:8000/hook"])
def test_callback_urls_to_refused_addresses_get_each_providers_own_4xx(
        payment_simulator: SimulatorServer, url: str) -> None:
    with pytest.raises(UnprocessableEntityError) as mollie_refusal:
        mollie_support.create(mollie_support.client(payment_simulator), webhookUrl=url)
    assert "destination not allowed" in str(mollie_refusal.value)

    mp = mercadopago_sdk.sdk(payment_simulator.url("mercadopago")).payment().create({
        "transaction_amount": 100, "payment_method_id": "pix", "description": "Order 1",
        "payer": {"email": "buyer@example.com"}, "notification_url": url})
    assert mp["status"] == 400, mp
    assert "destination not allowed" in mp["response"]["message"]

    daraja = Daraja(payment_simulator.url("daraja")).push(callback=url)
    assert daraja.status_code == 400, daraja.text
    assert "destination not allowed" in daraja.json()["errorMessage"]

    with pytest.raises(stripe.InvalidRequestError) as stripe_refusal:
        stripe_sdk(payment_simulator).v1.webhook_endpoints.create(
            params={"url": url, "enabled_events": ["*"]})
    assert stripe_refusal.value.param == "url"
    assert "destination not allowed" in str(stripe_refusal.value)

    put = admin(payment_simulator, "PUT", "/webhooks/stripe", json={"url": url})
    assert put.status_code == 400 and "destination not allowed" in put.text
    assert payment_simulator.admin("GET", "/webhooks/deliveries")["deliveries"] == []


def test_private_and_compose_style_destinations_are_accepted(
        payment_simulator: SimulatorServer) -> None:
    c = mollie_support.client(payment_simulator)
    for url in ("http://10.0.0.1/hook", "http://[fd00::1]/hook", "http://payment-service:8000/x",
                "http://127.0.0.1:9/hook"):
        assert mollie_support.create(c, webhookUrl=url).webhook_url == url


class _Redirecting(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(307)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[Callable[[str], str]]:
    servers: list[ThreadingHTTPServer] = []

    def make(target: str) -> str:
        handler = type("Handler", (_Redirecting,), {"target": target})
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/hook"

    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def test_a_redirecting_receiver_is_not_followed(
        payment_simulator: SimulatorServer, redirecting: Callable[[str], str]) -> None:
    with receiving(WebhookReceiver) as elsewhere:
        hook = redirecting(elsewhere.url)
        payment_simulator.admin("PUT", "/webhooks/stripe", {"url": hook})
        pi = a_payment(payment_simulator)

        def attempted() -> dict[str, Any] | None:
            for d in payment_simulator.client.deliveries(provider="stripe"):
                if d["attempts"] and pi.id in json.dumps(
                        payment_simulator.admin("GET", f"/webhooks/deliveries/{d['id']}")):
                    return d
            return None

        from paysandbox.testing.client import wait_until
        delivery = wait_until(attempted, 10, "no delivery attempt")
        first = delivery["attempts"][0]
        assert first["status"] == 307
        assert "a redirect: not followed" in first["error"]
        assert delivery["state"] == "pending"  # to be retried at the same URL, as providers do
        assert elsewhere.attempts == 0  # the attempt is over, and nothing reached the target


class _Chatty(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b"internal: db password hunter2"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def chatty() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Chatty)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook"
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("keep", [False, True])
def test_receiver_replies_are_kept_as_status_and_size_unless_asked(
        server: Callable[..., SimulatorServer], chatty: str, keep: bool) -> None:
    sim = server(keep_webhook_replies=keep)
    sim.admin("PUT", "/webhooks/stripe", {"url": chatty})
    a_payment(sim)
    from paysandbox.testing.client import wait_until
    delivery = wait_until(lambda: next((d for d in sim.client.deliveries()
                                        if d["attempts"]), None), 10, "no attempt")
    error = delivery["attempts"][0]["error"]
    assert error.startswith("receiver answered 500")
    if keep:
        assert "hunter2" in error
    else:
        assert "hunter2" not in error and "(29 bytes)" in error


# -- no secrets or card numbers in what the admin API shows -------------------------------


def test_url_credentials_reach_the_receiver_but_never_admin_output_or_logs(
        payment_simulator: SimulatorServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with receiving(WebhookReceiver) as rx:
        rx.user, rx.password, rx.fail_first = "shop", "pa55w0rd", 1
        url = rx.url.replace("http://", "http://shop:pa55w0rd@")
        put = payment_simulator.admin("PUT", "/webhooks/stripe", {"url": url})
        a_payment(payment_simulator)
        assert rx.wait_for(lambda got: len(got) >= 1)  # Basic auth checked by the receiver
        payment_simulator.advance_clock("1h")  # the first attempt failed: retried
        assert rx.wait_for(lambda got: len(got) >= 3)
    shown = json.dumps([put, payment_simulator.admin("GET", "/webhooks"),
                        payment_simulator.client.deliveries()])
    assert "pa55w0rd" not in shown and "***@127.0.0.1" in shown
    assert "webhook" in caplog.text and "pa55w0rd" not in caplog.text


def test_url_credentials_in_requests_never_reach_the_journal_or_the_banner(
        payment_simulator: SimulatorServer) -> None:
    from paysandbox.cli import banner

    hook = "http://shop:pa55w0rd@127.0.0.1:9/hook"
    mollie_support.create(mollie_support.client(payment_simulator), webhookUrl=hook)
    stripe_sdk(payment_simulator).v1.webhook_endpoints.create(  # form-encoded on the wire
        params={"url": hook, "enabled_events": ["*"]})
    shown = json.dumps(payment_simulator.journal())
    assert "pa55w0rd" not in shown
    assert "http://***@127.0.0.1:9/hook" in shown and "http%3A%2F%2F***%40127.0.0.1" in shown
    settings = Settings(webhooks={"stripe": WebhookTarget(hook, "whsec_x")})
    assert "pa55w0rd" not in banner(settings, 12111)


def test_an_access_token_in_the_query_is_masked_in_the_journal(
        payment_simulator: SimulatorServer) -> None:
    token = mercadopago_sdk.new_token()
    requests.get(f"{payment_simulator.url('mercadopago')}/v1/payments/search",
                 params={"access_token": token, "external_reference": "o-1"}, timeout=10)
    entry = payment_simulator.journal(provider="mercadopago")[0]
    assert entry["query"] == "access_token=***&external_reference=o-1"
    assert token not in json.dumps(payment_simulator.journal())


@pytest.mark.parametrize("written", ["4242 4242 4242 4242", "4242-4242-4242-4242",
                                     "4000 0566 5566 5556"])
def test_a_card_number_with_separators_never_shows_in_the_journal(
        payment_simulator: SimulatorServer, written: str) -> None:
    from tests.providers.checkoutcom_support import card_payment, sdk

    request = card_payment(number=written)
    with contextlib.suppress(Exception):  # accepted or refused, the journal keeps it
        sdk(payment_simulator.url("checkoutcom")).payments.request_payment(request)
    shown = json.dumps(payment_simulator.journal(provider="checkoutcom"))
    digits = written.replace(" ", "").replace("-", "")
    assert written not in shown and digits not in shown
    assert f"{digits[:6]}******{digits[-4:]}" in shown


def test_violating_values_that_are_card_data_or_secrets_are_redacted(
        payment_simulator: SimulatorServer) -> None:
    body = {"amount": {"currency": "EUR", "value": 1000}, "merchantAccount": "TestMerchant",
            "reference": 4111111111111111, "returnUrl": "http://127.0.0.1:9/back",
            "paymentMethod": {"type": "scheme", "number": "4111111111111111",
                              "expiryMonth": "03", "expiryYear": "2030", "cvc": 737}}
    got = requests.post(f"{payment_simulator.url('adyen')}/checkout/v71/payments", json=body,
                        headers={"X-API-Key": f"AQE_{uuid.uuid4().hex}"}, timeout=10)
    assert got.status_code == 400, got.text
    assert "4111111111111111" not in got.text and "737" not in got.json()["message"]
    report = payment_simulator.admin("GET", "/contracts")
    journal = payment_simulator.journal(provider="adyen")[0]
    values = {g["field"]: g["first"]["value"] for g in report["groups"]}
    assert values["reference"] == "411111******1111"
    assert values["paymentMethod.cvc"] == "[redacted]"
    assert "4111111111111111" not in json.dumps([report, journal])
    assert "737" not in json.dumps(report["groups"]) + str(journal["request"])


# -- internal namespaces are out of every credential's reach ------------------------------


def test_a_credential_named_like_the_hosted_pages_namespace_is_just_another_tenant(
        payment_simulator: SimulatorServer) -> None:
    pi = stripe_sdk(payment_simulator).v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "confirm": True,
        "payment_method": "pm_card_threeDSecure2Required",
        "return_url": "https://shop.example/return"})
    challenge = pi.next_action.redirect_to_url.url
    assert requests.get(challenge, timeout=10).status_code == 200

    for squatter in ("__hosted__", "\x00hosted", "hosted"):
        encoded = base64.b64encode(f"{squatter}:pw".encode()).decode()
        paid = requests.post(
            f"{payment_simulator.url('adyen')}/checkout/v71/payments", timeout=10,
            headers={"Authorization": f"Basic {encoded}"},
            json={"amount": {"currency": "EUR", "value": 1000},
                  "merchantAccount": "TestMerchant", "reference": "r",
                  "returnUrl": "http://127.0.0.1:9/back",
                  "paymentMethod": {"type": "scheme", "number": "4111111111111111",
                                    "expiryMonth": "03", "expiryYear": "2030", "cvc": "737"}})
        assert paid.status_code == 200, paid.text
        # The squatting tenant resets its own namespace, as a test suite does.
        payment_simulator.admin("POST", "/reset", {"namespace": squatter})
        assert requests.get(challenge, timeout=10).status_code == 200, squatter


# -- the clients this package ships pass the checks --------------------------------------


def test_the_shipped_admin_clients_send_what_the_admin_api_requires(
        server: Callable[..., SimulatorServer]) -> None:
    """The pytest plugin's client, the Locust suites' client and the reference service
    each change state through the admin API (JSON or YAML, the token when one is set)."""
    from paysandbox.examples.payment_service.config import for_simulator
    from paysandbox.examples.payment_service.server import register_webhooks
    from paysandbox.loadtests.admin import Admin
    from paysandbox.testing.client import AdminClient

    sim = server(admin_token="s3cret")
    rule = "{match: {provider: stripe}, latency: {distribution: fixed, value: 1ms}}"
    scenario = (f"name: shipped-clients\nstart: manual\nrules: [{rule}]\n"
                f"phases:\n  - {{after: 1s, for: 1s, rules: [{rule}]}}\n")
    plugin_client = AdminClient(sim.base_url, token="s3cret")
    assert plugin_client.use_scenario(scenario) == "shipped-clients"
    plugin_client.advance_clock("1s")
    plugin_client.clear_scenarios()
    plugin_client.reset()

    locust_admin = Admin(sim.base_url, token="s3cret")
    locust_admin.load_scenario("shipped-clients", scenario)
    assert locust_admin.start_scenario("shipped-clients")["started"]
    with pytest.raises(RuntimeError, match="answered 404"):  # its own error, not a refusal
        locust_admin.complete("pi_missing")

    config = for_simulator(sim.base_url, ["stripe", "adyen"]).with_public_url(
        "http://127.0.0.1:9")
    register_webhooks(config, admin_token="s3cret")
    configured = plugin_client.call("GET", "/webhooks")["endpoints"]
    assert set(configured) == {"stripe", "adyen"}
