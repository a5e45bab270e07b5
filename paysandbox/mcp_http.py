"""`/__admin/mcp`: the MCP tools (paysandbox.mcp_server) over Streamable HTTP, served by
the simulator itself.

It is an admin route, so it passes the admin API's checks first (a loopback or allowed
Host, no cross-origin browser, JSON on calls that change state, the admin token beyond
loopback). Behind them, the `mcp` SDK's own Streamable HTTP transport answers, bridged
from aiohttp to its ASGI interface by `aiohttp-asgi`; it runs stateless with JSON
responses, so it keeps nothing between requests (no sessions to bound or expire).

The tools call this same simulator's admin API on the socket the agent reached it
through, with the simulator's own admin token: the agent already proved it may use the
admin API, and both transports then behave the same.

The SDK takes about a second to import, so nothing of it is loaded until the first
MCP request; without the `mcp` extra installed the route says how to add it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from paysandbox.admin.access import is_loopback
from paysandbox.settings import Settings

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from paysandbox.mcp_server import AdminAPI

PATH = "/mcp"
INSTALL = "pip install 'payments-sandbox[mcp]'"


class McpEndpoint:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._manager: StreamableHTTPSessionManager | None = None
        self._api: AdminAPI | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            from aiohttp_asgi.resource import ASGIContext
            manager = await self._started(request)
        except ImportError as exc:
            return web.Response(status=501, content_type="application/json", body=orjson.dumps(
                {"error": {"message": f"The MCP endpoint needs the `mcp` extra ({exc.name} "
                                      f"is missing): {INSTALL}"}}))
        return await ASGIContext(manager.handle_request, request, "").get_response()

    async def _started(self, request: web.Request) -> StreamableHTTPSessionManager:
        async with self._lock:
            if self._manager is not None:
                return self._manager
            from mcp.server.transport_security import TransportSecuritySettings

            from paysandbox.mcp_server import AdminAPI, build_server

            settings = self._settings
            api = AdminAPI(self._own_address(request), token=settings.admin_token,
                           public_url=settings.public_url or f"{request.scheme}://{request.host}",
                           verify_tls=False)  # our own socket: nothing to verify
            server = build_server(api)
            server.streamable_http_app(
                stateless_http=True, json_response=True,
                max_request_body_size=settings.max_body_bytes,
                # The admin guard has checked Host and Origin against the operator's
                # own list (--allowed-host) before the transport sees the request.
                transport_security=TransportSecuritySettings(
                    enable_dns_rebinding_protection=False))
            manager = server.session_manager
            ready, stop = asyncio.Event(), asyncio.Event()
            # The SDK's task group must be entered and left in one task: its own.
            task = asyncio.create_task(_run(manager, ready, stop), name="mcp-endpoint")
            waiting = asyncio.create_task(ready.wait())
            await asyncio.wait((task, waiting), return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if task.done():
                task.result()  # raises what stopped it
            self._api, self._task, self._stop, self._manager = api, task, stop, manager
            return manager

    def _own_address(self, request: web.Request) -> str:
        """This server's admin API on the socket the request came in on; under a
        wildcard bind, the loopback address of its family (the admin API answers a
        loopback Host without an --allowed-host)."""
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        host, port = (str(sock[0]), int(sock[1])) if sock else ("127.0.0.1", 0)
        if self._settings.host in ("0.0.0.0", "::", "") and not is_loopback(host):
            host = "::1" if ":" in host else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if request.secure else 'http'}://{host}:{port}"

    async def stop(self) -> None:
        if self._task is not None and self._stop is not None:
            self._stop.set()
            await self._task
        if self._api is not None:
            await self._api.aclose()


async def _run(manager: StreamableHTTPSessionManager, ready: asyncio.Event,
               stop: asyncio.Event) -> None:
    async with manager.run():
        ready.set()
        await stop.wait()


def mount(admin: web.Application, settings: Settings) -> None:
    """`/mcp` on the admin application, and the SDK's tasks stopped with it."""
    endpoint = McpEndpoint(settings)
    # POST only: a stateless endpoint has no server-to-client stream to GET (the SDK
    # would hold such a request open with nothing to send), and the transport lets a
    # server answer it 405, as the admin API does for any method a route lacks.
    admin.router.add_route("POST", PATH, endpoint.handle)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        yield
        with contextlib.suppress(asyncio.CancelledError):
            await endpoint.stop()

    admin.cleanup_ctx.append(lifecycle)
