"""A small client of the admin API, standard library only.

Used by the pytest plugin, and usable from load tests and scripts: it imports nothing
of the server (urllib, no asyncio), so it also runs inside gevent-patched processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from paysandbox.scenarios.loader import locate


class AdminError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        error = body.get("error", {}) if isinstance(body, dict) else {}
        problems = error.get("problems") or []
        message = error.get("message") or str(body)
        super().__init__("\n".join([f"admin API answered {status}: {message}", *problems]))


class AdminClient:
    @classmethod
    def for_command(cls, url: str | None, token: str | None, default_url: str) -> AdminClient:
        """The client a command line asks for: its --url and --admin-token, else
        PAYSANDBOX_URL and PAYSANDBOX_ADMIN_TOKEN, else `default_url` and no token."""
        return cls(url or os.environ.get("PAYSANDBOX_URL") or default_url,
                   token=token or os.environ.get("PAYSANDBOX_ADMIN_TOKEN"))

    def command(self, action: Callable[[AdminClient], int]) -> int:
        """A command's exit status: `action`'s, or 1 (said on stderr) when the admin
        API refused or could not be reached."""
        try:
            return action(self)
        except AdminError as exc:
            print(f"paysandbox: {exc}", file=sys.stderr)
        except OSError as exc:
            print(f"paysandbox: cannot reach the simulator at {self.base_url}: {exc}",
                  file=sys.stderr)
        return 1

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, *,
             content_type: str = "application/json", query: Mapping[str, Any] | None = None
             ) -> Any:
        url = f"{self.base_url}/__admin{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers = {"Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            raise AdminError(exc.code, parsed) from None

    # -- state -------------------------------------------------------------------------

    def health(self) -> Any:
        return self.call("GET", "/health")

    def reset(self, namespace: str | None = None) -> Any:
        return self.call("POST", "/reset", {"namespace": namespace} if namespace else None)

    def payment(self, payment_id: str) -> Any:
        return self.call("GET", f"/payments/{payment_id}")

    def complete(self, payment_id: str, outcome: str = "success", *,
                 reason: str | None = None) -> Any:
        """Finish a pending payment: success, failure (optionally with a decline
        reason), canceled or expired."""
        body: dict[str, Any] = {"outcome": outcome}
        if reason is not None:
            body["reason"] = reason
        return self.call("POST", f"/payments/{payment_id}/complete", body)

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.call("GET", "/journal", query=filters)["entries"]
        return entries

    def advance_clock(self, by: str | float) -> Any:
        return self.call("POST", "/clock/advance",
                         {"seconds": by} if isinstance(by, int | float) else {"by": by})

    # -- scenarios ---------------------------------------------------------------------

    def use_scenario(self, scenario: str | Path | Mapping[str, Any]) -> str:
        """Load a scenario from a file path, YAML text or a dict; returns its name."""
        if isinstance(scenario, Mapping):
            name, text, ctype = str(scenario.get("name")), json.dumps(scenario), \
                "application/json"
        else:
            text = str(scenario)
            if "\n" not in text:  # a path or a ready-made scenario's name, else YAML text
                with contextlib.suppress(FileNotFoundError):
                    text = locate(scenario).read_text(encoding="utf-8")
            name = _name_of(text)
            ctype = "application/yaml"
        self.call("PUT", f"/scenarios/{name}", text, content_type=ctype)
        return name

    def scenarios(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call("GET", "/scenarios")["scenarios"]
        return found

    def start_scenario(self, name: str) -> Any:
        return self.call("POST", f"/scenarios/{name}/start")

    def clear_scenarios(self) -> Any:
        return self.call("DELETE", "/scenarios")

    # -- webhooks ----------------------------------------------------------------------

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.call("GET", "/webhooks/deliveries",
                                                query=filters)["deliveries"]
        return found

    def wait_for_webhook(self, event_type: str, *, provider: str | None = None,
                         timeout: float = 10, state: str = "delivered") -> dict[str, Any]:
        """The first delivery of `event_type` that reached `state`, waiting for it."""
        def found() -> dict[str, Any] | None:
            for d in self.deliveries(provider=provider, state=state):
                if d["event_type"] == event_type:
                    return d
            return None
        delivery: dict[str, Any] = wait_until(
            found, timeout, f"no {state} webhook {event_type!r} within {timeout} s")
        return delivery


def eventually(check: Callable[[], Any], timeout: float = 10) -> bool:
    """Whether `check` comes true within `timeout` seconds (for `assert eventually(…)`;
    `wait_until` raises instead)."""
    try:
        wait_until(check, timeout, "")
    except TimeoutError:
        return False
    return True


def wait_until(check: Callable[[], Any], timeout: float, message: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(message)
        time.sleep(0.02)


def _name_of(text: str) -> str:
    """The scenario's name, read without a YAML parser (the server validates it)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("name:") and not line.startswith((" ", "\t")):
            return stripped.split(":", 1)[1].strip().strip("'\"")
    raise ValueError("The scenario has no top-level `name:`; every scenario needs one.")
