"""How Daraja speaks HTTP: OAuth client credentials for a token, bearer tokens for
everything else, JSON bodies and its `{"requestId", "errorCode", "errorMessage"}`
envelope. Daraja has no idempotency header.

Tokens: `GET /oauth/v1/generate` with Basic base64(ConsumerKey:ConsumerSecret) issues a
bearer token; the consumer key is the namespace. `authenticate` reads no store (it is
synchronous), so a token names the namespace it was issued to; its record, in the
provider's internal namespace, says whether it was issued and until when, and `bearer`
(around every route that takes a token) checks that record on the virtual clock
before the handler runs. A request with a well-formed token that was never issued or
has expired is therefore decoded and checked against its contract before it is refused.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from typing import Any, TypedDict

from aiohttp import web

from paysandbox.contracts import Violation
from paysandbox.core.tenancy import is_internal, tenant
from paysandbox.errors import ApiError, Conflict, InvalidRequest, Unauthorized
from paysandbox.objects import Kind
from paysandbox.providers.base import RAW_BODY, REQUEST_ID
from paysandbox.providers.daraja import wire
from paysandbox.providers.seam import (
    Context,
    basic_credentials,
    bearer_token,
    json_fingerprint,
    provider_path,
)

#: The OAuth route, the one that takes the consumer key and secret.
OAUTH_PATH = "/oauth/v1/generate"


class TokenRecord(TypedDict):
    namespace: str  # the consumer key's
    expires_at: float  # virtual time


TOKENS: Kind[TokenRecord] = Kind("daraja.token")


def new_token(namespace: str) -> str:
    """A bearer token for `namespace`: the namespace it names, then 28 random characters
    (the length of Daraja's own tokens)."""
    named = base64.urlsafe_b64encode(namespace.encode()).rstrip(b"=").decode()
    return f"{named}.{secrets.token_urlsafe(21)}"


def _namespace_of(token: str) -> str | None:
    named, dot, _ = token.rpartition(".")
    if not dot or not named:
        return None
    try:
        namespace = base64.urlsafe_b64decode(named + "=" * (-len(named) % 4)).decode()
    except (binascii.Error, ValueError):  # not base64, or not UTF-8
        return None
    return None if not namespace or is_internal(namespace) else namespace


def _token_refused() -> Unauthorized:
    return Unauthorized(
        "Invalid Access Token: get one from GET /oauth/v1/generate?grant_type="
        "client_credentials; tokens expire after 3599 seconds.",
        code="404.001.03", status=404)


class DarajaDialect:
    idempotency_header = None
    replay_header = None

    def authenticate(self, request: web.Request) -> str:
        """The consumer key on the OAuth route, the namespace a bearer token names on
        every other (whose record `admit` checks)."""
        if provider_path(request).removeprefix("/daraja") == OAUTH_PATH:
            key, secret = basic_credentials(request)
            if not key or not secret:
                raise wire.bad_request(
                    "Invalid Authentication passed: send Authorization: Basic "
                    "base64(ConsumerKey:ConsumerSecret).", code="400.008.01")
            return tenant(key)
        namespace = _namespace_of(bearer_token(request))
        if namespace is None:
            raise _token_refused()
        return namespace

    async def admit(self, ctx: Context) -> None:
        """A bearer token this simulator issued to the namespace it names (a token is
        refused once its record is gone, after a reset) that has not yet expired on the
        virtual clock."""
        if provider_path(ctx.request).removeprefix("/daraja") == OAUTH_PATH:
            return
        record = await ctx.internal_objects(TOKENS).get(bearer_token(ctx.request))
        if record is None or record["namespace"] != ctx.namespace or \
                record["expires_at"] <= ctx.clock.now():
            raise _token_refused()

    async def decode(self, request: web.Request, schema: str | None) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query)
        return wire.parse_body(request.get(RAW_BODY, b""))

    def invalid(self, violation: Violation) -> ApiError:
        return wire.violation_error(violation)

    def respond(self, body: Any, request: web.Request, status: int = 200) -> web.Response:
        return web.Response(body=wire.dumps(body), status=status,
                            headers={"Content-Type": "application/json"})

    def render_error(self, error: ApiError, request: web.Request) -> web.Response:
        rid = request.get(REQUEST_ID, "")
        shown = f"{rid[:5]}-{rid[5:]}-1" if rid else ""
        return self.respond(wire.error_body(error, shown), request, error.status)

    def idempotency_errors(self, key: str) -> tuple[ApiError, ApiError]:
        # Never asked for: Daraja has no idempotency header.
        return (InvalidRequest(f"The key {key} was used with another request."),
                Conflict(f"A request with the key {key} is still in progress."))

    def fingerprint(self, request: web.Request, params: Mapping[str, Any]) -> str:
        return json_fingerprint(request.method, provider_path(request), params)
