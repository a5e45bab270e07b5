"""Scenario files: safe YAML in, plain data out, or every problem with its place.

QA edits these files by hand, so a refusal must say where and how to fix it:
`scenarios/pix.yaml:14:7 $.rules[2].latency.median: ...`, all problems at once. The YAML
is composed into nodes (never constructed: no tag can build an object or run code) and
turned into data that keeps each value's line and column (nodes.py), then checked against
the schema and the rules a schema cannot state (checks.py); problems.py is the form of
every refusal. This module reads files and names and puts the three together.
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from paysandbox.scenarios import ready
from paysandbox.scenarios.checks import Checker, schema
from paysandbox.scenarios.nodes import Builder, Overflow
from paysandbox.scenarios.problems import Problem, ScenarioError

__all__ = ["MAX_BYTES", "Problem", "ScenarioError", "load_file", "load_text", "locate", "schema"]

MAX_BYTES = 1 << 20  # a scenario is a page of rules; anything bigger is a mistake


def locate(ref: str | Path) -> Path | Traversable:
    """A scenario reference as users write it: a file that exists, else the name of a
    ready-made scenario (`acquirer-brownout`); FileNotFoundError names the choices."""
    path = Path(ref)
    if path.is_file():
        return path
    if len(path.parts) > 1:  # a path, not a name
        raise FileNotFoundError("cannot read the file: No such file or directory")
    found = ready.find(str(ref))
    if found is None:
        raise FileNotFoundError(ready.unknown(str(ref)))
    return found


def load_file(path: str | Path) -> dict[str, Any]:
    """Read, parse and check one scenario file (or ready-made scenario, by name); raise
    ScenarioError with every problem."""
    source = str(path)
    try:
        with locate(path).open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError as exc:
        raise ScenarioError([Problem(source, 1, 1, "$", str(exc))]) from None
    except OSError as exc:
        raise ScenarioError([Problem(source, 1, 1, "$", f"cannot read the file: {exc.strerror}")]
                            ) from None
    if len(raw) > MAX_BYTES:
        raise ScenarioError([_too_big(source)])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ScenarioError([Problem(source, line, column, "$",
                                     "the file is not UTF-8 text; save it as UTF-8")]) from None
    return load_text(text, source=source)


def load_text(text: str, *, source: str = "<scenario>") -> dict[str, Any]:
    """Parse and check a scenario given as text (a file's, or a PUT body's)."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8")) > MAX_BYTES:
        raise ScenarioError([_too_big(source)])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise ScenarioError([_syntax_problem(source, exc)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, 1, 1, "$", f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError([Problem(source, 1, 1, "$", "the YAML is nested too deeply")]
                            ) from None
    if root is None:
        raise ScenarioError([Problem(source, 1, 1, "$", "the file is empty; a scenario needs "
                                     "at least a name and one of rules, phases, webhooks")])
    builder = Builder(source)
    try:
        doc = builder.build(root, (), 0)
    except Overflow as exc:
        raise ScenarioError([exc.problem]) from None
    problems = list(builder.problems)  # a refused value (now None) fails the schema too:
    problems += [p for p in Checker(source, builder, doc).problems()  # say it once
                 if not any(_within(p.path, r) for r in builder.refused)]
    if problems:
        raise ScenarioError(problems)
    if not isinstance(doc, dict):  # the schema said so already; keeps the type honest
        raise ScenarioError([Problem(source, 1, 1, "$", "a scenario is a mapping")])
    return doc


def _within(path: str, parent: str) -> bool:
    return path == parent or path.startswith((parent + ".", parent + "["))


def _too_big(source: str) -> Problem:
    return Problem(source, 1, 1, "$", f"the file is larger than {MAX_BYTES // 1024} KiB; "
                   "a scenario is a short list of rules (split it into several files)")


def _syntax_problem(source: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = exc.problem or "invalid YAML"
    if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        what += f" ({exc.context} at line {exc.context_mark.line + 1})"
    for clue, fix in _SYNTAX_FIXES:
        if clue in what:
            what += f"; {fix}"
            break
    return Problem(source, line, column, "$", f"YAML syntax error: {what}")


_SYNTAX_FIXES = (
    ("'\\t'", "indent with spaces, not tabs"),
    ("mapping values are not allowed", "quote a value that contains ': '"),
    ("<block end>", "check this line's indentation against the lines above"),
    ("<block mapping start>", "check this line's indentation against the lines above"),
    ("found undefined alias", "define the &anchor before using the *alias"),
)
