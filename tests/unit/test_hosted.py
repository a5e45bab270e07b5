"""/__hosted: the shared 3DS page and pages a provider adds under its own name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paysandbox.hosted import hosted_app, render_page


class PagesProvider:
    """A provider with a page of its own, as a QR-code method has."""

    name = "qrpay"
    title = "QR Pay"

    def hosted_routes(self, engine: Any) -> Iterable[web.RouteDef]:
        async def qr(request: web.Request) -> web.Response:
            token = request.match_info["token"]
            return render_page("Scan to pay", f"<p id='token'>{token}</p>", self.title)
        return [web.get("/qr/{token}", qr)]


class PlainProvider:
    name = "plain"
    title = "Plain"


async def test_a_provider_serves_its_own_pages_under_its_name() -> None:
    providers = {"qrpay": PagesProvider(), "plain": PlainProvider()}
    app = hosted_app(cast(Any, object()), cast(Any, providers))
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/qrpay/qr/tok123")
        text = await resp.text()
        assert resp.status == 200
        assert "<p id='token'>tok123</p>" in text
        assert "a simulated QR Pay page" in text
        assert resp.headers["Cache-Control"] == "no-store"
        assert (await client.get("/plain/qr/tok123")).status == 404
