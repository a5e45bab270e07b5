"""/__hosted: the shared 3DS page and pages a provider adds under its own name."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any, cast

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paysandbox.core.tenancy import tenant
from paysandbox.hosted import PageContext, PageRoute, hosted_app
from paysandbox.hosted.pages import CHALLENGE, HOSTED_NAMESPACE, token_record
from paysandbox.store.memory import MemoryStore


class PagesProvider:
    """A provider with a page of its own, as a QR-code method has."""

    name = "qrpay"
    title = "QR Pay"

    def hosted_routes(self) -> Iterable[PageRoute]:
        async def qr(page: PageContext) -> web.Response:
            return page.render("Scan to pay", f"<p id='token'>{page.token}</p>")
        return [PageRoute("GET", "qr", qr)]


class PlainProvider:
    name = "plain"
    title = "Plain"


async def _with_tokens(**pages: str) -> Any:
    """An engine whose store holds a hosted token for each `token=page`."""
    store = MemoryStore()
    for token, page in pages.items():
        await store.put_object(HOSTED_NAMESPACE, CHALLENGE, *token_record(
            token, provider="qrpay", namespace=tenant("k"), payment_id="p1", page=page))
    return SimpleNamespace(store=store)


async def test_a_provider_serves_its_own_pages_under_its_name() -> None:
    providers = {"qrpay": PagesProvider(), "plain": PlainProvider()}
    app = hosted_app(await _with_tokens(tok123="qrpay/qr"), cast(Any, providers))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/qrpay/qr/tok123")
        text = await resp.text()
        assert resp.status == 200
        assert "<p id='token'>tok123</p>" in text
        assert "a simulated QR Pay page" in text
        assert resp.headers["Cache-Control"] == "no-store"
        assert (await client.get("/plain/qr/tok123")).status == 404


async def test_a_token_opens_only_the_page_it_was_made_for() -> None:
    providers = {"qrpay": PagesProvider(), "plain": PlainProvider()}
    app = hosted_app(await _with_tokens(qr1="qrpay/qr", tds1="3ds"), cast(Any, providers))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/qrpay/qr/qr1")).status == 200
        assert (await client.get("/qrpay/qr/tds1")).status == 404
        assert (await client.get("/3ds/qr1")).status == 404
        assert (await client.get("/qrpay/qr/unknown")).status == 404
