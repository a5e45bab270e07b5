"""Typed errors that providers render in their own envelope.

Code raises these; each provider's `wire.render_error` is the one place that turns
them into the provider's JSON (LocalStack's ServiceException, stripe-mock's
createStripeError).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """A request the provider would refuse. `kind` is provider-neutral."""

    status: int = 400
    kind: str = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 status: int | None = None, extra: Mapping[str, Any] | None = None) -> None:
        # A message may quote a header, and a header may carry bytes that are not UTF-8
        # (decoded to lone surrogates): shown as U+FFFD, never a failure to render.
        message = message.encode("utf-8", "replace").decode("utf-8")
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if status is not None:
            self.status = status
        self.extra = dict(extra or {})


class InvalidRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status = 401
    kind = "authentication"


class ResourceMissing(ApiError):
    status = 404
    kind = "resource_missing"


class RouteMissing(ApiError):
    status = 404
    kind = "route_missing"


class IdempotencyError(ApiError):
    kind = "idempotency"


class Conflict(ApiError):
    status = 409
    kind = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    kind = "invalid_request"
