"""Settings from PAYSANDBOX_* variables and CLI flags: defaults < environment < flags."""

from __future__ import annotations

import os

import pytest

from paysandbox.cli import build_parser, settings_from
from paysandbox.settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    Settings,
    SettingsError,
    WebhookTarget,
    default_secret,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PAYSANDBOX_* variable of the machine running the tests leaks in."""
    for name in list(os.environ):
        if name.startswith("PAYSANDBOX_"):
            monkeypatch.delenv(name)


def from_flags(*argv: str) -> Settings:
    return settings_from(build_parser().parse_args(["serve", *argv]))


# -- environment ----------------------------------------------------------------------

def test_defaults() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 12111)
    assert s.providers == ()
    assert dict(s.webhooks) == {}
    assert s.clock_scale == 1.0
    assert s.admin_token is None
    assert s.loopback
    assert s.base_url == "http://127.0.0.1:12111"


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSANDBOX_PORT", "9999")
    assert Settings.from_env().port == 9999


def test_every_variable() -> None:
    s = Settings.from_env({
        "PAYSANDBOX_HOST": "::1",
        "PAYSANDBOX_PORT": "8080",
        "PAYSANDBOX_PROVIDERS": "Stripe, adyen,,",
        "PAYSANDBOX_CLOCK_SCALE": "3600",
        "PAYSANDBOX_JOURNAL_SIZE": "0",
        "PAYSANDBOX_MAX_BODY_BYTES": "4096",
        "PAYSANDBOX_ADMIN_TOKEN": "tok",
        "PAYSANDBOX_LOG_LEVEL": "DEBUG",
        "PAYSANDBOX_DRAIN_TIMEOUT": "2.5",
        "PAYSANDBOX_PUBLIC_URL": "https://sim.example/",
        "OTHER_PORT": "1",
    })
    assert s.host == "::1"
    assert s.port == 8080
    assert s.providers == ("stripe", "adyen")
    assert s.clock_scale == 3600.0
    assert s.journal_size == 0
    assert s.max_body_bytes == 4096
    assert s.admin_token == "tok"
    assert s.log_level == "debug"
    assert s.drain_timeout == 2.5
    assert s.base_url == "https://sim.example"


def test_webhook_and_its_secret() -> None:
    s = Settings.from_env({
        "PAYSANDBOX_WEBHOOK_STRIPE": "http://127.0.0.1:8000/webhooks/stripe",
        "PAYSANDBOX_WEBHOOK_SECRET_STRIPE": "whsec_mine",
        "PAYSANDBOX_WEBHOOK_ADYEN": "http://127.0.0.1:8000/webhooks/adyen",
    })
    assert dict(s.webhooks) == {
        "stripe": WebhookTarget("http://127.0.0.1:8000/webhooks/stripe", "whsec_mine"),
        "adyen": WebhookTarget("http://127.0.0.1:8000/webhooks/adyen", default_secret("adyen")),
    }


def test_default_secret_is_stable_and_per_provider() -> None:
    assert default_secret("stripe") == default_secret("stripe")
    assert default_secret("stripe") != default_secret("adyen")
    assert len(default_secret("adyen")) == 64
    bytes.fromhex(default_secret("adyen"))  # Adyen reads its HMAC key as hex


def test_an_empty_variable_counts_as_unset() -> None:
    s = Settings.from_env({"PAYSANDBOX_PORT": "", "PAYSANDBOX_HOST": "",
                           "PAYSANDBOX_CLOCK_SCALE": ""})
    assert (s.host, s.port, s.clock_scale) == (DEFAULT_HOST, DEFAULT_PORT, 1.0)


def test_an_empty_webhook_variable_counts_as_unset() -> None:
    """As for every other PAYSANDBOX_* variable (docker-compose writes `VAR=` for an
    unset `${VAR:-}`): no webhook endpoint with an empty URL."""
    s = Settings.from_env({"PAYSANDBOX_WEBHOOK_STRIPE": ""})
    assert dict(s.webhooks) == {}


@pytest.mark.parametrize("port", ["abc", "80.5", "-1", "65536", "100000"])
def test_bad_port(port: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"PAYSANDBOX_PORT": port})


@pytest.mark.parametrize("scale", ["0", "-1", "-0.5", "fast"])
def test_bad_clock_scale(scale: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({"PAYSANDBOX_CLOCK_SCALE": scale})


@pytest.mark.parametrize("scale", ["nan", "inf", "-inf"])
def test_non_finite_clock_scale_is_refused(scale: str) -> None:
    """The virtual clock refuses a non-finite scale; settings must say so up front
    rather than let the server fail with a traceback at start-up."""
    with pytest.raises(SettingsError):
        Settings.from_env({"PAYSANDBOX_CLOCK_SCALE": scale})


def test_unknown_log_level_is_refused() -> None:
    """The flag offers debug, info, warning and error; the variable is held to the same."""
    with pytest.raises(SettingsError):
        Settings.from_env({"PAYSANDBOX_LOG_LEVEL": "loud"})


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_binding_beyond_loopback_without_a_token_makes_up_a_fresh_one(host: str) -> None:
    first, second = (Settings.from_env({"PAYSANDBOX_HOST": host}) for _ in range(2))
    assert first.admin_token_generated and second.admin_token_generated
    assert first.admin_token and second.admin_token and first.admin_token != second.admin_token
    assert len(first.admin_token) >= 32  # unguessable, never a fixed default
    s = Settings.from_env({"PAYSANDBOX_HOST": host, "PAYSANDBOX_ADMIN_TOKEN": "t"})
    assert s.host == host and not s.loopback
    assert s.admin_token == "t" and not s.admin_token_generated


@pytest.mark.parametrize("token", ["", " ", "\t\n", " padded ", "tab\tinside"])
def test_an_empty_or_blank_admin_token_is_refused_at_start_up(token: str) -> None:
    """A blank token would lock everyone out (or, trimmed, let anyone in): refused."""
    with pytest.raises(SettingsError) as info:
        Settings(admin_token=token)
    assert "admin token" in str(info.value)
    if token.strip() == "" and token:
        with pytest.raises(SettingsError):
            Settings.from_env({"PAYSANDBOX_ADMIN_TOKEN": token})
    with pytest.raises(SettingsError):
        from_flags("--admin-token", token)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_needs_no_token(host: str) -> None:
    assert Settings.from_env({"PAYSANDBOX_HOST": host}).loopback


def test_base_url_for_a_wildcard_bind() -> None:
    s = Settings(host="0.0.0.0", port=1234, admin_token="t")
    assert s.base_url == "http://127.0.0.1:1234"


@pytest.mark.parametrize(("field", "value"), [("journal_size", -1), ("max_body_bytes", 10)])
def test_other_bounds(field: str, value: int) -> None:
    with pytest.raises(SettingsError):
        Settings().replace(**{field: value})


# -- flags ----------------------------------------------------------------------------

def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSANDBOX_PORT", "8000")
    monkeypatch.setenv("PAYSANDBOX_CLOCK_SCALE", "2")
    monkeypatch.setenv("PAYSANDBOX_PROVIDERS", "adyen")
    monkeypatch.setenv("PAYSANDBOX_LOG_LEVEL", "warning")
    s = from_flags("--port", "9000", "--clock-scale", "60", "--provider", "Stripe",
                   "--log-level", "debug", "--journal-size", "5")
    assert s.port == 9000
    assert s.clock_scale == 60.0
    assert s.providers == ("stripe",)
    assert s.log_level == "debug"
    assert s.journal_size == 5


def test_environment_applies_where_no_flag_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSANDBOX_PORT", "8000")
    monkeypatch.setenv("PAYSANDBOX_PROVIDERS", "stripe,adyen")
    s = from_flags("--clock-scale", "10")
    assert s.port == 8000
    assert s.providers == ("stripe", "adyen")
    assert s.clock_scale == 10.0


def test_no_flags_no_env_is_the_defaults() -> None:
    assert from_flags() == Settings()


def test_webhook_flags() -> None:
    s = from_flags("--webhook", "stripe=http://127.0.0.1:8000/hooks",
                   "--webhook-secret", "stripe=whsec_flag",
                   "--webhook", "Adyen=http://127.0.0.1:8000/adyen")
    assert dict(s.webhooks) == {
        "stripe": WebhookTarget("http://127.0.0.1:8000/hooks", "whsec_flag"),
        "adyen": WebhookTarget("http://127.0.0.1:8000/adyen", default_secret("adyen")),
    }


def test_webhook_flag_overrides_the_environments_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSANDBOX_WEBHOOK_STRIPE", "http://env/hooks")
    monkeypatch.setenv("PAYSANDBOX_WEBHOOK_ADYEN", "http://env/adyen")
    s = from_flags("--webhook", "stripe=http://flag/hooks")
    assert s.webhooks["stripe"].url == "http://flag/hooks"
    assert s.webhooks["adyen"].url == "http://env/adyen"


def test_webhook_url_flag_keeps_the_secret_set_in_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the URL is given by the flag; the secret the receiver is configured with
    still comes from the environment (flags override what they set, nothing more)."""
    monkeypatch.setenv("PAYSANDBOX_WEBHOOK_STRIPE", "http://env/hooks")
    monkeypatch.setenv("PAYSANDBOX_WEBHOOK_SECRET_STRIPE", "whsec_env")
    s = from_flags("--webhook", "stripe=http://flag/hooks")
    assert s.webhooks["stripe"] == WebhookTarget("http://flag/hooks", "whsec_env")


