#!/usr/bin/env bash
# Shared bootstrap: create .venv (once) and install the project's distributions editable (the libraries core, shim, gateway; model, contracts; the application),
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
PROJECTS=(core chaincode/shim sdk/gateway chaincode/model chaincode/contracts)
want="$(cd "$ROOT" && cat pyproject.toml "${PROJECTS[@]/%//pyproject.toml}" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing qcchain (core, shim, gateway, model, contracts, application) into $VENV (about a minute; log: $VENV/install.log)"
  # pip and setuptools print build banners and deprecation notices on stderr: keep them in the log, show it on failure
  if ! { "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
         PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
           $(for p in "${PROJECTS[@]}"; do printf -- '-e %s ' "$ROOT/$p"; done) -e "$ROOT[test]"; } >"$VENV/install.log" 2>&1; then
    cat "$VENV/install.log" >&2
    echo "qcchain: installation failed (log above, also in $VENV/install.log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
else
  echo "==> virtual environment $VENV is up to date"
fi
export PATH="$VENV/bin:$PATH"
