"""The ready-made scenarios, shipped in the package and addressable by name.

`--scenario acquirer-brownout`, `paysandbox scenarios load acquirer-brownout`,
`paysandbox validate acquirer-brownout` and `@pytest.mark.payment_scenario("acquirer-brownout")`
all find `acquirer-brownout.yaml` here; a path that exists always wins over a name.
README.md beside them is the scenario language's reference.
"""

from __future__ import annotations

import difflib
from importlib import resources
from importlib.resources.abc import Traversable

SUFFIX = ".yaml"


def _folder() -> Traversable:
    return resources.files(__name__)


def names() -> list[str]:
    """Every ready-made scenario's name, sorted."""
    return sorted(entry.name.removesuffix(SUFFIX) for entry in _folder().iterdir()
                  if entry.name.endswith(SUFFIX) and entry.is_file())


def find(name: str) -> Traversable | None:
    """The ready-made scenario called `name` (with or without `.yaml`), or None."""
    stem = name.removesuffix(SUFFIX)
    if stem not in names():
        return None
    return _folder().joinpath(stem + SUFFIX)


def unknown(name: str) -> str:
    """Why `name` is neither a file nor a ready-made scenario, and what would have been."""
    close = difflib.get_close_matches(name.removesuffix(SUFFIX), names(), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return (f"no scenario file {name!s} and no ready-made scenario of that name; {hint}"
            f"ready-made: {', '.join(names())}")
