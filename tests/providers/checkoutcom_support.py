"""The official Checkout.com SDK pointed at the simulator, for the checkoutcom tests.

The SDK has no "base URL" option: an `Environment` carries its hosts. Version 4.x
prepends a merchant subdomain to the host unless told `use_legacy_domain()` (which it
flags as deprecated): a subdomain of 127.0.0.1 would not resolve, so the tests opt out.
"""

from __future__ import annotations

import secrets
import uuid
import warnings
from typing import Any

from checkout_sdk.checkout_sdk import CheckoutSdk
from checkout_sdk.common.enums import Currency
from checkout_sdk.environment import Environment
from checkout_sdk.payments.payments import (
    CaptureRequest,
    PaymentRequest,
    PaymentRequestCardSource,
    RefundRequest,
    ThreeDsRequest,
    VoidRequest,
)

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"

__all__ = [
    "CaptureRequest",
    "RefundRequest",
    "VoidRequest",
    "card_payment",
    "environment",
    "new_key",
    "previous_sdk",
    "sdk",
]


def new_key() -> str:
    """A sandbox secret key of the shape the SDK accepts: its own namespace."""
    return "sk_sbox_" + "".join(secrets.choice(_BASE32) for _ in range(27))


def environment(base_url: str) -> Environment:
    base = base_url.rstrip("/") + "/"
    return Environment(base_uri=base, authorization_uri=base + "connect/token",
                       files_uri=base, transfers_uri=base, balances_uri=base,
                       forward_uri=base, identity_uri=base, is_sandbox=True)


def sdk(base_url: str, key: str | None = None) -> Any:
    builder = CheckoutSdk.builder().secret_key(key or new_key()) \
        .environment(environment(base_url))
    with warnings.catch_warnings():  # use_legacy_domain() and the risk client's notice
        warnings.simplefilter("ignore", DeprecationWarning)
        return builder.use_legacy_domain().build()


def previous_sdk(base_url: str, key: str | None = None) -> Any:
    """The Previous (ABC) platform SDK: the raw `sk_test_…` key, without "Bearer"."""
    builder = CheckoutSdk.builder().previous().secret_key(key or f"sk_test_{uuid.uuid4()}") \
        .environment(environment(base_url))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return builder.build()


def card_payment(number: str = "4242424242424242", amount: int = 1000, *,
                 currency: Any = Currency.USD, capture: bool | None = None,
                 three_ds: bool = False, reference: str | None = None,
                 success_url: str | None = None, failure_url: str | None = None,
                 **extra: Any) -> PaymentRequest:
    source = PaymentRequestCardSource()
    source.number = number
    source.expiry_month = 12
    source.expiry_year = 2035
    source.cvv = "100"
    source.name = "Jia Tsang"
    request = PaymentRequest()
    request.source = source
    request.amount = amount
    request.currency = currency
    request.reference = reference or f"ORD-{uuid.uuid4().hex[:8]}"
    if capture is not None:
        request.capture = capture
    if three_ds:
        tds = ThreeDsRequest()
        tds.enabled = True
        request.three_ds = tds
    if success_url:
        request.success_url = success_url
    if failure_url:
        request.failure_url = failure_url
    for key, value in extra.items():
        setattr(request, key, value)
    return request
