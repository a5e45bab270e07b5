"""Daraja's OAuth: client credentials for a bearer token (dialect.py checks it)."""

from __future__ import annotations

from typing import Any

from paysandbox.providers.daraja import magic
from paysandbox.providers.daraja.dialect import TOKENS, TokenRecord, new_token
from paysandbox.providers.seam import Context


async def generate_token(ctx: Context, params: dict[str, Any]) -> Any:
    """A token for the consumer key, living `magic.TOKEN_TTL` virtual seconds; kept in
    the provider's internal namespace, which no credential names."""
    token = new_token(ctx.namespace)
    await ctx.internal_objects(TOKENS).put(token, TokenRecord(
        namespace=ctx.namespace, expires_at=ctx.clock.now() + magic.TOKEN_TTL))
    return {"access_token": token, "expires_in": str(magic.TOKEN_TTL)}
