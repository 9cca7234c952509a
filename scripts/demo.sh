#!/usr/bin/env bash
# The main job: the consortium story on the embedded devnet (default), or with --fabric on a native
# Hyperledger Fabric network (binaries from FABRIC_BIN or PATH) that it brings up from
# network/consortium.yaml and takes down at the end. Usage: ./scripts/demo.sh [--fabric] [qcchain demo options...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_bootstrap.sh
source "$ROOT/scripts/_bootstrap.sh"
cd "$ROOT"
echo "==> qcchain demo $*"
exec "$VENV/bin/qcchain" demo "$@"
