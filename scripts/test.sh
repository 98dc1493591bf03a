#!/usr/bin/env bash
# The README's second command: install what is needed, then lint, type-check and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== mypy tests/ (one run per folder: scripts/typecheck_tests.py)"
.venv/bin/python scripts/typecheck_tests.py
echo "== pytest"
exec .venv/bin/python -m pytest -n 2 "$@"
