"""How deep a request nests objects and arrays, measured before anything recurses on it.

Real payment requests nest a handful of levels (Adyen's `paymentMethod`, Stripe's
`payment_method_data[billing_details][address][city]`). A body nested hundreds of levels
deep is refused once, in the shared envelope, with the provider's own 4xx, so no decoder,
fingerprint or validator behind it ever meets one (orjson encodes at most 254 levels,
Python recurses at most about 1,000).
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import parse_qsl

import orjson

#: The deepest nesting a request body or query string may have: `{"a": 1}` and
#: `metadata=1` are one level, `metadata[a]=1` two.
MAX_NESTING = 32

_OPENERS = (b"{", b"[", b"%5B", b"%5b", b"%7B", b"%7b")


def excess(raw: bytes, limit: int = MAX_NESTING) -> int:
    """The depth of `raw` (a JSON body, a form body or a query string) when it is deeper
    than `limit`, else 0.

    Costs a few C-speed byte counts for any body with no more than `limit` opening
    brackets (every ordinary request); only a body with more is parsed and walked."""
    if sum(raw.count(o) for o in _OPENERS) <= limit:
        return 0
    if raw.lstrip()[:1] in (b"{", b"["):
        try:
            depth = tree_depth(orjson.loads(raw), limit)
        except orjson.JSONDecodeError:
            return 0  # not JSON, or deeper than orjson parses: the decoder says so
        return depth if depth > limit else 0
    depth = 0
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        depth = max(depth, 1 + key.count("["))
        if value.count("{") + value.count("[") > limit:  # JSON inside a form field
            with contextlib.suppress(orjson.JSONDecodeError):
                depth = max(depth, 1 + tree_depth(orjson.loads(value), limit))
        if depth > limit:
            return depth
    return 0


def tree_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """Levels of dicts and lists in a decoded value (a scalar is 0), without recursion;
    stops counting once past `limit`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest if isinstance(value, dict | list) else 0
