"""Imitated providers, one package each, all the same shape (routes, wire, magic, codes)."""
