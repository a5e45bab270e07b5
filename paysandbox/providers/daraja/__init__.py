"""Safaricom M-Pesa Daraja: OAuth, M-Pesa Express (STK push), STK query, callbacks."""
