"""YAML nodes to plain data: composed, never constructed (no tag can build an object or
run code), bounded (aliases cannot explode, nesting cannot recurse forever), and every
value's line and column kept for the messages."""

from __future__ import annotations

import math
from typing import Any

import yaml

from paysandbox.scenarios.problems import Keys, Problem, json_path

MAX_VALUES = 100_000  # values after alias expansion: stops "billion laughs"
MAX_DEPTH = 64  # nesting; a recursive alias (&a [*a]) would otherwise never end

_YAML = "tag:yaml.org,2002:"
_MERGE = _YAML + "merge"
_SCALARS = {_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp")}


class Overflow(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


class Builder:
    """Plain data from a composed node tree, remembering where each value came from."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.refused: list[str] = []  # paths of values replaced by None
        self.at: dict[Keys, tuple[int, int]] = {}
        self.key_at: dict[Keys, tuple[int, int]] = {}
        self.scalars: dict[Keys, yaml.ScalarNode] = {}
        self._count = 0
        self._constructor = yaml.SafeLoader("")

    def _problem(self, node: yaml.Node, path: Keys, message: str) -> None:
        line, column = _mark(node)
        self.problems.append(Problem(self.source, line, column, json_path(path), message))

    def build(self, node: yaml.Node, path: Keys, depth: int) -> Any:
        self._count += 1
        if self._count > MAX_VALUES or depth > MAX_DEPTH:
            what = (f"expands to more than {MAX_VALUES} values" if self._count > MAX_VALUES
                    else f"nests more than {MAX_DEPTH} levels deep")
            line, column = self.at.get(path[:1], _mark(node))  # where it starts, not where
            raise Overflow(Problem(self.source, line, column, json_path(path[:1]),
                                    f"the document {what} (aliases that repeat each "
                                    "other?); refused"))
        self.at[path] = _mark(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _YAML + "seq":
                return self._bad_tag(node, path)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != _YAML + "map":
                return self._bad_tag(node, path)
            return self._mapping(node, path, depth)
        return self._bad_tag(node, path)  # pragma: no cover - compose yields only these

    def _bad_tag(self, node: yaml.Node, path: Keys) -> None:
        return self._refuse(node, path, f"the tag {_tag_name(node.tag)} is not allowed: a "
                            "scenario is plain data (strings, numbers, lists, mappings)")

    def _refuse(self, node: yaml.Node, path: Keys, message: str) -> None:
        self._problem(node, path, message)
        self.refused.append(json_path(path))
        return None

    def _scalar(self, node: yaml.ScalarNode, path: Keys) -> Any:
        self.scalars[path] = node
        tag = node.tag
        if tag not in _SCALARS:
            return self._bad_tag(node, path)
        if tag in (_YAML + "str", _YAML + "timestamp"):
            return node.value  # a date stays the text it was written as
        c = self._constructor
        if tag == _YAML + "null":
            return None
        try:
            if tag == _YAML + "bool":
                return c.construct_yaml_bool(node)
            if tag == _YAML + "int":
                return c.construct_yaml_int(node)
            number = c.construct_yaml_float(node)
        except (ValueError, KeyError):
            return self._refuse(node, path, f"{node.value!r} is not a valid {_tag_name(tag)}")
        if not math.isfinite(number):
            return self._refuse(node, path, f"{node.value!r} is not a usable number (write a "
                                "finite number)")
        return number

    def _key(self, node: yaml.Node, path: Keys) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self._problem(node, path, "a key must be a plain word, not a list or a mapping")
            return None
        if node.tag not in _SCALARS:
            self._bad_tag(node, path)
            return None
        return str(node.value)  # `on:`, `2024:` are keys as written, not true or 2024

    def _mapping(self, node: yaml.MappingNode, path: Keys, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:  # merged keys first: explicit ones win
            if key_node.tag == _MERGE:
                for source in self._merge_sources(value_node, path):
                    merged = self.build(source, path, depth)
                    if isinstance(merged, dict):
                        result.update(merged)
        self.at[path] = _mark(node)
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in first_line:
                self._problem(key_node, child, f"duplicate key {key!r} (first given at line "
                              f"{first_line[key]}); keep one")
                continue
            first_line[key] = _mark(key_node)[0]
            self.key_at[child] = _mark(key_node)
            result[key] = self.build(value_node, child, depth + 1)
        return result

    def _merge_sources(self, node: yaml.Node, path: Keys) -> list[yaml.Node]:
        if isinstance(node, yaml.MappingNode):
            return [node]
        if isinstance(node, yaml.SequenceNode) and all(
                isinstance(n, yaml.MappingNode) for n in node.value):
            return list(reversed(node.value))  # the first mapping listed wins
        self._problem(node, path, "'<<' merges a mapping or a list of mappings")
        return []
