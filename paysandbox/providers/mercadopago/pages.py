"""The payer's side of PIX, boleto and OXXO: the page `ticket_url` and
`external_resource_url` open (`/__hosted/mercadopago/tickets/{token}`), with a
"Simulate payment" button."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Iterable

from aiohttp import web

from paysandbox.core.commands import Complete
from paysandbox.core.money import format_amount
from paysandbox.core.payments import InvalidTransition, Payment, Status
from paysandbox.hosted.pages import PageContext, PageRoute
from paysandbox.providers.mercadopago import boleto, wire

_TITLES = {"pix": "Pay with PIX", "boleto": "Boleto bancário", "oxxo": "Pay at OXXO"}


def routes() -> Iterable[PageRoute]:
    return [PageRoute("GET", "tickets", show), PageRoute("POST", "tickets", pay, "/pay")]


async def _payment(page: PageContext) -> Payment:
    p = await page.payment()
    if p is None:
        raise web.HTTPNotFound(text="This payment link is unknown or was reset.")
    return p


async def show(page: PageContext) -> web.StreamResponse:
    p = await _payment(page)
    return page.render(_TITLES.get(p.method, "Payment"), _body(page, p))


async def pay(page: PageContext) -> web.StreamResponse:
    p = await _payment(page)
    # Paid, cancelled or expired already: the page says which.
    with contextlib.suppress(InvalidTransition):
        await page.execute(Complete(p.id, True))
    raise web.HTTPSeeOther(page.link())


def _body(page: PageContext, p: Payment) -> str:
    x = p.extra
    amount = html.escape(format_amount(p.amount, p.currency))
    status = wire.status(p)[0]
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
    parts.append(f"<form method='post' action='{html.escape(page.link('/pay'))}'>"
                 "<button id='simulate' type='submit'>Simulate payment</button></form>")
    return "".join(parts)
