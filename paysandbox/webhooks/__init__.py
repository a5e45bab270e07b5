"""Webhooks: events, endpoints, and the dispatcher every provider shares."""

from __future__ import annotations

from paysandbox.webhooks.dispatcher import (
    Delivery,
    Dispatcher,
    Endpoint,
    Event,
    Signed,
    WebhookScheme,
)

__all__ = ["Delivery", "Dispatcher", "Endpoint", "Event", "Signed", "WebhookScheme"]
