#!/usr/bin/env bash
# Bring the consortium (network/consortium.yaml) up as a real Hyperledger Fabric network.
#
#   scripts/network.sh up     [--consortium FILE] [--dir DIR] [--log-level SPEC] [--docker]
#   scripts/network.sh down | status | clean | logs   [--dir DIR]
#   scripts/network.sh deploy [--module qcchain_contracts] [--label qcchain_1.0]
#   scripts/network.sh stop-node HOST | start-node HOST   [--consortium FILE] [--dir DIR]
#
# Native mode (default): Fabric binaries from FABRIC_BIN or PATH, every process on 127.0.0.1, one log
# file per process under DIR/logs (default DIR: var/fabric). Fabric's base core.yaml/orderer.yaml come
# from FABRIC_CFG_PATH or <bin>/../config (the release archive's layout; scripts/install-fabric.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${QCCHAIN_PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
if [[ $# -eq 0 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
exec "$PY" -m qcchain_network "$@"
