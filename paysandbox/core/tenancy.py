"""Namespaces: one per credential, and the simulator's own, kept apart.

State is namespaced by credential (an API key, a merchant account, an access token), as
given, so parallel suites with different keys never meet. The simulator keeps records
of its own too (hosted-page tokens, OAuth tokens); they live in namespaces that start
with one NUL character, and `tenant` maps any credential that itself starts with NUL
to one that starts with two, so no credential, whatever bytes it carries, can name an
internal namespace (an Adyen `X-API-Key: __hosted__` is just another tenant).
"""

from __future__ import annotations

RESERVED = "\x00"


def internal(name: str) -> str:
    """The simulator's own namespace `name`: no credential maps to it."""
    if not name or name.startswith(RESERVED):
        raise ValueError(f"an internal namespace needs a plain name, got {name!r}")
    return RESERVED + name


def is_internal(namespace: str) -> bool:
    """Whether `namespace` is the simulator's own (made by `internal`), not a tenant's."""
    return namespace.startswith(RESERVED) and not namespace.startswith(RESERVED * 2)


def tenant(credential: str) -> str:
    """The namespace of a credential: itself, unless it starts like an internal one, or
    holds bytes that are not UTF-8 (a header decoded with surrogates), which become hex
    (a store keys and a journal shows only text)."""
    try:
        credential.encode("utf-8")
    except UnicodeEncodeError:  # two NULs then a letter: no other credential maps there
        return f"{RESERVED * 2}bytes:{credential.encode('utf-8', 'surrogatepass').hex()}"
    return RESERVED * 2 + credential if credential.startswith(RESERVED) else credential
