#!/usr/bin/env bash
# The README's first command: install what is needed, then run the demo on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/chanquan demo "$@"
