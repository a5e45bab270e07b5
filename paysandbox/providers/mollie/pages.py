"""`/__hosted/mollie/checkout/{token}`: Mollie's test-mode payment screen. The tester
picks the status the payment ends with; the shopper then goes to redirectUrl (cancelUrl
when canceled)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from aiohttp import web

from paysandbox.core.commands import Command, Complete, Expire, Update, Void
from paysandbox.core.money import format_amount
from paysandbox.core.outcomes import DeclineReason, decline_reason
from paysandbox.core.payments import InvalidTransition, Payment, PaymentChanges
from paysandbox.hosted.pages import PageContext, PageRoute
from paysandbox.providers.mollie import magic, wire

#: What the checkout's "failed" button says for a card payment, by Mollie's reason.
_CARD_FAILURES: tuple[tuple[str, str], ...] = tuple(
    (reason.value, wire.codes()[reason.value]["failureReason"]) for reason in DeclineReason)


def routes() -> Iterable[PageRoute]:
    return [PageRoute("GET", "checkout", show), PageRoute("POST", "checkout", finish)]


async def _payment(page: PageContext) -> Payment:
    p = await page.payment()
    if p is None:
        raise web.HTTPNotFound(text="This checkout link is unknown or was reset.")
    return p


def _finished(page: PageContext, p: Payment) -> web.Response:
    return page.render("Payment finished", f"<p id='status'>Payment {html.escape(p.id)} "
                       f"is {html.escape(wire.status(p))}.</p>")


async def show(page: PageContext) -> web.StreamResponse:
    p = await _payment(page)
    if wire.status(p) != "open":
        return _finished(page, p)
    return page.render("Mollie test payment", _form(page, p))


def _form(page: PageContext, p: Payment) -> str:
    method = p.extra.get("method")
    title = magic.METHODS[method].title if method else "Choose a payment method"
    lines = [f"<p>Pay <strong id='amount'>{html.escape(format_amount(p.amount, p.currency))}"
             f"</strong> for <span id='description'>{html.escape(p.description or '')}"
             f"</span></p>",
             f"<p id='method'>{html.escape(title)}</p>"]
    issuer = p.extra.get("issuer")
    if issuer:
        name = magic.IDEAL_ISSUERS.get(issuer, issuer)
        lines.append(f"<p id='issuer'>{html.escape(name)}</p>")
    lines.append(f"<form method='post' action='{html.escape(page.link())}'>")
    if not method:
        choices = p.extra.get("methods") or [m.id for m in magic.METHODS.values()
                                             if m.accepts(p.currency)]
        options = "".join(f"<option value='{html.escape(m)}'>"
                          f"{html.escape(magic.METHODS[m].title)}</option>"
                          for m in choices)
        lines.append(f"<p><label>Method <select id='choose-method' name='method'>"
                     f"{options}</select></label></p>")
    if method in (None, "creditcard"):
        options = "".join(f"<option value='{r}'>{html.escape(native)} ({r})</option>"
                          for r, native in _CARD_FAILURES)
        lines.append("<p><label>Card failure reason <select id='reason' name='reason'>"
                     f"{options}</select></label></p>")
    lines.append("<p><small>Test mode: select the status this payment ends with."
                 "</small></p>")
    lines += [f"<button id='{s}' name='status' value='{s}' type='submit'>"
              f"{s.capitalize()}</button>" for s in magic.PAGE_CHOICES]
    lines.append("</form>")
    return "".join(lines)


async def finish(page: PageContext) -> web.StreamResponse:
    p = await _payment(page)
    form = await page.form()
    choice = form.get("status", "")
    if choice not in magic.PAGE_CHOICES:
        return page.render("Unknown status", f"<p>Pick one of "
                           f"{', '.join(magic.PAGE_CHOICES)}.</p>", 400)
    chosen = form.get("method") or None
    try:
        if chosen and not p.extra.get("method") and chosen in magic.METHODS:
            await page.execute(Update(p.id, PaymentChanges(method=chosen,
                                                           extra={"method": chosen})))
        p = (await page.execute(_command(p.id, choice, form))).payment
    except InvalidTransition:
        p = await page.payment() or p  # finished already: show it
    target = p.extra.get("redirectUrl")
    if wire.status(p) == "canceled" and p.extra.get("cancelUrl"):
        target = p.extra["cancelUrl"]
    if target:
        raise web.HTTPSeeOther(target)
    return _finished(page, p)


def _command(pid: str, choice: str, form: Mapping[str, str]) -> Command:
    if choice == "paid":
        return Complete(pid, True)
    if choice == "canceled":
        return Void(pid, "canceled by the shopper")
    if choice == "expired":
        return Expire(pid)
    try:
        reason = decline_reason(form.get("reason") or "generic_decline")
    except ValueError:
        reason = DeclineReason.GENERIC_DECLINE
    return Complete(pid, False, reason)
