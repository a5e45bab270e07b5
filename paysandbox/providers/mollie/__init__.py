"""Mollie, on its real v2 wire API (JSON requests, HAL+JSON responses, id-only webhooks)."""
