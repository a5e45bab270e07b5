"""The local certificate authority and the TLS context of `paysandbox serve --tls`.

The CA is made once per machine (or per --ca-dir) with trustme and kept, so a client
told to trust it once keeps trusting it; the server certificate is issued afresh at
every start, for the real API hostnames of the mounted providers, from that CA.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import ssl
from collections.abc import Iterable, Iterator
from pathlib import Path

import trustme

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
#: What the CA's certificate calls itself in a truststore.
CA_ORGANIZATION = "payments-sandbox"
CA_UNIT = "paysandbox local CA (test only)"
#: Server certificates live a little under 398 days, the longest Apple's and the
#: browsers' rules accept; one is issued at every start.
SERVER_CERT_DAYS = 397
#: Names the server certificate always carries besides the providers' hostnames.
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def default_ca_dir() -> Path:
    """$XDG_DATA_HOME/paysandbox, else ~/.local/share/paysandbox."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(data) / "paysandbox"


def ca_dir(configured: str | None) -> Path:
    return Path(configured).expanduser() if configured else default_ca_dir()


def ca_cert_path(configured: str | None) -> Path:
    return ca_dir(configured) / CA_CERT


def load_or_create_ca(configured: str | None) -> trustme.CA:
    """The CA kept in the folder, made there first if it holds none. Two simulators
    starting at once make one CA: the second waits on a lock and reads the first's."""
    folder = ca_dir(configured)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert, key = folder / CA_CERT, folder / CA_KEY
    with _locked(folder / ".lock"):
        if cert.exists() and key.exists():
            return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
        ca = trustme.CA(organization_name=CA_ORGANIZATION, organization_unit_name=CA_UNIT)
        _write(key, ca.private_key_pem.bytes(), mode=0o600)
        _write(cert, ca.cert_pem.bytes(), mode=0o644)
        return ca


def server_context(ca: trustme.CA, hostnames: Iterable[str]) -> ssl.SSLContext:
    """A server context presenting one certificate for every name in `hostnames` (and
    the loopback names), issued by `ca`. HTTP/1.1 only, TLS 1.2 and later."""
    names = list(dict.fromkeys([*hostnames, *LOCAL_NAMES]))
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue_cert(*names, organization_name=CA_ORGANIZATION,
                         organization_unit_name="paysandbox server",
                         not_before=now - datetime.timedelta(hours=1),
                         not_after=now + datetime.timedelta(days=SERVER_CERT_DAYS))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    leaf.configure_cert(context)
    return context


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Whole or not at all: a reader never sees half a PEM file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock, the rename still holds
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
