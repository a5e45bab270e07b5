"""/__admin: the control plane (health, reset, journal, payments, webhooks, clock)."""

from __future__ import annotations

from paysandbox.admin.routes import admin_app

__all__ = ["admin_app"]
