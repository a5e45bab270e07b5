"""What a provider's hosted page gets to work with: its route, a narrow page context and
the shared look.

Every hosted page is reached through an opaque token (never the API key), at
`/__hosted/<page>/<token>[/<action>]`: the shared 3DS challenge is the page `3ds`, a
provider's own pages are `<provider>/<page>` (`mollie/checkout`). A provider makes a
token with the command that needs it (`seam.Context.hosted_link`, written in the same
store call as the payment); the hosted app looks the token up, once for every page, and
hands the page's handler a `PageContext`: the payment the token names, commands on it
through the engine, links from the public base. A page never sees the store or the
engine.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NotRequired, TypedDict

from aiohttp import web

from paysandbox.core.commands import Command, Result
from paysandbox.core.payments import Payment
from paysandbox.core.tenancy import internal

if TYPE_CHECKING:
    from paysandbox.engine import Engine
    from paysandbox.providers.base import Provider

HOSTED_NAMESPACE = internal("hosted")
#: The kind every hosted page's token is kept under (the name predates the pages other
#: than the 3DS challenge; records written before them have no `page` and are `3ds`).
CHALLENGE = "challenge"
THREE_DS = "3ds"


class HostedToken(TypedDict):
    """What a hosted page's token stands for, kept in HOSTED_NAMESPACE under CHALLENGE."""

    provider: str
    namespace: str
    payment_id: str
    page: NotRequired[str]  # absent: THREE_DS


def token_record(token: str, *, provider: str, namespace: str, payment_id: str,
                 page: str = THREE_DS) -> tuple[str, HostedToken]:
    """A token for `page` on one payment: its id and what it keeps."""
    return token, HostedToken(provider=provider, namespace=namespace, payment_id=payment_id,
                              page=page)


def public_base(request: web.Request, public_url: str | None) -> str:
    """The simulator's address as a shopper's browser reaches it: `--public-url`, else
    the address this request came to."""
    if public_url:
        return public_url.rstrip("/")
    return f"{request.scheme}://{request.host}"


def page_path(page: str, token: str, action: str = "") -> str:
    """A hosted page's path below the simulator's root."""
    return f"/__hosted/{page}/{token}{action}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}}
.card{{border:1px solid #ddd;border-radius:8px;padding:1.5rem}}
button{{font-size:1rem;padding:.6rem 1.2rem;margin-right:.5rem;border-radius:6px;border:0;
cursor:pointer}}
#complete{{background:#2e7d32;color:#fff}} #fail{{background:#c62828;color:#fff}}
small{{color:#666}}
</style></head>
<body><div class="card">
<h1>{title}</h1>
{body}
</div>
<p><small>payments-sandbox: a simulated {provider} page. No real bank is contacted.</small></p>
</body></html>"""


def render_page(title: str, body: str, provider: str, status: int = 200) -> web.Response:
    """A hosted page in the shared look. `body` is HTML the caller has escaped."""
    # no-store: the Back button must fetch the page again and show where the payment
    # stands, never a stale challenge whose buttons would contradict the outcome.
    return web.Response(text=_PAGE.format(title=html.escape(title), body=body,
                                          provider=html.escape(provider)),
                        content_type="text/html", status=status,
                        headers={"Cache-Control": "no-store"})


class PageContext:
    """One visit to a hosted page through a token that resolved: what the page's handler
    may do. The token's payment is read and changed through the engine, in the namespace
    the token was made in; links are built from the public base (`--public-url`, else
    the address the browser came to)."""

    __slots__ = ("_engine", "_public_url", "namespace", "page", "payment_id", "provider",
                 "request")

    def __init__(self, engine: Engine, provider: Provider, request: web.Request,
                 record: HostedToken, public_url: str | None) -> None:
        self._engine = engine
        self.provider = provider
        self.request = request
        self.namespace: str = record["namespace"]
        self.payment_id: str = record["payment_id"]
        self.page: str = record.get("page", THREE_DS)
        self._public_url = public_url

    @property
    def token(self) -> str:
        return self.request.match_info["token"]

    async def payment(self) -> Payment | None:
        """The payment the token names, as it stands now (None: it no longer exists)."""
        return await self._engine.store.get(self.namespace, self.payment_id)

    async def execute(self, command: Command) -> Result:
        """A shopper's choice, through the engine (scenarios, the transition, events)."""
        return await self._engine.execute(self.provider, self.namespace, command)

    async def form(self) -> Mapping[str, str]:
        """The fields the page's form posted."""
        return {k: str(v) for k, v in (await self.request.post()).items()}

    @property
    def base_url(self) -> str:
        return public_base(self.request, self._public_url)

    def link(self, action: str = "") -> str:
        """This page's own URL (with `action` after the token: `/pay`), from the public
        base: where its forms post and its redirects go."""
        return self.base_url + page_path(self.page, self.token, action)

    def render(self, title: str, body: str, status: int = 200) -> web.Response:
        """A page in the shared look, signed with the provider's name."""
        return render_page(title, body, self.provider.title, status)


PageHandler = Callable[[PageContext], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class PageRoute:
    """One of a provider's pages: `method` on `/__hosted/<provider>/<page>/<token>` and
    `action` after it. The handler runs only for a token made for this page of this
    provider (`Context.hosted_link(payment_id, page="<provider>/<page>")`); any other
    token is a 404."""

    method: str
    page: str
    handler: PageHandler
    action: str = ""

    @property
    def path(self) -> str:
        return f"/{self.page}/{{token}}{self.action}"
