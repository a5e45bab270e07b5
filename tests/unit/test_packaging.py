"""What ships: every folder under paysandbox/ holding modules is a package, and every
contract is a valid JSON Schema that names the documentation it follows. What the built
wheel holds and that it works installed is tests/wheel/ (run by .ci/run in a fresh venv)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "paysandbox" / "contracts_data"


def test_every_folder_with_python_modules_is_a_package() -> None:
    """A folder of modules without __init__.py would be a namespace package: importable from
    a checkout, but its data found through a MultiplexedPath that is not a folder."""
    for module in (ROOT / "paysandbox").rglob("*.py"):
        folder = module.parent
        if "__pycache__" in folder.parts:
            continue
        assert (folder / "__init__.py").exists(), f"{folder.relative_to(ROOT)} has no __init__.py"


# operations.json is each provider's manifest, not a schema (test_contract_coverage.py).
CONTRACT_FILES = sorted(p for p in CONTRACTS.rglob("*.json") if p.name != "operations.json")


def test_there_are_contracts() -> None:
    assert CONTRACT_FILES


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: str(p.relative_to(CONTRACTS)))
def test_contract_is_a_valid_schema_naming_its_reference(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    comment = schema.get("$comment")
    assert isinstance(comment, str) and comment.strip(), f"{path.name} has no $comment"
    assert "https://" in comment, f"{path.name}: $comment should name the reference it follows"
