"""The README says what the code does: its settings table is `paysandbox serve --help`,
its admin table is the admin API's route table, and its pytest example passes as written.
A flag, route or fixture added without its line in the README fails here."""

from __future__ import annotations

import argparse
import re
import textwrap
from pathlib import Path

import pytest
from aiohttp import web

from paysandbox.app import create_app
from paysandbox.cli import EPILOG, build_parser
from paysandbox.settings import ENV_PREFIX, Settings, env_values

pytest_plugins = ["pytester"]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


_SEPARATOR = re.compile(r"\|(\s*:?-+:?\s*\|)+")


def _table_rows(section: str, *, first: str = "") -> list[list[str]]:
    """The rows of every table in `section`, headers left out, whose first cell starts
    with `first`."""
    lines = section.splitlines()
    rows = []
    for i, line in enumerate(lines):
        below = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if not line.startswith("|") or _SEPARATOR.fullmatch(line.strip()) \
                or _SEPARATOR.fullmatch(below):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
        rows.append([c.strip() for c in cells])
    return [row for row in rows if row[0].startswith(first)]


def _serve_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices["serve"]
    return parser


def test_the_settings_table_lists_every_flag_of_serve_and_no_other() -> None:
    documented = {re.match(r"`(--[a-z-]+)", row[0]).group(1)  # type: ignore[union-attr]
                  for row in _table_rows(_section("Settings"), first="`--")}
    flags = {opt for action in _serve_parser()._actions for opt in action.option_strings
             if opt.startswith("--") and opt != "--help"}
    assert documented == flags, (f"in --help, not in the README's Settings table: "
                                 f"{sorted(flags - documented)}; in the table, not a flag: "
                                 f"{sorted(documented - flags)}")


def test_every_settings_row_names_a_variable_the_simulator_reads() -> None:
    for row in _table_rows(_section("Settings"), first="`--"):
        variables = re.findall(rf"{ENV_PREFIX}[A-Z_<>]+", row[1])
        assert variables, f"{row[0]}: no {ENV_PREFIX}* variable in its row"
        name = variables[0].replace("<PROVIDER>", "STRIPE")
        assert name in EPILOG or name.startswith(f"{ENV_PREFIX}WEBHOOK_"), \
            f"{name} is in the README but not in `serve --help`"
        if name == "PAYSANDBOX_WEBHOOK_SECRET_STRIPE":
            read = env_values({"PAYSANDBOX_WEBHOOK_STRIPE": "http://127.0.0.1:1/h", name: "x"})
            assert read["webhooks"]["stripe"].secret == "x"  # type: ignore[index]
        elif name == "PAYSANDBOX_WEBHOOK_STRIPE":
            assert env_values({name: "http://127.0.0.1:1/h"})["webhooks"]
        else:
            assert env_values({name: "1"}), f"{row[0]}: settings.py does not read {name}"


def _admin_routes() -> set[tuple[str, str]]:
    app = create_app(Settings())
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource) \
                and resource.canonical == "/__admin":
            admin: web.Application = resource.get_info()["app"]
            return {(route.method, route.resource.canonical if route.resource else "")
                    for route in admin.router.routes() if route.method != "HEAD"}
    raise AssertionError("no /__admin sub-application")


def _documented_admin_routes() -> set[tuple[str, str]]:
    found = set()
    for row in _table_rows(_section("Admin API")):
        match = re.match(r"`([A-Z|\\]+) (/__admin[^`]*)`", row[0])
        assert match, f"an admin table row that names no route: {row[0]}"
        methods = match.group(1).replace("\\", "").split("|")
        path = match.group(2)
        variants = [path]
        optional = re.search(r"\[(/[^\]]+)\]", path)
        if optional:  # `/payments[/{id}]` is /payments and /payments/{id}
            variants = [path.replace(optional.group(0), ""),
                        path.replace(optional.group(0), optional.group(1))]
        for method in methods:
            for variant in variants:
                if "|" in variant:  # `/clock/advance` written beside `/clock` in one cell
                    continue
                found.add((method, variant))
    for cell in re.findall(r"`((?:GET|POST|PUT|DELETE)[^`]*)`, `((?:GET|POST)[^`]*)`",
                           _section("Admin API")):
        for text in cell:
            method, path = text.split(" ", 1)
            found.add((method, path))
    return found


def test_the_admin_table_lists_every_admin_route_and_no_other() -> None:
    served, documented = _admin_routes(), _documented_admin_routes()
    assert served == documented, (f"served, not in the README's admin table: "
                                  f"{sorted(served - documented)}; documented, not served: "
                                  f"{sorted(documented - served)}")


def test_every_command_the_readme_runs_exists() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    used = set(re.findall(r"^\s*paysandbox ([a-z]+)", README, re.MULTILINE))
    used |= set(re.findall(r"`paysandbox ([a-z]+)", README))
    assert used, "the README runs no paysandbox command?"
    assert used <= set(sub.choices), f"not commands: {sorted(used - set(sub.choices))}"


def test_the_pytest_example_passes_as_written(pytester: pytest.Pytester) -> None:
    """In a fresh project with nothing but the example: the plugin comes from the entry
    point the package installs."""
    block = re.search(r"```python\n(.*?)```", _section("In your own pytest suite"), re.DOTALL)
    assert block is not None
    pytester.makepyfile(test_readme_example=textwrap.dedent(block.group(1)))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