def test_webhook_secret_flag_overrides_the_environments_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSANDBOX_WEBHOOK_STRIPE", "http://env/hooks")
    monkeypatch.setenv("PAYSANDBOX_WEBHOOK_SECRET_STRIPE", "whsec_env")
    s = from_flags("--webhook-secret", "stripe=whsec_flag")
    assert s.webhooks["stripe"] == WebhookTarget("http://env/hooks", "whsec_flag")


def test_webhook_secret_without_a_webhook_is_refused() -> None:
    with pytest.raises(SettingsError) as info:
        from_flags("--webhook-secret", "stripe=whsec_x")
    assert "--webhook stripe=" in str(info.value)


@pytest.mark.parametrize("text", ["stripe", "stripe=", "=http://x", " = "])
def test_malformed_webhook_flag(text: str) -> None:
    with pytest.raises(SettingsError) as info:
        from_flags("--webhook", text)
    assert "PROVIDER=VALUE" in str(info.value)


def test_flag_validation_errors() -> None:
    with pytest.raises(SettingsError):
        from_flags("--port", "70000")
    with pytest.raises(SettingsError):
        from_flags("--clock-scale", "0")
    assert from_flags("--host", "0.0.0.0").admin_token_generated
    assert from_flags("--host", "0.0.0.0", "--admin-token", "t").admin_token == "t"
    with pytest.raises(SettingsError) as info:
        from_flags("--webhook-allow", "not a host!")
    assert "--webhook-allow" in str(info.value)


