"""Package data is read through importlib.resources, so the simulator works wherever its
modules come from: a checkout, a wheel (tests/wheel/), or a zip archive, where no data file
has a path on disk."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, urllib.request
import paysandbox
assert paysandbox.__file__.startswith(ARCHIVE), paysandbox.__file__
from paysandbox.scenarios import ready
from paysandbox.scenarios.loader import load_file
from paysandbox.settings import Settings
from paysandbox.testing.server import SimulatorServer

assert load_file("acquirer-brownout")["name"] == "acquirer-brownout"
server = SimulatorServer(Settings())
server.start()
try:
    server.use_scenario("happy-path")
    request = urllib.request.Request(
        server.url("stripe") + "/v1/payment_intents", method="POST",
        data=b"amount=2000&currency=usd&confirm=true&payment_method=pm_card_visa",
        headers={"Authorization": "Bearer sk_test_zip"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        print(json.loads(resp.read())["status"], len(ready.names()))
finally:
    server.stop()
"""


def test_the_simulator_serves_from_a_zip_archive(tmp_path: Path) -> None:
    archive = tmp_path / "paysandbox.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (ROOT / "paysandbox").rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(ROOT).as_posix())
    done = subprocess.run([sys.executable, "-c", f"ARCHIVE = {str(archive)!r}\n{PROBE}"],
                          env={"PYTHONPATH": str(archive), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    status, count = done.stdout.split()
    assert status == "succeeded"
    assert int(count) == len(list((ROOT / "paysandbox" / "scenarios" / "ready").glob("*.yaml")))
