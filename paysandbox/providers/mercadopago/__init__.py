"""Mercado Pago: Checkout API payments (cards, PIX, boleto, OXXO) on /v1/payments."""
