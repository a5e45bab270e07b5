"""The local CA of `serve --tls`: made once in the user's data dir (or --ca-dir), kept,
its key private."""

from __future__ import annotations

from pathlib import Path

import pytest

from paysandbox import tls


def test_the_ca_is_made_once_and_kept(tmp_path: Path) -> None:
    first = tls.load_or_create_ca(str(tmp_path / "ca"))
    again = tls.load_or_create_ca(str(tmp_path / "ca"))
    assert first.cert_pem.bytes() == again.cert_pem.bytes()
    assert (tmp_path / "ca" / "ca-key.pem").stat().st_mode & 0o077 == 0


def test_the_ca_folder_defaults_to_the_users_data_dir(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert tls.ca_cert_path(None) == tmp_path / "paysandbox" / "ca.pem"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tls.ca_cert_path(None) == tmp_path / ".local" / "share" / "paysandbox" / "ca.pem"
