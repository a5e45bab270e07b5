"""The payer's side of PIX, boleto and OXXO: the page `ticket_url` and
`external_resource_url` open, with a "Simulate payment" button.

Reached through an opaque token, never the access token, so a link can be opened in a
browser or followed by a test without leaking the credential.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from paysandbox.core.commands import Complete
from paysandbox.core.money import format_amount
from paysandbox.core.payments import InvalidTransition, Payment, Status
from paysandbox.hosted import HOSTED_NAMESPACE, render_page
from paysandbox.providers.mercadopago import boleto
from paysandbox.store.base import Store

if TYPE_CHECKING:
    from paysandbox.engine import Engine, EventSource

PREFIX = "/__hosted/mercadopago"
KIND = "mercadopago.ticket"
_TITLES = {"pix": "Pay with PIX", "boleto": "Boleto bancário", "oxxo": "Pay at OXXO"}


class _Shown(Protocol):
    title: str

    def public_status(self, p: Payment) -> str: ...


async def register(store: Store, token: str, *, namespace: str, payment_id: str) -> None:
    await store.put_object(HOSTED_NAMESPACE, KIND, token,
                           {"namespace": namespace, "payment_id": payment_id})


def routes(provider: EventSource, engine: Engine) -> Iterable[web.RouteDef]:
    async def lookup(request: web.Request) -> tuple[Mapping[str, Any], Payment]:
        record = await engine.store.get_object(HOSTED_NAMESPACE, KIND,
                                               request.match_info["token"])
        p = None if record is None else await engine.store.get(record["namespace"],
                                                               record["payment_id"])
        if record is None or p is None:
            raise web.HTTPNotFound(text="This payment link is unknown or was reset.")
        return record, p

    async def show(request: web.Request) -> web.Response:
        _, p = await lookup(request)
        shown: _Shown = provider  # type: ignore[assignment]
        return render_page(_TITLES.get(p.method, "Payment"),
                           _body(p, shown.public_status(p), request.match_info["token"]),
                           shown.title)

    async def pay(request: web.Request) -> web.Response:
        record, p = await lookup(request)
        # Paid, cancelled or expired already: the page says which.
        with contextlib.suppress(InvalidTransition):
            await engine.execute(provider, record["namespace"], Complete(p.id, True))
        raise web.HTTPSeeOther(f"{PREFIX}/tickets/{request.match_info['token']}")

    return [web.get("/tickets/{token}", show), web.post("/tickets/{token}/pay", pay)]


def _body(p: Payment, status: str, token: str) -> str:
    x = p.extra
    amount = html.escape(format_amount(p.amount, p.currency))
    parts = [f"<p>Amount: <strong id='amount'>{amount}</strong></p>",
             f"<p><small>Payment {html.escape(p.id)}</small></p>",
             f"<p id='status'>Payment {html.escape(p.id)} is {html.escape(status)}.</p>"]
    if p.status is not Status.PENDING:
        return "".join(parts)
    if p.method == "pix":
        parts.append(f"<p><img id='qr' alt='PIX QR code' width='240' height='240' "
                     f"src='data:image/png;base64,{x['qr_code_base64']}'></p>"
                     "<p>PIX copy and paste:</p>"
                     f"<textarea id='qr_code' rows='4' cols='40' readonly>"
                     f"{html.escape(x['qr_code'])}</textarea>")
    elif p.method == "boleto":
        parts.append("<p>Digitable line:</p><p><code id='digitable_line'>"
                     f"{html.escape(boleto.formatted(x['digitable_line']))}</code></p>")
    else:
        parts.append(f"<p>OXXO reference: <code id='reference'>{html.escape(x['reference'])}"
                     "</code></p>")
    parts.append(f"<form method='post' action='{PREFIX}/tickets/{html.escape(token)}/pay'>"
                 "<button id='simulate' type='submit'>Simulate payment</button></form>")
    return "".join(parts)
