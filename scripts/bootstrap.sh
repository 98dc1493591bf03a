#!/usr/bin/env bash
# Installs everything chanquan needs on a fresh Debian machine of this kind:
# the CJK TrueType fonts the PDFs embed, poppler's tools, Debian's chromium (the portal's
# browser tests), and a local virtual environment with the project and its test extras.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need_apt+=(fonts-wqy-zenhei)
# fallback faces for what wqy-zenhei lacks (CJK Extension B-G, see docs/documents.md "Fonts")
[ -f /usr/share/fonts/truetype/hanazono/HanaMinB.ttf ] || need_apt+=(fonts-hanazono)
[ -f /usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf ] || need_apt+=(fonts-babelstone-han)
command -v pdftoppm >/dev/null 2>&1 || need_apt+=(poppler-utils)
# the browser tests drive Debian's chromium through Playwright (no browser download)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${need_apt[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$PY" -m venv .venv
fi
stamp=.venv/.chanquan-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[test]'
    touch "$stamp"
fi
