"""The smoke suite of the built wheel. `.ci/run` installs the wheel into a fresh venv in a
temporary folder, copies this folder there and runs it, so that everything here comes
from site-packages: the console script, the plugin, the data files. It is not collected
by the main suite (pyproject.toml's norecursedirs)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from paysandbox.testing.receiver import WebhookReceiver

PAYSANDBOX = shutil.which("paysandbox") or "paysandbox"


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    receiver: WebhookReceiver
    log: Path


@pytest.fixture(scope="session")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver().serving() as rx:
        yield rx


@pytest.fixture(scope="session")
def served(receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    """`paysandbox serve` as a user starts it, on a free port, with a ready-made scenario by
    name and Stripe's and Adyen's webhooks going to the receiver."""
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    hooks = [arg for provider in ("stripe", "adyen") for arg in (
        "--webhook", f"{provider}={receiver.url(provider)}",
        "--webhook-secret", f"{provider}={receiver.secret(provider)}")]
    with log.open("w") as err:
        proc = subprocess.Popen([PAYSANDBOX, "serve", "--port", "0", "--scenario",
                                 "happy-path", "--contracts", "report", *hooks],
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PAYSANDBOX_LOG_LEVEL": "warning"})
    assert proc.stdout is not None
    banner = []
    for line in proc.stdout:  # the banner, up to its last line
        banner.append(line)
        if line.startswith("Ctrl-C"):
            break
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", "".join(banner))
    assert found, "".join(banner) + log.read_text()
    served = Served(found.group(1), proc, receiver, log)
    try:
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
