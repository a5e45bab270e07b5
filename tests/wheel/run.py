"""Build the sdist and wheel, check them, install the wheel into a fresh venv in a temporary
folder outside the checkout, and run the smoke suite (this folder) there.

    python tests/wheel/run.py [--keep] [pytest args...]

Then the example out-of-tree provider (plugins/paysandbox-acme) is installed there as a
distribution of its own and its own tests run against the installed simulator.

Fails when the build prints a warning, when a file tracked under paysandbox/ is missing
from the wheel, or when any smoke test fails. `make test` runs it after the main suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def build(out: Path) -> Path:
    # PYTHONDONTWRITEBYTECODE only makes setuptools say that it skips byte-compiling.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, env=env, timeout=600)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        sys.exit(f"python -m build failed:\n{output[-5000:]}")
    # A file named after a warning (Stripe's early fraud warnings) is no warning: the
    # lines that only list files copied or added are not read.
    warnings = [line for line in output.splitlines()
                if re.search(r"warning", line, re.IGNORECASE)
                and not line.startswith(("copying ", "adding '"))
                and "is ignored: it is neither a file nor a directory" not in line]  # pip's index
    if warnings:
        sys.exit("python -m build warned:\n" + "\n".join(warnings[:50]))
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    print(f"built {sdist.name} and {wheel.name}")
    return wheel


def check_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    if top != {"paysandbox"}:
        sys.exit(f"the wheel installs top-level names other than paysandbox: {sorted(top)}")
    tracked = subprocess.run(["git", "ls-files", "paysandbox"], cwd=ROOT, capture_output=True,
                             text=True)
    if tracked.returncode == 0:
        missing = sorted(set(tracked.stdout.split()) - names)
        if missing:
            sys.exit(f"tracked under paysandbox/ but not in the wheel: {missing}")
    data = sorted(n for n in names if not n.endswith(".py") and ".dist-info/" not in n)
    print(f"the wheel holds {len(names)} files, {len(data)} of them data "
          f"({', '.join(sorted({n.rsplit('.', 1)[-1] for n in data}))})")


def plugin(python: Path, work: Path, env: dict[str, str], pytest_args: list[str]) -> int:
    """Install the example out-of-tree provider (plugins/paysandbox-acme) beside the
    wheel, as the separate distribution an in-house acquirer would be, and run its own
    tests there: the simulator must mount it through its entry point alone."""
    source = ROOT / "plugins" / "paysandbox-acme"
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                              f"{source}[test]"], capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        sys.exit(f"installing the example plugin failed:\n{install.stdout[-3000:]}"
                 f"{install.stderr[-3000:]}")
    tests = work / "plugin-tests"
    shutil.copytree(source / "tests", tests, ignore=shutil.ignore_patterns("__pycache__"))
    print(f"the example plugin's own tests in {tests}", flush=True)
    return subprocess.call([str(python), "-m", "pytest", "-p", "no:cacheprovider",
                            "--rootdir", str(tests), *pytest_args], cwd=tests, env=env)


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    pytest_args = [a for a in argv if a != "--keep"]
    work = Path(tempfile.mkdtemp(prefix="paysandbox-wheel-"))
    try:
        wheel = build(work / "dist")
        check_contents(wheel)
        env_dir = work / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                                  f"{wheel}[test,load]"], capture_output=True, text=True,
                                 timeout=900)
        if install.returncode != 0:
            sys.exit(f"installing the wheel failed:\n{install.stdout[-3000:]}"
                     f"{install.stderr[-3000:]}")
        smoke = work / "smoke"
        shutil.copytree(HERE, smoke, ignore=shutil.ignore_patterns("run.py", "__pycache__"))
        shutil.copy(ROOT / "README.md", smoke / "README.md")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        print(f"smoke suite in {smoke}, with {python}", flush=True)
        failed = subprocess.call([str(python), "-m", "pytest", "-p", "no:cacheprovider",
                                  "--rootdir", str(smoke), *pytest_args], cwd=smoke, env=env)
        return failed or plugin(python, work, env, pytest_args)
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
