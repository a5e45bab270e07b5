"""A webhook receiver for tests: one local HTTP server with a path per provider.

The `webhook_receiver` fixture registers it as every provider's endpoint (with a secret it
knows), so a test sees what its payment service would receive, already verified:

    def test_refund_is_notified(payment_simulator, webhook_receiver):
        ...  # make a payment and refund it through the provider's SDK
        delivery = webhook_receiver.wait_for("stripe", "charge.refunded")
        assert delivery.verified and delivery.json()["data"]["object"]["refunded"]

Each delivery's signature is checked as the provider's own verifier checks it (Stripe's
`Stripe-Signature` with its timestamp, Adyen's `hmacSignature` in each item, Checkout.com's
`Cko-Signature`, Razorpay's `X-Razorpay-Signature`, Mercado Pago's `x-signature`
manifest; Mollie and M-Pesa do not sign). A delivery that fails the check is recorded with
`verified=False` and answered 401, as a careful service answers it, so the simulator
retries it; a good one is answered as the provider expects (`[accepted]` for Adyen).
Bounded: the newest MAX_KEPT deliveries are kept, bodies up to MAX_BODY bytes.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from paysandbox.providers.adyen import wire as adyen_wire
from paysandbox.providers.checkoutcom import wire as checkoutcom_wire
from paysandbox.providers.mercadopago import wire as mercadopago_wire
from paysandbox.providers.razorpay import wire as razorpay_wire
from paysandbox.providers.stripe import wire as stripe_wire
from paysandbox.settings import default_secret

MAX_KEPT = 10_000
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Delivery:
    """One webhook request as it arrived."""

    provider: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    #: True: the signature checks out; False: it does not; None: the provider does not sign.
    verified: bool | None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_type(self) -> str:
        """The provider's name for what happened (Stripe's `type`, Adyen's `eventCode`,
        Razorpay's `event`, Mercado Pago's `action`…; '' when the body does not say)."""
        return _event_type(self.provider, self.body)


class WebhookReceiver:
    """Serves `url(provider)` on 127.0.0.1 in a thread; `serving()` starts and stops it."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._secrets = dict(secrets or {})
        self._kept: deque[Delivery] = deque(maxlen=MAX_KEPT)
        self._arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def secret(self, provider: str) -> str:
        """The secret this receiver verifies `provider`'s signatures with."""
        return self._secrets.setdefault(provider, default_secret(provider))

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{provider}"

    @property
    def deliveries(self) -> list[Delivery]:
        with self._arrived:
            return list(self._kept)

    def received(self, provider: str | None = None, event_type: str | None = None
                 ) -> list[Delivery]:
        return [d for d in self.deliveries
                if (provider is None or d.provider == provider)
                and (event_type is None or d.event_type == event_type)]

    def wait_for(self, provider: str | None = None, event_type: str | None = None, *,
                 timeout: float = 10) -> Delivery:
        """The first delivery from `provider` (of `event_type`), waiting up to `timeout`
        seconds for it; TimeoutError says what did arrive."""
        def first() -> Delivery | None:
            found = [d for d in self._kept
                     if (provider is None or d.provider == provider)
                     and (event_type is None or d.event_type == event_type)]
            return found[0] if found else None

        with self._arrived:
            if self._arrived.wait_for(first, timeout):
                delivery = first()
                assert delivery is not None
                return delivery
            seen = sorted({(d.provider, d.event_type) for d in self._kept})
        raise TimeoutError(f"no {event_type or 'webhook'} from {provider or 'any provider'} "
                           f"within {timeout} s; received: {seen or 'nothing'}")

    @contextmanager
    def serving(self) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, name="webhook-receiver",
                                  daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        provider = urlsplit(request.path).path.strip("/").split("/", 1)[0]
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            _answer(request, 413, b"too large")
            return
        body = request.rfile.read(length)
        headers = {k.lower(): v for k, v in request.headers.items()}
        verify = VERIFIERS.get(provider)
        try:
            verified = None if verify is None else verify(body, headers, request.path,
                                                          self.secret(provider))
        except (ValueError, KeyError, TypeError, AttributeError):
            verified = False
        with self._arrived:
            self._kept.append(Delivery(provider, request.path, headers, body, verified))
            self._arrived.notify_all()
        if verified is False:
            _answer(request, 401, b"signature does not verify")
        else:
            _answer(request, 200, b"[accepted]" if provider == "adyen" else b"ok")


def _answer(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    request.send_response(status)
    request.send_header("Content-Type", "text/plain")
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def _pairs(header: str) -> dict[str, list[str]]:
    pairs: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        pairs.setdefault(key, []).append(value)
    return pairs


def _v1_matches(expected_header: str, given: dict[str, list[str]]) -> bool:
    (expected,) = _pairs(expected_header)["v1"]
    return any(hmac.compare_digest(expected, v1) for v1 in given.get("v1", []))


# Each recomputes what the provider signs with the provider's own signing function from
# its wire module (the same secret, the same bytes); the how-to tests cross-check the
# deliveries with the providers' SDK verifiers.

def _stripe(body: bytes, headers: Mapping[str, str], path: str, secret: str) -> bool:
    given = _pairs(headers["stripe-signature"])
    return _v1_matches(stripe_wire.signature_header(body, secret, int(given["t"][0])), given)


def _adyen(body: bytes, headers: Mapping[str, str], path: str, secret: str) -> bool:
    items = [w["NotificationRequestItem"] for w in json.loads(body)["notificationItems"]]
    return bool(items) and all(
        hmac.compare_digest(adyen_wire.hmac_signature(item, secret),
                            str((item.get("additionalData") or {}).get("hmacSignature", "")))
        for item in items)


def _body_hmac(header: str, sign: Callable[[bytes, str], str]
               ) -> Callable[[bytes, Mapping[str, str], str, str], bool]:
    def verify(body: bytes, headers: Mapping[str, str], path: str, secret: str) -> bool:
        return hmac.compare_digest(sign(body, secret), headers[header])
    return verify


def _mercadopago(body: bytes, headers: Mapping[str, str], path: str, secret: str) -> bool:
    given = _pairs(headers["x-signature"])
    query = parse_qs(urlsplit(path).query)
    data_id = (query.get("data.id") or [str(json.loads(body)["data"]["id"])])[0]
    return _v1_matches(mercadopago_wire.signature_header(
        data_id, headers["x-request-id"], secret, int(given["ts"][0])), given)


#: How each provider's own verifier checks a delivery; providers not listed do not sign.
VERIFIERS: Mapping[str, Callable[[bytes, Mapping[str, str], str, str], bool]] = {
    "stripe": _stripe,
    "adyen": _adyen,
    "checkoutcom": _body_hmac("cko-signature", checkoutcom_wire.signature),
    "razorpay": _body_hmac("x-razorpay-signature", razorpay_wire.signature),
    "mercadopago": _mercadopago,
}


def _event_type(provider: str, body: bytes) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return ""  # Mollie's form-encoded id=tr_…
    if not isinstance(doc, dict):
        return ""
    if provider == "adyen":
        items = doc.get("notificationItems") or [{}]
        return str(items[0].get("NotificationRequestItem", {}).get("eventCode", ""))
    if provider == "daraja":
        return "stk.callback" if "Body" in doc else ""
    if provider == "mercadopago" and isinstance(doc.get("action"), str):
        return str(doc["action"])
    for key in ("type", "event", "action"):
        if isinstance(doc.get(key), str):
            return str(doc[key])
    return ""
