"""A simulator serving the providers' real hostnames, and clients that reach it unchanged.

`paysandbox serve --tls --tls-port 443` runs on a loopback address of its own
(127.a.b.c, so parallel runs never share port 443). A client runs in a child process in
a mount namespace of its own (`unshare --mount`), where a bind-mounted /etc/hosts maps
every provider hostname to that address: the SDK resolves `api.stripe.com` through the
system resolver as it would in production, and the machine's /etc/hosts is untouched.
The client trusts the simulator's CA through the environment only (SSL_CERT_FILE,
REQUESTS_CA_BUNDLE); the two SDKs that pin a CA file of their own (stripe-python,
razorpay-python) get the CA appended to that file, inside the namespace only, as a
container image build would do it.

Binding port 443 and making namespaces needs root: elsewhere these tests skip, and
under CI (`CI` set) they fail, so a green CI always means they ran.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

#: Every name the clients below use: each provider's hostnames, with a merchant
#: subdomain for Checkout.com (a hosts file has no wildcards).
CHECKOUT_SUBDOMAIN = "merchant42"
HOSTNAMES = ("api.stripe.com", "checkout-test.adyen.com", "api.sandbox.checkout.com",
             f"{CHECKOUT_SUBDOMAIN}.api.sandbox.checkout.com", "api.mollie.com",
             "api.razorpay.com", "api.mercadopago.com", "sandbox.safaricom.co.ke")
CLIENT_TIMEOUT = 120
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} CI must run the TLS hostname tests (as root).", pytrace=False)
    pytest.skip(reason)


def require_namespaces() -> None:
    if os.geteuid() != 0:
        unavailable("Serving port 443 and giving a client its own /etc/hosts needs root.")
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            unavailable(f"`{tool}` (util-linux) is missing.")


@dataclass
class TlsSimulator:
    address: str  # the loopback address the hostnames resolve to
    base_url: str  # the plain-HTTP port, for the admin API
    ca: Path
    hosts: Path
    workdir: Path
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Drain the server's output, so a chatty log never fills the pipe and stalls it.
        threading.Thread(target=lambda: self.output.extend(self.proc.stdout or ()),
                         daemon=True).start()

    def admin(self, path: str) -> Any:
        import requests

        response = requests.get(f"{self.base_url}/__admin{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def run_client(self, code: str, **env: str) -> Any:
        """Run Python `code` in a child with the hostnames resolved to the simulator and
        the CA trusted through the environment; what it printed last, read as JSON."""
        script = self.workdir / f"client-{random.getrandbits(32):08x}.py"
        script.write_text(code)
        return self.run([sys.executable, str(script)], **env)

    def run(self, argv: list[str], **env: str) -> Any:
        """Run `argv` as run_client runs its code."""
        child_env = {k: v for k, v in os.environ.items()
                     if k.upper() not in _PROXY_VARIABLES}
        child_env.update(SSL_CERT_FILE=str(self.ca), REQUESTS_CA_BUNDLE=str(self.ca), **env)
        mounts = [f'mount --bind "{self.hosts}" /etc/hosts']
        for pinned in _pinned_bundles():
            combined = self.workdir / (pinned.parent.name + "-" + pinned.name)
            if not combined.exists():
                combined.write_bytes(pinned.read_bytes() + b"\n" + self.ca.read_bytes())
            mounts.append(f'mount --bind "{combined}" "{pinned}"')
        shell = " && ".join([*mounts, 'exec "$@"'])
        done = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", shell, "sh",
             *argv],
            capture_output=True, text=True, timeout=CLIENT_TIMEOUT, env=child_env)
        assert done.returncode == 0, f"the client failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])


def _pinned_bundles() -> list[Path]:
    """The CA files stripe-python and razorpay-python use instead of the environment's."""
    import razorpay.client
    import stripe

    return [Path(stripe.ca_bundle_path),
            Path(razorpay.client.__file__).with_name("ca-bundle.crt")]


def start(workdir: Path, *extra: str) -> TlsSimulator:
    """`paysandbox serve --tls` on port 443 of a free 127.a.b.c address."""
    require_namespaces()
    ca_dir = workdir / "ca"
    for _ in range(5):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        proc, banner = serve("--host", address, "--port", "0", "--tls", "--tls-port", "443",
                             "--ca-dir", str(ca_dir), *extra)
        found = re.search(r"listening on (http://[\d.]+:\d+)", banner)
        if found:
            break
        proc.wait(10)
        if "TLS port 443" not in banner:  # anything but a busy address is a failure
            pytest.fail(f"paysandbox serve --tls did not start:\n{banner}", pytrace=False)
    else:
        pytest.fail("no free 127.a.b.c address for port 443 in five tries", pytrace=False)
    hosts = workdir / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{address} {' '.join(HOSTNAMES)}\n")
    return TlsSimulator(address, found.group(1), ca_dir / "ca.pem", hosts, workdir, proc)


def serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    """`paysandbox serve ARGS` and the banner it printed (up to its last line)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "paysandbox", "serve", "--log-level", "warning", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, _banner(proc)


def _banner(proc: subprocess.Popen[str]) -> str:
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        lines.append(line)
        if line.startswith("Ctrl-C"):
            break
    return "".join(lines)


def stop(sim: TlsSimulator) -> str:
    sim.proc.terminate()
    try:
        sim.proc.wait(30)
    except subprocess.TimeoutExpired:
        sim.proc.kill()
        sim.proc.wait()
    return "".join(sim.output)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSimulator]:
    """`paysandbox serve --tls` for a test module (use it as `sim = tls_support.simulator`);
    it must stop without a traceback."""
    started = start(tmp_path_factory.mktemp("tls"))
    try:
        yield started
    finally:
        out = stop(started)
        assert "Traceback" not in out, out
