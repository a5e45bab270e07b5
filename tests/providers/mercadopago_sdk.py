"""The official Mercado Pago SDK pointed at the simulator, and a webhook check.

The SDK has no base-URL setting (`Config.api_base_url` is fixed), but it takes an
`http_client`: this one sends every call to the simulator's `/mercadopago` prefix
instead of https://api.mercadopago.com, and changes nothing else.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import mercadopago
from mercadopago.http import HttpClient
from mercadopago.webhook import WebhookSignatureValidator

API = "https://api.mercadopago.com"


class SimulatorHttpClient(HttpClient):  # type: ignore[misc]
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method: str, url: str, maxretries: Any = None, retry_on: Any = None,
                backoff_factor: Any = None, **kwargs: Any) -> Any:
        assert url.startswith(API), url
        return super().request(method, self.base_url + url[len(API):], maxretries=maxretries,
                               retry_on=retry_on, backoff_factor=backoff_factor, **kwargs)


def new_token() -> str:
    """A fresh test access token: its own namespace in the simulator."""
    app, user = uuid.uuid4().int % 10**16, uuid.uuid4().int % 10**9
    return f"TEST-{app:016d}-010203-{uuid.uuid4().hex}-{user}"


def sdk(base_url: str, token: str | None = None) -> mercadopago.SDK:
    options = mercadopago.config.RequestOptions(max_retries=0)
    return mercadopago.SDK(token or new_token(), http_client=SimulatorHttpClient(base_url),
                           request_options=options)


def verify(headers: dict[str, str], path: str, secret: str) -> str:
    """Check a delivery with the SDK's own validator; returns the notified payment id."""
    data_id = parse_qs(urlsplit(path).query)["data.id"][0]
    lowered = {k.lower(): v for k, v in headers.items()}
    WebhookSignatureValidator.validate(lowered["x-signature"], lowered["x-request-id"],
                                       data_id, secret, tolerance_seconds=300)
    return data_id


def ok(result: dict[str, Any], status: int = 200) -> Any:
    """The response body of an SDK call that must answer `status`."""
    assert result["status"] == status, result
    return result["response"]