def test_admin_token_flag_satisfies_a_host_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`PAYSANDBOX_HOST=0.0.0.0 paysandbox serve --admin-token T` is a complete,
    valid configuration: validation applies to the merged settings, not to the
    environment alone."""
    monkeypatch.setenv("PAYSANDBOX_HOST", "0.0.0.0")
    s = from_flags("--admin-token", "t")
    assert (s.host, s.admin_token) == ("0.0.0.0", "t")


def test_host_flag_overrides_a_host_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSANDBOX_HOST", "0.0.0.0")
    assert from_flags("--host", "127.0.0.1").host == "127.0.0.1"


def test_security_settings_from_the_environment_and_flags() -> None:
    s = Settings.from_env({"PAYSANDBOX_ALLOWED_HOSTS": "sim.internal, Other.Internal",
                           "PAYSANDBOX_WEBHOOK_ALLOW": "203.0.113.0/24,hooks.partner.example",
                           "PAYSANDBOX_KEEP_WEBHOOK_REPLIES": "1"})
    assert s.allowed_hosts == ("sim.internal", "other.internal")
    assert s.webhook_allow == ("203.0.113.0/24", "hooks.partner.example")
    assert s.keep_webhook_replies and not s.webhooks  # WEBHOOK_ALLOW is no provider's URL
    assert Settings().allowed_hosts == () and not Settings().keep_webhook_replies
    flags = from_flags("--allowed-host", "a.internal", "--allowed-host", "b.internal",
                       "--webhook-allow", "10.9.0.0/16", "--keep-webhook-replies")
    assert flags.allowed_hosts == ("a.internal", "b.internal")
    assert flags.webhook_allow == ("10.9.0.0/16",) and flags.keep_webhook_replies


def test_a_webhook_to_a_refused_destination_is_refused_at_start_up() -> None:
    with pytest.raises(SettingsError) as info:
        from_flags("--webhook", "stripe=http://169.254.169.254/latest/meta-data/")
    assert "destination not allowed: 169.254.169.254" in str(info.value)
    widened = from_flags("--webhook", "stripe=http://8.8.8.8/hook", "--webhook-allow", "8.8.8.8")
    assert widened.webhooks["stripe"].url == "http://8.8.8.8/hook"


def test_tls_settings_from_the_environment_and_flags() -> None:
    env = {"PAYSANDBOX_TLS": "1", "PAYSANDBOX_TLS_PORT": "8443", "PAYSANDBOX_CA_DIR": "/ca",
           "PAYSANDBOX_PROXY_PORT": "3128"}
    s = Settings.from_env(env)
    assert (s.tls, s.tls_port, s.ca_dir, s.proxy_port) == (True, 8443, "/ca", 3128)
    assert (Settings().tls, Settings().tls_port, Settings().proxy_port) == (False, 12112, None)
    args = build_parser().parse_args(["serve", "--tls", "--tls-port", "443", "--ca-dir", "d",
                                      "--proxy-port", "0"])
    s = settings_from(args)
    assert (s.tls, s.tls_port, s.ca_dir, s.proxy_port) == (True, 443, "d", 0)
    with pytest.raises(SettingsError, match=r"TLS port must be 0\.\.65535"):
        Settings(tls_port=70000)


# -- limits and retention -------------------------------------------------------------

def test_every_limit_has_a_variable_and_a_flag() -> None:
    from paysandbox.settings import LIMITS

    env = {f"PAYSANDBOX_{variable}": str(least + 7) for variable, least in LIMITS.values()}
    env["PAYSANDBOX_IDEMPOTENCY_TTL"] = "3600"
    s = Settings.from_env(env)
    for name, (_, least) in LIMITS.items():
        assert getattr(s, name) == least + 7, name
    assert s.idempotency_ttl == 3600.0
    argv = [a for name in LIMITS for a in (f"--{name.replace('_', '-')}", "123456")]
    s = from_flags(*argv, "--idempotency-ttl", "60")
    for name in LIMITS:
        assert getattr(s, name) == 123456, name
    assert s.idempotency_ttl == 60.0


def test_limits_below_their_least_are_errors() -> None:
    with pytest.raises(SettingsError, match="retain payments must be >= 1"):
        Settings(retain_payments=0)
    with pytest.raises(SettingsError, match="delivery queue must be >= 1"):
        Settings.from_env({"PAYSANDBOX_DELIVERY_QUEUE": "0"})
    with pytest.raises(SettingsError, match="idempotency TTL"):
        Settings(idempotency_ttl=0)
