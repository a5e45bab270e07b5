"""The service's configuration: which acquirers, where they are, credentials, and the
resilience knobs. Base URLs default to a local payments-sandbox simulator; point them
at the real providers' test endpoints and nothing else changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from paysandbox.examples.payment_service.adapters.daraja import SANDBOX_PASSKEY, SANDBOX_SHORTCODE

DEFAULT_SIMULATOR = "http://127.0.0.1:12111"
KNOWN = ("stripe", "adyen", "checkoutcom", "mollie", "mercadopago", "razorpay", "daraja")

#: Where each provider lives under a simulator (payments-sandbox mounts each under its
#: name; the part after it is what the provider's own base URL would be).
_SIM_PATHS = {"stripe": "/stripe", "adyen": "/adyen/checkout", "checkoutcom": "/checkoutcom",
              "mollie": "/mollie", "mercadopago": "/mercadopago", "razorpay": "/razorpay",
              "daraja": "/daraja"}


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    api_key: str
    webhook_secret: str
    merchant_account: str = "PaysandboxReferenceECOM"   # Adyen
    api_secret: str = ""            # Razorpay's key secret, Daraja's consumer secret
    shortcode: str = SANDBOX_SHORTCODE  # Daraja: the paybill, and its passkey
    passkey: str = SANDBOX_PASSKEY
    #: Adyen: where settlement reports are downloaded, by a report user (Basic auth;
    #: its password is `report_password`, or the API key when empty).
    reports_url: str = ""
    report_user: str = ""
    report_password: str = ""


@dataclass(frozen=True)
class ServiceConfig:
    providers: Mapping[str, ProviderSettings]
    timeout_s: float = 5.0          # per provider call
    retries: int = 2                # per provider, same idempotency key
    backoff_s: float = 0.05         # doubled per retry
    breaker_threshold: int = 5      # consecutive failures that open a circuit
    breaker_reset_s: float = 10.0   # how long a circuit stays open before a probe
    public_url: str = ""            # how providers reach our webhook receivers
    simulator_url: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_public_url(self, url: str) -> ServiceConfig:
        return replace(self, public_url=url.rstrip("/"))


def _secret(provider: str) -> str:
    """A 64-hex secret per provider: usable by every scheme, including Adyen's hex keys."""
    return hashlib.sha256(f"reference-service:{provider}".encode()).hexdigest()


def for_simulator(url: str = DEFAULT_SIMULATOR, providers: Iterable[str] = KNOWN,
                  **options: Any) -> ServiceConfig:
    url = url.rstrip("/")
    keys = {"stripe": "sk_test_reference_service", "adyen": "AQE_reference_service",
            "checkoutcom": "sk_sbox_reference_service",
            "mollie": "test_referenceservice00000000000000",
            "mercadopago": "TEST-0000000000000000-reference-service",
            "razorpay": "rzp_test_referencesvc", "daraja": "reference_service_consumer"}
    chosen = {}
    for name in providers:
        if name not in _SIM_PATHS:
            raise ValueError(f"unknown provider {name!r}; this service has adapters for "
                             f"{', '.join(KNOWN)}")
        reports = {"reports_url": url + "/adyen/reports/download",
                   "report_user": "report@Company.PaysandboxReference"} \
            if name == "adyen" else {}
        chosen[name] = ProviderSettings(name, url + _SIM_PATHS[name], keys[name],
                                        _secret(name), api_secret=f"{name}_secret",
                                        **reports)
    return ServiceConfig(providers=chosen, simulator_url=url, **options)


def from_file(path: str | Path) -> ServiceConfig:
    """JSON: {"providers": {"stripe": {"base_url": …, "api_key": …, "webhook_secret": …}},
    "timeout_s": 5, "retries": 2, …}. `${VAR}` in a string is read from the environment."""
    doc = json.loads(Path(path).read_text())

    def env(v: Any) -> Any:
        return os.path.expandvars(v) if isinstance(v, str) else v

    providers = {name: ProviderSettings(name=name, **{k: env(v) for k, v in p.items()})
                 for name, p in doc.pop("providers").items()}
    return ServiceConfig(providers=providers, **{k: env(v) for k, v in doc.items()})
