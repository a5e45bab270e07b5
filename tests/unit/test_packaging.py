"""What ships: every Python package under simulator/ is listed in pyproject.toml (the
list is kept by hand because contracts/ is mapped into the package), and every
contract is a valid JSON Schema that names the documentation it follows."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _packages_on_disk() -> set[str]:
    found = set()
    for init in (ROOT / "simulator").rglob("__init__.py"):
        package = init.parent.relative_to(ROOT)
        if "__pycache__" in package.parts:
            continue
        found.add(".".join(package.parts))
    return found


def test_every_package_is_listed_and_nothing_else() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = setuptools["packages"]
    assert len(listed) == len(set(listed)), "a package is listed twice"
    expected = _packages_on_disk() | {"simulator.contracts_data"}
    missing = sorted(expected - set(listed))
    extra = sorted(set(listed) - expected)
    assert not missing, f"add to [tool.setuptools] packages: {missing}"
    assert not extra, f"listed but not a package under simulator/: {extra}"


def test_every_folder_with_python_modules_is_a_package() -> None:
    """A folder of modules without __init__.py would be silently left out of the wheel."""
    for module in (ROOT / "simulator").rglob("*.py"):
        folder = module.parent
        if "__pycache__" in folder.parts:
            continue
        assert (folder / "__init__.py").exists(), f"{folder.relative_to(ROOT)} has no __init__.py"


def test_contracts_are_shipped_as_package_data() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"]["simulator.contracts_data"] == "contracts"
    patterns = setuptools["package-data"]["simulator.contracts_data"]
    for path in CONTRACTS.rglob("*.json"):
        relative = path.relative_to(CONTRACTS)
        assert any(_glob_matches(relative.parts, p) for p in patterns), (
            f"{relative} matches no package-data pattern of simulator.contracts_data")


def _glob_matches(parts: tuple[str, ...], pattern: str) -> bool:
    """setuptools' package-data globs: one segment per folder level, no recursion."""
    segments = pattern.split("/")
    return len(segments) == len(parts) and all(
        fnmatch.fnmatchcase(part, seg) for part, seg in zip(parts, segments, strict=True))


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
