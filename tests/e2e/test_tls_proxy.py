"""The HTTPS proxy mode: a client that honours HTTPS_PROXY reaches the providers' real
hostnames through it, with no hosts entry, trusting the CA through its environment; a
CONNECT to any other host or port, or any other request, is refused, never forwarded."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import tls_support


@dataclass
class Proxied:
    host: str
    port: int
    ca: Path
    proc: subprocess.Popen[str]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    ca_dir = tmp_path_factory.mktemp("proxy") / "ca"
    proc, banner = tls_support.serve("--port", "0", "--tls-port", "0", "--proxy-port", "0",
                                     "--ca-dir", str(ca_dir))
    found = re.search(r"HTTPS_PROXY=http://([\d.]+):(\d+)", banner)
    assert found, banner
    output: list[str] = []  # drained, so the server's log never fills the pipe
    threading.Thread(target=lambda: output.extend(proc.stdout or ()), daemon=True).start()
    try:
        yield Proxied(found.group(1), int(found.group(2)), ca_dir / "ca.pem", proc)
    finally:
        proc.terminate()
        proc.wait(30)
        assert "Traceback" not in "".join(output), "".join(output)


CLIENT = textwrap.dedent("""
    import json, uuid
    import Adyen
    from mollie.api.client import Client

    mollie = Client()
    mollie.set_api_key(f"test_{uuid.uuid4().hex}")
    payment = mollie.payments.create({
        "amount": {"currency": "EUR", "value": "10.00"}, "description": "Order 1",
        "redirectUrl": "https://shop.example/return", "method": "ideal"})
    adyen = Adyen.Adyen(xapikey="AQE_" + uuid.uuid4().hex, platform="test")
    paid = adyen.checkout.payments_api.payments({
        "amount": {"currency": "EUR", "value": 1000}, "reference": "order-1",
        "merchantAccount": "TestMerchant", "returnUrl": "https://shop.example/return",
        "paymentMethod": {"type": "scheme", "number": "4111111111111111",
                          "expiryMonth": "03", "expiryYear": "2030", "cvc": "737"}}).message
    print(json.dumps({"mollie": payment.status, "self": payment["_links"]["self"]["href"],
                      "adyen": paid["resultCode"]}))
""")


def test_sdks_reach_the_providers_through_the_proxy(proxied: Proxied, tmp_path: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    env = {k: v for k, v in os.environ.items()
           if k.upper() not in ("HTTP_PROXY", "ALL_PROXY", "NO_PROXY")}
    env.update(HTTPS_PROXY=f"http://{proxied.host}:{proxied.port}",
               REQUESTS_CA_BUNDLE=str(proxied.ca), SSL_CERT_FILE=str(proxied.ca))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["mollie"], out["adyen"]) == ("open", "Authorised")
    assert out["self"].startswith("https://api.mollie.com/v2/payments/tr_")


@pytest.mark.parametrize("request_head", [
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "CONNECT api.stripe.com:8443 HTTP/1.1\r\nHost: api.stripe.com:8443\r\n\r\n",
    "CONNECT api.stripe.com.example.com:443 HTTP/1.1\r\n\r\n",
    "GET http://api.stripe.com/v1/charges HTTP/1.1\r\nHost: api.stripe.com\r\n\r\n",
])
def test_the_proxy_refuses_every_other_host_and_request(proxied: Proxied,
                                                        request_head: str) -> None:
    with socket.create_connection((proxied.host, proxied.port), timeout=10) as conn:
        conn.sendall(request_head.encode())
        answer = b""
        while chunk := conn.recv(4096):  # the proxy closes after refusing
            answer += chunk
    status, _, body = answer.decode().partition("\r\n\r\n")
    assert status.startswith("HTTP/1.1 403 Forbidden")
    assert "is never forwarded" in body
