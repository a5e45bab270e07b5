"""Checkout.com's unified payments API (`/payments`), on its real wire API."""
