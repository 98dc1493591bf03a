"""Type-check tests/ with the packages' settings (`strict` from pyproject.toml), one mypy run per folder.

Why not `mypy tests`: the test folders have no __init__.py and several hold a `conftest.py` (and
pytest, with `pythonpath = [".", "tests"]`, imports each folder's helpers as top-level modules:
`helpers`, `ledger_support`, ...), so one run sees "Duplicate module named conftest". Run per
folder, each folder's files are top-level modules exactly as pytest imports them, and tests/ on
MYPYPATH serves `support`. Each run has its own cache, since every folder has its own `conftest`.
The packages are checked by plain `mypy` (scripts/test.sh runs it first); here their errors are
not repeated (`--follow-imports=silent`), so a folder's result is about its own files only.

    .venv/bin/python scripts/typecheck_tests.py [FOLDER ...]   # default: every folder under tests/
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def groups() -> dict[str, list[Path]]:
    """Each folder of tests/ holding Python files, with them; "tests" is the top level with `support`."""
    found: dict[str, list[Path]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        folder = path.parent.relative_to(ROOT)
        if "__pycache__" in folder.parts:
            continue
        if (path.parent / "__init__.py").exists():  # a package (tests/support): checked with the top level
            found.setdefault("tests", [])
            continue
        found.setdefault(folder.as_posix(), []).append(path)
    if "tests" in found:
        found["tests"] += sorted(p for p in TESTS.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    return dict(sorted(found.items()))


def check(name: str, targets: list[Path]) -> bool:
    cache = ROOT / ".mypy_cache" / "tests" / name.replace("/", "_")
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(cache),
        "--follow-imports=silent",
        *(str(target.relative_to(ROOT)) for target in targets),
    ]
    env = {**os.environ, "MYPYPATH": str(TESTS)}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    lines = output.splitlines()
    if result.returncode == 0:
        print(f"{name}: {lines[-1] if lines else 'ok'}")
        return True
    print(f"{name}:\n{output}")
    return False


def main(argv: list[str]) -> int:
    found = groups()
    wanted = [arg.rstrip("/") for arg in argv] or list(found)
    unknown = [name for name in wanted if name not in found]
    if unknown:
        print(f"no test folder {', '.join(unknown)}; folders: {', '.join(found)}", file=sys.stderr)
        return 2
    results = [check(name, found[name]) for name in wanted]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
