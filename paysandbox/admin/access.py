"""Who may call the admin API: the checks every admin request passes first.

The admin API can reset state, move the clock and finish payments, and its journal and
webhook endpoints hold secrets. On loopback it needs no token, so a web page open in
the tester's browser must not be able to drive it:

- `Host` must name this machine (a loopback name or address), the host of
  `--public-url`, the address bound, or a host the operator allows (`--allowed-host`):
  a DNS-rebinding page reaches the server under the attacker's own name and is refused.
- A browser's cross-origin request is refused: `Origin` naming another host, or
  `Sec-Fetch-Site: cross-site`.
- A call that changes state must say `Content-Type: application/json` (a scenario may
  also be YAML): a page can send text/plain or a form without asking (no CORS
  preflight), never JSON.
- Beyond loopback, the admin token, compared as bytes in constant time: as a bearer
  token, or as the password of HTTP Basic credentials (any user name), which is how a
  browser sends it to the dashboard (`/__admin/ui`): it asks once, on the 401's
  `WWW-Authenticate: Basic` challenge, and sends it with the page's own calls after.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

from paysandbox.settings import Settings

#: Names that always mean this machine (RFC 6761 reserves `localhost` and below it).
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                            "ip6-loopback"})
#: Methods that change state; GET and HEAD only read.
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
YAML = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


def hostname(authority: str) -> str | None:
    """The host of a `Host` header value (`name`, `name:port`, `[v6]:port`), lowercased,
    or None when it is not one."""
    text = authority.strip().lower()
    if text.startswith("["):
        inside, sep, rest = text[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return inside or None
    name, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        text = name
    elif ":" in text:
        return None
    return text.rstrip(".") or None


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AdminAccess:
    """The checks, built once from the settings."""

    def __init__(self, settings: Settings) -> None:
        self._token = settings.admin_token.encode() if settings.admin_token else None
        allowed = {h.strip().lower().rstrip(".") for h in settings.allowed_hosts}
        if settings.public_url:
            allowed.add((urlsplit(settings.public_url).hostname or "").lower())
        if settings.host not in ("0.0.0.0", "::", ""):
            allowed.add(settings.host.lower())
        allowed.discard("")
        self.allowed = frozenset(allowed)

    def host_allowed(self, host: str | None) -> bool:
        return host is not None and (is_loopback(host) or host in self.allowed)

    def refusal(self, request: web.Request) -> tuple[int, str] | None:
        """(status, message) when the request may not reach the admin API, else None."""
        headers = request.headers
        if not self.host_allowed(hostname(headers.get("Host", ""))):
            return 403, (f"Host {headers.get('Host', '')!r} is not this simulator's: admin "
                         "calls must name a loopback host (localhost, 127.0.0.1, [::1]) or "
                         "one allowed with --allowed-host / PAYSANDBOX_ALLOWED_HOSTS.")
        origin = headers.get("Origin")
        if origin is not None and not self.host_allowed(_origin_host(origin)):
            return 403, (f"Cross-origin request from {origin!r} refused: a web page may not "
                         "drive the admin API. Allow its host with --allowed-host if it is "
                         "your own dashboard.")
        if headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            return 403, ("Cross-site browser request refused (Sec-Fetch-Site: cross-site): a "
                         "web page may not drive the admin API.")
        if self._token is not None and not hmac.compare_digest(
                _credential(headers.get("Authorization", "")), self._token):
            return 401, ("Admin calls need the admin token: 'Authorization: Bearer "
                         "<PAYSANDBOX_ADMIN_TOKEN>' (a browser opening the dashboard asks "
                         "for it: any user name, the token as password).")
        if request.method in CHANGING:
            kind = request.content_type  # without parameters; octet-stream when absent
            scenario = request.method == "PUT" and request.path.startswith(
                "/__admin/scenarios/")
            if (kind != JSON and not (scenario and kind in YAML)) or \
                    "Content-Type" not in headers:
                wanted = "application/json (or application/yaml for a scenario)" \
                    if scenario else "application/json"
                return 415, (f"{request.method} {request.path} changes state and needs "
                             f"'Content-Type: {wanted}'; got "
                             f"{headers.get('Content-Type', 'none')!r}. Browsers cannot send "
                             "that across origins without asking first, which is the point.")
        return None


#: What a 401 carries so that a browser asks for the token (as Basic's password).
CHALLENGE = 'Basic realm="paysandbox admin", charset="UTF-8"'


def _credential(authorization: str) -> bytes:
    """The token an `Authorization` value carries: a bearer token, or Basic's password."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            pair = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return b""
        return pair.partition(b":")[2] if b":" in pair else b""
    return authorization.removeprefix("Bearer ").strip().encode("utf-8", "surrogateescape")


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None  # `null` (a sandboxed frame, a file) and anything else unknown
    return host.rstrip(".")
