#!/usr/bin/env bash
# Run the whole test suite on the embedded devnet (real-Fabric tests run when binaries are found
# through FABRIC_BIN or PATH, and are skipped with a reason otherwise).
# Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_bootstrap.sh
source "$ROOT/scripts/_bootstrap.sh"
cd "$ROOT"
echo "==> running tests: pytest $*"
exec "$VENV/bin/python" -m pytest "$@"
