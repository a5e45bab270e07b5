"""The README's Settings table lists every `paysandbox serve` flag with its variable."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from paysandbox.cli import build_parser
from paysandbox.settings import env_values

README = Path(__file__).resolve().parents[2] / "README.md"


def settings_table() -> dict[str, str]:
    """flag -> its row, from the table under `## Settings`."""
    section = README.read_text().split("\n## Settings\n", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in section.splitlines():
        flag = re.match(r"\| `(--[a-z-]+)", line)
        if flag:
            rows[flag.group(1)] = line
    return rows


def serve_flags() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = sub.choices["serve"]
    return [opt for a in serve._actions for opt in a.option_strings
            if opt.startswith("--") and opt != "--help"]


def test_every_serve_flag_has_a_row_with_a_variable_the_simulator_reads() -> None:
    rows = settings_table()
    missing = [flag for flag in serve_flags() if flag not in rows]
    assert not missing, f"README Settings table lacks {missing}"
    for flag, row in rows.items():
        variables = re.findall(r"PAYSANDBOX_[A-Z_<>]+", row)
        assert variables, f"{flag}: no PAYSANDBOX_* variable in its row"
        name = variables[0].replace("<PROVIDER>", "STRIPE")
        if name == "PAYSANDBOX_WEBHOOK_SECRET_STRIPE":
            read = env_values({"PAYSANDBOX_WEBHOOK_STRIPE": "http://127.0.0.1:1/h", name: "x"})
            assert read["webhooks"]["stripe"].secret == "x"  # type: ignore[index]
        elif name == "PAYSANDBOX_WEBHOOK_STRIPE":
            assert env_values({name: "http://127.0.0.1:1/h"})["webhooks"]
        else:
            assert env_values({name: "1"}), f"{flag}: settings.py does not read {name}"
