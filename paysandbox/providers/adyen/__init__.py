"""Adyen Checkout API (v68 and newer) on its real wire API."""
