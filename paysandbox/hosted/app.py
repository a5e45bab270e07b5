"""/__hosted: the shared 3DS challenge page (Complete or Fail, then back to the merchant's
return_url) and the pages providers serve under their own names, all reached through
one kind of token, looked up here once."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from aiohttp import web
from aiohttp.typedefs import Handler

from paysandbox.core.commands import Complete
from paysandbox.core.money import format_amount
from paysandbox.core.payments import InvalidTransition, Payment, Status
from paysandbox.hosted.pages import (
    CHALLENGE,
    HOSTED_NAMESPACE,
    THREE_DS,
    HostedToken,
    PageContext,
    PageHandler,
    PageRoute,
    render_page,
)
from paysandbox.providers.hooks import HostsPages, NamesStatuses, ReturnsShoppers
from paysandbox.store.base import StoreUnavailable

if TYPE_CHECKING:
    from paysandbox.engine import Engine
    from paysandbox.providers.base import Provider

_UNKNOWN = "This payment link is unknown or was reset."


def hosted_app(engine: Engine, providers: Mapping[str, Provider],
               public_url: str | None = None) -> web.Application:
    """Pages for every provider. A provider may send the shopper back to the merchant
    (ReturnsShoppers), name statuses its own way (NamesStatuses) and serve pages of its own
    under `/__hosted/<name>/` (HostsPages): the hooks of providers/hooks.py. Links on
    the pages start with `public_url` when given."""

    async def visit(request: web.Request, page: str,
                    provider: Provider | None = None) -> PageContext:
        """The token's page context; a 404 for a token unknown, reset, or made for
        another page or another provider."""
        record = cast(HostedToken | None, await engine.store.get_object(
            HOSTED_NAMESPACE, CHALLENGE, request.match_info["token"]))
        if record is None or record.get("page", THREE_DS) != page or \
                record.get("provider") not in providers or \
                (provider is not None and record["provider"] != provider.name):
            raise web.HTTPNotFound(text=_UNKNOWN)
        return PageContext(engine, provider or providers[record["provider"]], request,
                           record, public_url)

    def serve(route: PageRoute, provider: Provider) -> Handler:
        page, handler = f"{provider.name}/{route.page}", route.handler

        async def handle(request: web.Request) -> web.StreamResponse:
            return await handler(await visit(request, page, provider))
        return handle

    def three_ds(handler: PageHandler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await handler(await visit(request, THREE_DS))
        return handle

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
    app.router.add_get("/3ds/{token}", three_ds(_show_challenge))
    app.router.add_post("/3ds/{token}/complete", three_ds(_finish_challenge(True)))
    app.router.add_post("/3ds/{token}/fail", three_ds(_finish_challenge(False)))
    for name, provider in providers.items():
        if isinstance(provider, HostsPages):  # its own pages (a checkout, a QR code)
            sub = web.Application()
            for route in provider.hosted_routes():
                sub.router.add_route(route.method, route.path, serve(route, provider))
            app.add_subapp(f"/{name}", sub)
    return app


# -- the 3DS challenge -----------------------------------------------------------------

def _status_of(provider: Provider, p: Payment) -> str:
    """The status as the provider's own API reports it, where the provider says."""
    return provider.public_status(p) if isinstance(provider, NamesStatuses) else p.status.value


def _finished(page: PageContext, p: Payment) -> web.Response:
    return page.render("Authentication finished",
                       f"<p id='status'>Payment {html.escape(p.id)} is "
                       f"{html.escape(_status_of(page.provider, p))}.</p>")


async def _show_challenge(page: PageContext) -> web.StreamResponse:
    p = await page.payment()
    if p is None:
        return page.render("Payment not found", "<p>The payment no longer exists.</p>", 404)
    if p.status is not Status.REQUIRES_ACTION:
        return _finished(page, p)
    amount = html.escape(format_amount(p.amount, p.currency))
    card = f"{p.card.brand.capitalize()} •••• {p.card.last4}" if p.card else "card"
    body = (f"<p>Approve the payment of <strong id='amount'>{amount}</strong> with "
            f"{html.escape(card)}?</p>"
            f"<p><small>Payment {html.escape(p.id)}</small></p>"
            f"<form method='post' action='{html.escape(page.link('/complete'))}' "
            "style='display:inline'><button id='complete' type='submit'>Complete</button>"
            "</form>"
            f"<form method='post' action='{html.escape(page.link('/fail'))}' "
            "style='display:inline'><button id='fail' type='submit'>Fail</button></form>")
    return page.render("3D Secure authentication", body)


def _finish_challenge(success: bool) -> PageHandler:
    async def finish(page: PageContext) -> web.StreamResponse:
        p = await page.payment()
        if p is None:
            raise web.HTTPNotFound(text="The payment no longer exists.")
        # Finished already (a second click): show where it stands.
        with contextlib.suppress(InvalidTransition):
            p = (await page.execute(Complete(p.id, success))).payment
        provider = page.provider
        target = provider.return_url(p) if isinstance(provider, ReturnsShoppers) else None
        if target:
            raise web.HTTPSeeOther(target)
        return _finished(page, p)
    return finish
