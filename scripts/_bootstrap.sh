#!/usr/bin/env bash
# Shared bootstrap: create .venv (once) and install the project's three distributions editable,
# re-installing only when a pyproject.toml changed. Sourced by demo.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${QCCHAIN_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "qcchain: Python >= 3.11 is required (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.qcchain-install-stamp"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/core/pyproject.toml" "$ROOT/chaincode/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing qcchain (core, chaincode, sdk/devnet/cli) into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -e "$ROOT/core" -e "$ROOT/chaincode" -e "$ROOT[test]"
  echo "$want" > "$stamp"
else
  echo "==> virtual environment $VENV is up to date"
fi
export PATH="$VENV/bin:$PATH"
