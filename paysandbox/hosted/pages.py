"""The 3DS challenge page: Complete or Fail, then back to the merchant's return_url."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from paysandbox.core.commands import Complete
from paysandbox.core.money import format_amount
from paysandbox.core.payments import InvalidTransition, Payment, Status
from paysandbox.core.tenancy import internal
from paysandbox.providers.hooks import HostsPages, NamesStatuses, ReturnsShoppers
from paysandbox.store.base import Store, StoreUnavailable

if TYPE_CHECKING:
    from paysandbox.engine import Engine
    from paysandbox.providers.base import Provider

HOSTED_NAMESPACE = internal("hosted")
CHALLENGE = "challenge"


async def register_challenge(store: Store, token: str, *, provider: str, namespace: str,
                             payment_id: str) -> None:
    await store.put_object(HOSTED_NAMESPACE, CHALLENGE, token,
                           {"provider": provider, "namespace": namespace,
                            "payment_id": payment_id})


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


def _status_of(provider: Provider, p: Payment) -> str:
    """The status as the provider's own API reports it, where the provider says."""
    return provider.public_status(p) if isinstance(provider, NamesStatuses) else p.status.value


def _finished(provider: Provider, p: Payment) -> web.Response:
    return render_page("Authentication finished",
                   f"<p id='status'>Payment {html.escape(p.id)} is "
                   f"{html.escape(_status_of(provider, p))}.</p>", provider.title)


def hosted_app(engine: Engine, providers: Mapping[str, Provider]) -> web.Application:
    """Pages for every provider. A provider may send the shopper back to the merchant
    (ReturnsShoppers), name statuses its own way (NamesStatuses) and serve pages of its own
    under `/__hosted/<name>/` (HostsPages): the hooks of providers/base.py."""

    async def lookup(request: web.Request) -> tuple[Mapping[str, Any], Payment | None]:
        record = await engine.store.get_object(HOSTED_NAMESPACE, CHALLENGE,
                                               request.match_info["token"])
        if record is None:
            raise web.HTTPNotFound(text="This challenge link is unknown or was reset.")
        return record, await engine.store.get(record["namespace"], record["payment_id"])

    async def show(request: web.Request) -> web.Response:
        record, p = await lookup(request)
        provider = providers[record["provider"]]
        if p is None:
            return render_page("Payment not found", "<p>The payment no longer exists.</p>",
                           provider.title, 404)
        amount = html.escape(format_amount(p.amount, p.currency))
        card = f"{p.card.brand.capitalize()} •••• {p.card.last4}" if p.card else "card"
        if p.status is not Status.REQUIRES_ACTION:
            return _finished(provider, p)
        token = html.escape(request.match_info["token"])
        body = (f"<p>Approve the payment of <strong id='amount'>{amount}</strong> with "
                f"{html.escape(card)}?</p>"
                f"<p><small>Payment {html.escape(p.id)}</small></p>"
                f"<form method='post' action='/__hosted/3ds/{token}/complete' "
                "style='display:inline'><button id='complete' type='submit'>Complete</button>"
                "</form>"
                f"<form method='post' action='/__hosted/3ds/{token}/fail' "
                "style='display:inline'><button id='fail' type='submit'>Fail</button></form>")
        return render_page("3D Secure authentication", body, provider.title)

    async def finish(request: web.Request) -> web.Response:
        record, p = await lookup(request)
        success = request.match_info["verdict"] == "complete"
        provider = providers[record["provider"]]
        if p is None:
            raise web.HTTPNotFound(text="The payment no longer exists.")
        try:
            result = await engine.execute(provider, record["namespace"],
                                          Complete(p.id, success))
            p = result.payment
        except InvalidTransition:
            pass  # finished already (a second click): show where it stands
        target = provider.return_url(p) if isinstance(provider, ReturnsShoppers) else None
        if target:
            raise web.HTTPSeeOther(target)
        return _finished(provider, p)

    @web.middleware
    async def store_down(request: web.Request, handler: Handler) -> web.StreamResponse:
        """A store that is away (logged once by the store) or holds a record it refuses:
        a page that says so, for the shopper's browser to retry, never a traceback."""
        try:
            return await handler(request)
        except StoreUnavailable as exc:
            return render_page("Try again in a moment",
                               f"<p id='status'>The payment page cannot be shown right now: "
                               f"{html.escape(str(exc))}</p>", "payments-sandbox", 503)

    app = web.Application(middlewares=[store_down])
    app.router.add_get("/3ds/{token}", show)
    app.router.add_post("/3ds/{token}/{verdict:complete|fail}", finish)
    for name, provider in providers.items():
        if isinstance(provider, HostsPages):  # its own pages (a bank picker, a QR code)
            sub = web.Application()
            sub.add_routes(provider.hosted_routes(engine))
            app.add_subapp(f"/{name}", sub)
    return app
