"""payments-sandbox: an offline stand-in for payment providers on their real wire APIs."""

from __future__ import annotations

__version__ = "0.1.0"
