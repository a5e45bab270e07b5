"""`paysandbox validate FILE...`: check scenario files before a test run depends on them.

One problem per line as `file:line:col $.path: message` (the form editors and CI
annotate), then a one-line summary; the exit status is 1 if anything is wrong.
"""

from __future__ import annotations

from pathlib import Path

from paysandbox.scenarios.loader import ScenarioError, load_file


def _files(paths: list[str]) -> list[str]:
    """Each path as given; a folder stands for the YAML files in it."""
    found: list[str] = []
    for path in paths:
        folder = Path(path)
        if folder.is_dir():
            found += sorted(str(p) for p in folder.iterdir()
                            if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            found.append(path)
    return found


def main(paths: list[str]) -> int:
    """Print every problem of every file and a summary; 0 if all are valid, else 1."""
    files = _files(paths)
    if not files:
        print("no scenario files given (or none in the folders given): "
              "paysandbox validate FILE.yaml [FILE.yaml ...]")
        return 1
    errors = 0
    for path in files:
        try:
            load_file(path)
        except ScenarioError as exc:
            errors += len(exc.problems)
            for problem in exc.problems:
                print(problem)
    count = f"{len(files)} file{'s' if len(files) != 1 else ''}"
    print(f"{count}, {errors} error{'s' if errors != 1 else ''}" if errors else f"{count} OK")
    return 1 if errors else 0
