"""A few calls to the simulator's admin API over HTTP (standard library only, so it is
safe inside gevent-patched Locust processes and needs nothing of `simulator`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class Admin:
    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.token, self.timeout = token, timeout

    def call(self, method: str, path: str, body: Any = None, *,
             content_type: str = "application/json", **query: Any) -> Any:
        url = f"{self.base_url}/__admin{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
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
            detail = exc.read().decode("utf-8", "replace")[:500]
            raise RuntimeError(f"{method} {url} answered {exc.code}: {detail}") from None

    def load_scenario(self, name: str, text: str) -> Any:
        return self.call("PUT", f"/scenarios/{name}", text, content_type="application/yaml")

    def start_scenario(self, name: str) -> Any:
        return self.call("POST", f"/scenarios/{name}/start")

    def complete(self, payment_id: str, outcome: str = "success") -> Any:
        return self.call("POST", f"/payments/{payment_id}/complete", {"outcome": outcome})
