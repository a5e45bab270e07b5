"""The admin API's Host and Origin rules, and the namespaces no credential can name."""

from __future__ import annotations

import pytest

from paysandbox.admin.access import hostname, is_loopback
from paysandbox.core.tenancy import internal, tenant


@pytest.mark.parametrize("header, host", [
    ("localhost:12111", "localhost"), ("LOCALHOST", "localhost"), ("127.0.0.1", "127.0.0.1"),
    ("[::1]:12111", "::1"), ("[::1]", "::1"), ("simulator.:80", "simulator"),
    ("evil.example:12111", "evil.example"),
    ("", None), ("[::1", None), ("[::1]x", None), ("::1", None), ("a:b:c", None),
])
def test_the_host_of_a_host_header(header: str, host: str | None) -> None:
    assert hostname(header) == host


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("api.localhost", True), ("127.0.0.1", True), ("127.8.9.10", True),
    ("::1", True), ("localhost.evil.example", False), ("127.0.0.1.nip.io", False),
    ("10.0.0.1", False), ("0.0.0.0", False), ("evil.example", False),
])
def test_loopback_names_and_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("credential", ["__hosted__", "hosted", "\x00hosted", "\x00\x00hosted",
                                        "\x00", "daraja-oauth", "\x00daraja-oauth"])
def test_no_credential_names_an_internal_namespace(credential: str) -> None:
    assert tenant(credential) not in {internal("hosted"), internal("daraja-oauth")}


def test_distinct_credentials_stay_distinct_tenants() -> None:
    credentials = ["a", "\x00a", "\x00\x00a", "\x00\x00\x00a", "sk_test_1"]
    assert len({tenant(c) for c in credentials}) == len(credentials)
    assert tenant("sk_test_1") == "sk_test_1"  # ordinary keys are their own namespace


def test_a_credential_of_bytes_that_are_not_utf8_is_a_text_namespace() -> None:
    raw = b"\xff\xfekey".decode("utf-8", "surrogateescape")  # as a header decodes it
    ns = tenant(raw)
    assert ns.encode("utf-8") and ns != tenant("\ufffd\ufffdkey")
    assert ns not in {internal("hosted"), tenant("\x00" + ns)}
