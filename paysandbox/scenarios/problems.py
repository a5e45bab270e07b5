"""What is wrong with a scenario file, and where: the form every refusal takes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Keys = tuple[str | int, ...]  # ("rules", 2, "latency"): a JSON path before formatting


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a scenario file, where an editor can jump to it."""

    file: str
    line: int
    column: int
    path: str  # JSON path like $.rules[2].latency.median
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column} {self.path}: {self.message}"


class ScenarioError(Exception):
    """A scenario file was refused; `problems` holds every reason, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = sorted(set(problems))  # by file, line, column
        super().__init__("\n".join(str(p) for p in self.problems))


def json_path(path: Sequence[str | int]) -> str:
    """$.rules[2].match.header['X-Test-Case'] for ("rules", 2, "match", ...)."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out
