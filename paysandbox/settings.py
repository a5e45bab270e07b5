"""One Settings object, from PAYSANDBOX_* environment variables and CLI flags.

Precedence: defaults < environment < flags. Every setting has both forms, so the same
configuration works in a shell, in docker-compose and in CI.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111
DEFAULT_TLS_PORT = 12112
ENV_PREFIX = "PAYSANDBOX_"
LOG_LEVELS = ("debug", "info", "warning", "error")
CONTRACT_MODES = ("strict", "report", "off")
STORE_SCHEMES = ("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://")
MAX_WORKERS = 64  # `--workers`: more processes than this is a typo, not a machine


class SettingsError(ValueError):
    pass


#: The bounds that keep a long run's memory flat (README, "Limits and retention"): the
#: setting, its PAYSANDBOX_* variable and the least it may be.
LIMITS: Mapping[str, tuple[str, int]] = {
    "retain_payments": ("RETAIN_PAYMENTS", 1),
    "max_payments": ("MAX_PAYMENTS", 1),
    "retain_idempotency_keys": ("RETAIN_IDEMPOTENCY_KEYS", 1),
    "max_namespaces": ("MAX_NAMESPACES", 1),
    "journal_bytes": ("JOURNAL_BYTES", 0),
    "journal_body_bytes": ("JOURNAL_BODY_BYTES", 64),
    "contract_groups": ("CONTRACT_GROUPS", 1),
    "delivery_concurrency": ("DELIVERY_CONCURRENCY", 1),
    "delivery_queue": ("DELIVERY_QUEUE", 1),
    "delivery_log": ("DELIVERY_LOG", 1),
}


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: str


def default_secret(provider: str) -> str:
    """A stable secret per provider, so a receiver configured once keeps working.

    64 hex digits: a valid key for every scheme, including those that read the key as
    hex (Adyen's HMAC keys)."""
    return hashlib.sha256(f"paysandbox:{provider}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    providers: tuple[str, ...] = ()  # empty: every installed provider
    webhooks: Mapping[str, WebhookTarget] = field(default_factory=dict)
    clock_scale: float = 1.0
    journal_size: int = 10_000
    max_body_bytes: int = 1024 * 1024
    admin_token: str | None = None
    log_level: str = "info"
    drain_timeout: float = 5.0
    public_url: str | None = None
    pricing: str | None = None  # the ledger's pricing file (None: paysandbox/ledger's)
    rates: str | None = None  # the ledger's exchange rates file (None: paysandbox/ledger's)
    scenarios: tuple[str, ...] = ()  # scenario files loaded at start-up
    watch: bool = False  # reload scenario files when they change
    contracts: str = "strict"  # strict: the provider's 4xx | report: served, recorded | off
    check_responses: bool = False  # test mode: check our own responses and webhooks too
    store: str = "memory"  # memory (this process only) | redis://host:port/db (shared)
    workers: int = 1  # processes serving one port (SO_REUSEPORT), sharing state in Redis
    allowed_hosts: tuple[str, ...] = ()  # Host names the admin API answers besides loopback
    webhook_allow: tuple[str, ...] = ()  # CIDRs and hosts webhooks may go to, beyond defaults
    keep_webhook_replies: bool = False  # keep the start of receivers' replies in deliveries
    admin_token_generated: bool = False  # set when a required token was made up at start
    tls: bool = False  # also HTTPS on tls_port, for the providers' real hostnames
    tls_port: int = DEFAULT_TLS_PORT
    ca_dir: str | None = None  # the local CA's folder; None: the user's data dir
    proxy_port: int | None = None  # HTTPS proxy for provider hosts only (implies tls)
    # Limits and retention (README): each bound says what happens at it.
    retain_payments: int = 10_000  # per namespace, newest kept; older ids answer 404
    max_payments: int = 50_000  # in all namespaces: each keeps at most its share
    idempotency_ttl: float = 86_400.0  # virtual seconds a key is remembered (Stripe: 24 h)
    idempotency_lease: float = 60.0  # real seconds an unfinished claim holds its key
    delivery_lease: float = 30.0  # real seconds a fleet process holds a delivery unrenewed
    retain_idempotency_keys: int = 10_000  # per namespace, newest kept
    max_namespaces: int = 1_000  # the least recently used one is forgotten
    journal_bytes: int = 64 * 1024 * 1024  # oldest entries go first
    journal_body_bytes: int = 16 * 1024  # each body kept up to this, with a marker
    contract_groups: int = 1_000  # distinct groups; the rest counted in one overflow group
    delivery_concurrency: int = 64  # webhook attempts at once per receiving host
    delivery_queue: int = 10_000  # owed deliveries; the oldest is dropped beyond it
    delivery_log: int = 10_000  # delivery records listed by the admin API

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be 0..65535, got {self.port}")
        if not 0 <= self.tls_port <= 65535:
            raise SettingsError(f"TLS port must be 0..65535, got {self.tls_port}")
        if self.proxy_port is not None and not 0 <= self.proxy_port <= 65535:
            raise SettingsError(f"proxy port must be 0..65535, got {self.proxy_port}")
        if not (math.isfinite(self.clock_scale) and self.clock_scale > 0):
            raise SettingsError(f"clock scale must be a finite number > 0, got "
                                f"{self.clock_scale}")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"log level must be one of {', '.join(LOG_LEVELS)}, got "
                                f"{self.log_level!r}")
        if self.contracts not in CONTRACT_MODES:
            raise SettingsError(f"contracts mode must be one of {', '.join(CONTRACT_MODES)}, "
                                f"got {self.contracts!r}")
        if self.store != "memory" and not self.store.startswith(STORE_SCHEMES):
            raise SettingsError(f"store must be `memory` or a Redis URL such as "
                                f"redis://127.0.0.1:6379/0 (rediss:// for TLS, "
                                f"redis+cluster://HOST:PORT for a Redis Cluster), got "
                                f"{self.store!r}")
        if "+cluster://" in self.store and \
                self.store.split("://", 1)[1].partition("/")[2] not in ("", "0"):
            raise SettingsError(f"a Redis Cluster has one database: give "
                                f"redis+cluster://HOST:PORT without a /DB, got {self.store!r}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise SettingsError(f"workers must be 1..{MAX_WORKERS}, got {self.workers}")
        if self.journal_size < 0:
            raise SettingsError(f"journal size must be >= 0, got {self.journal_size}")
        for name, (_, least) in LIMITS.items():
            if getattr(self, name) < least:
                raise SettingsError(f"{name.replace('_', ' ')} must be >= {least}, got "
                                    f"{getattr(self, name)}")
        if not (math.isfinite(self.idempotency_ttl) and self.idempotency_ttl > 0):
            raise SettingsError(f"idempotency TTL must be a number of seconds > 0, got "
                                f"{self.idempotency_ttl}")
        if not (math.isfinite(self.delivery_lease) and self.delivery_lease > 0):
            raise SettingsError(f"delivery lease must be a finite number of seconds > 0, got "
                                f"{self.delivery_lease}")
        if not (math.isfinite(self.idempotency_lease) and self.idempotency_lease > 0):
            raise SettingsError(f"idempotency lease must be a number of seconds > 0, got "
                                f"{self.idempotency_lease}")
        if not (math.isfinite(self.drain_timeout) and self.drain_timeout >= 0):
            raise SettingsError(f"drain timeout must be a number of seconds >= 0, got "
                                f"{self.drain_timeout}")
        if self.max_body_bytes < 1024:
            raise SettingsError(f"max body must be >= 1024 bytes, got {self.max_body_bytes}")
        if self.admin_token is not None and (
                not self.admin_token.strip() or self.admin_token != self.admin_token.strip()
                or not self.admin_token.isprintable()):
            raise SettingsError("the admin token must be printable text without leading or "
                                "trailing spaces (an empty or blank token would lock everyone "
                                "out); for example --admin-token \"$(openssl rand -hex 16)\"")
        from paysandbox.webhooks.destinations import Destinations  # imports settings

        try:
            destinations = Destinations(self.webhook_allow)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        for name, target in self.webhooks.items():
            refusal = destinations.url_refusal(target.url)
            if refusal is not None:
                raise SettingsError(f"--webhook {name}=…: destination not allowed: {refusal}")
        if self.pricing or self.rates:
            from paysandbox.ledger import BooksError, load_books

            try:
                load_books(Path(self.pricing) if self.pricing else None,
                           Path(self.rates) if self.rates else None)
            except BooksError as exc:
                raise SettingsError(f"the ledger's pricing or rates:\n{exc}") from None
        if not self.loopback and not self.admin_token:
            # Beyond loopback the admin API needs a token: make one up, and the banner
            # prints it (it is never written anywhere else).
            object.__setattr__(self, "admin_token", secrets.token_urlsafe(24))
            object.__setattr__(self, "admin_token_generated", True)

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from the environment, with `overrides` (CLI flags) on top; only the
        merged result is validated, so a flag can fix what the environment lacks."""
        return cls(**{**env_values(env), **overrides})  # type: ignore[arg-type]


def env_values(env: Mapping[str, str] | None = None) -> dict[str, object]:
    """The settings the PAYSANDBOX_* variables give, not yet validated."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        return env.get(ENV_PREFIX + name)

    values: dict[str, object] = {}
    try:
        if get("HOST"):
            values["host"] = get("HOST")
        if get("PORT"):
            values["port"] = int(get("PORT") or 0)
        if get("PROVIDERS"):
            values["providers"] = split_list(get("PROVIDERS") or "")
        if get("CLOCK_SCALE"):
            values["clock_scale"] = float(get("CLOCK_SCALE") or 0)
        if get("JOURNAL_SIZE"):
            values["journal_size"] = int(get("JOURNAL_SIZE") or 0)
        if get("MAX_BODY_BYTES"):
            values["max_body_bytes"] = int(get("MAX_BODY_BYTES") or 0)
        if get("DRAIN_TIMEOUT"):
            values["drain_timeout"] = float(get("DRAIN_TIMEOUT") or 0)
        if get("TLS_PORT"):
            values["tls_port"] = int(get("TLS_PORT") or 0)
        if get("PROXY_PORT"):
            values["proxy_port"] = int(get("PROXY_PORT") or 0)
        if get("IDEMPOTENCY_TTL"):
            values["idempotency_ttl"] = float(get("IDEMPOTENCY_TTL") or 0)
        if get("WORKERS"):
            values["workers"] = int(get("WORKERS") or 0)
        if get("IDEMPOTENCY_LEASE"):
            values["idempotency_lease"] = float(get("IDEMPOTENCY_LEASE") or 0)
        if get("DELIVERY_LEASE"):
            values["delivery_lease"] = float(get("DELIVERY_LEASE") or 0)
        for name, (variable, _) in LIMITS.items():
            if get(variable):
                values[name] = int(get(variable) or 0)
    except ValueError as exc:
        raise SettingsError(f"bad {ENV_PREFIX}* value: {exc}") from None
    for name in ("ADMIN_TOKEN", "PUBLIC_URL", "STORE", "PRICING", "RATES"):
        if get(name):
            values[name.lower()] = get(name)
    for name in ("ALLOWED_HOSTS", "WEBHOOK_ALLOW"):
        if get(name):
            values[name.lower()] = split_list(get(name) or "")
    if get("KEEP_WEBHOOK_REPLIES"):
        values["keep_webhook_replies"] = _flag(get("KEEP_WEBHOOK_REPLIES"))
    if get("SCENARIOS"):
        values["scenarios"] = tuple(p for p in (get("SCENARIOS") or "").split(os.pathsep) if p)
    if get("WATCH"):
        values["watch"] = _flag(get("WATCH"))
    if get("CONTRACTS"):
        values["contracts"] = (get("CONTRACTS") or "").lower()
    if get("CHECK_RESPONSES"):
        values["check_responses"] = _flag(get("CHECK_RESPONSES"))
    if get("TLS"):
        values["tls"] = _flag(get("TLS"))
    if get("CA_DIR"):
        values["ca_dir"] = get("CA_DIR")
    if get("LOG_LEVEL"):
        values["log_level"] = (get("LOG_LEVEL") or "").lower()
    hooks: dict[str, WebhookTarget] = {}
    secret_prefix = ENV_PREFIX + "WEBHOOK_SECRET_"
    for key, url in env.items():
        if not url.strip():
            continue  # an empty variable counts as unset, as everywhere else
        if key.startswith(ENV_PREFIX + "WEBHOOK_") and not key.startswith(secret_prefix) \
                and key != ENV_PREFIX + "WEBHOOK_ALLOW":
            provider = key[len(ENV_PREFIX + "WEBHOOK_"):].lower()
            secret = env.get(secret_prefix + provider.upper()) or default_secret(provider)
            hooks[provider] = WebhookTarget(url, secret)
    if hooks:
        values["webhooks"] = hooks
    return values


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


def split_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in text.split(",") if p.strip())


def parse_pair(text: str, what: str) -> tuple[str, str]:
    """`PROVIDER=VALUE` -> (provider, value)."""
    provider, sep, value = text.partition("=")
    if not sep or not provider.strip() or not value.strip():
        raise SettingsError(f"{what} must look like PROVIDER=VALUE, for example "
                            f"stripe=http://127.0.0.1:8000/webhooks/stripe; got {text!r}")
    return provider.strip().lower(), value.strip()
