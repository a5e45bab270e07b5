"""Where outbound webhooks may go: the simulator must not be a way into other machines.

Callback URLs arrive in requests (Mollie's `webhookUrl`, Mercado Pago's
`notification_url`, Daraja's `CallBackURL`, Stripe's webhook endpoints), so whoever can
reach a provider API could otherwise make the simulator POST to a cloud metadata
service or anything else on its network. By default a webhook may go to:

- loopback (127.0.0.0/8, ::1) and the private ranges (10.0.0.0/8, 172.16.0.0/12,
  192.168.0.0/16, fc00::/7), where receivers under test live;
- a single-label name (`payment-service`), as a docker compose network names its
  services;
- whatever `--webhook-allow CIDR|HOST` adds.

Never to a link-local address (169.254.0.0/16, where cloud metadata answers, and
fe80::/10), an unspecified or multicast one, whatever the allowances. The address is
checked as resolved, at connect time (`GuardedResolver`), so a name that resolves to
an allowed address when a URL is accepted and to another when it is used (DNS
rebinding) is still refused. Redirects are never followed (the dispatcher's business).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_NETWORKS: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


class DestinationRefused(OSError):
    """A webhook destination the operator has not allowed; the message says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"destination not allowed: {detail}")


class Destinations:
    """The policy: default ranges, single-label names, and the operator's allowances."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        networks: list[Network] = list(DEFAULT_NETWORKS)
        names: set[str] = set()
        for entry in allow:
            parsed = parse_allowance(entry)
            if isinstance(parsed, str):
                names.add(parsed)
            else:
                networks.append(parsed)
        self.networks = tuple(networks)
        self.names = frozenset(names)

    def name_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return "." not in host or host in self.names

    def address_refusal(self, address: str, host: str | None = None) -> str | None:
        """Why `address` (reached through the name `host`, if any) is refused, or None."""
        try:
            ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        named = host if host and host != address else None
        via = f"{named} resolves to {ip}" if named else str(ip)
        if ip.is_link_local or ip.is_unspecified or ip.is_multicast:
            return (f"{via}, a link-local, unspecified or multicast address (cloud metadata "
                    "answers on 169.254.169.254); webhooks never go there")
        if any(ip in n for n in self.networks if n.version == ip.version):
            return None
        if named and self.name_allowed(named):
            return None
        return (f"{via}, which is neither loopback nor private; allow it with "
                f"--webhook-allow {named or ip} (or PAYSANDBOX_WEBHOOK_ALLOW)")

    def url_refusal(self, url: str) -> str | None:
        """What can be told of a URL without resolving it: its scheme and, when its host
        is an address, whether that address is allowed. Names are checked when used."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a port out of range
        except ValueError:
            return f"{url!r} is not a valid URL"
        if parts.scheme not in ("http", "https") or not host:
            return f"{url!r} is not an http(s) URL with a host"
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return None
        return self.address_refusal(host)


def parse_allowance(entry: str) -> Network | str:
    """A `--webhook-allow` value: a CIDR or address, else a host name (lowercased)."""
    text = entry.strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    name = text.lower().rstrip(".")
    if not name or any(not (c.isalnum() or c in "-._") for c in name):
        raise ValueError(f"--webhook-allow takes a CIDR (10.1.0.0/16), an address or a host "
                         f"name (hooks.internal); got {entry!r}")
    return name


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the policy allows: the check on
    the address actually connected to. (aiohttp does not resolve a URL whose host is
    an address; the dispatcher checks those with `Destinations.url_refusal`.)"""

    def __init__(self, destinations: Destinations, resolver: AbstractResolver | None = None
                 ) -> None:
        self._destinations = destinations
        self._resolver = resolver or DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        kept: list[ResolveResult] = []
        refusals: list[str] = []
        for result in found:
            refusal = self._destinations.address_refusal(result["host"], host)
            if refusal is None:
                kept.append(result)
            else:
                refusals.append(refusal)
        if not kept:
            raise DestinationRefused(refusals[0] if refusals else f"{host} does not resolve")
        return kept

    async def close(self) -> None:
        await self._resolver.close()


def refused_cause(exc: BaseException) -> DestinationRefused | None:
    """The DestinationRefused behind an aiohttp connection error, if that is what it was."""
    seen: Any = exc
    for _ in range(4):
        if isinstance(seen, DestinationRefused):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__ or seen.__context__
        if seen is None:
            return None
    return None


def display_url(url: str) -> str:
    """The URL without `user:password@`, for logs and admin output (the credentials are
    still sent, as Basic auth, to the receiver)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
