"""Stripe, on its real v1 wire API (form-encoded requests, JSON responses)."""
