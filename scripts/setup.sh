#!/usr/bin/env bash
# Make .venv with a Python >= 3.12 found on this machine, and install Dripline
# into it with the extras named in $DRIPLINE_EXTRAS (default: dev).
set -euo pipefail
cd "$(dirname "$0")/.."

good() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
  local candidate
  for candidate in "${DRIPLINE_PYTHON:-}" python3.14 python3.13 python3.12 python3 python; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && good "$candidate" && { command -v "$candidate"; return 0; }
  done
  # pyenv and uv keep interpreters that are not on PATH until selected
  local roots=()
  command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)/versions")
  roots+=("$HOME/.pyenv/versions" "$HOME/.local/share/uv/python")
  for root in "${roots[@]}"; do
    for candidate in $(ls -d "$root"/*3.1[2-9]*/bin/python3 "$root"/*3.1[2-9]*/bin/python3.1[2-9] 2>/dev/null | sort -rV); do
      good "$candidate" && { echo "$candidate"; return 0; }
    done
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! good .venv/bin/python; then
  python=$(find_python) || { echo "setup: no Python 3.12 or newer found; install one (or set DRIPLINE_PYTHON)" >&2; exit 1; }
  echo "setup: using $python ($("$python" --version 2>&1))"
  rm -rf .venv
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${DRIPLINE_EXTRAS:-dev}]"
echo "setup: ready (.venv)"
