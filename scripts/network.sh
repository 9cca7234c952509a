#!/usr/bin/env bash
# Bring the consortium (network/consortium.yaml) up as a real Hyperledger Fabric network.
#
#   scripts/network.sh up     [--consortium FILE] [--dir DIR] [--log-level SPEC] [--ca] [--docker]
#   scripts/network.sh down | status | clean | logs   [--dir DIR]   (use the mode recorded by up)
#   scripts/network.sh status [--min-free 0.10] [--clock-threshold 5] (each node's clock skew; warns per node data dir below the disk watermark) | logs [--since 15m|ISO]
#   scripts/network.sh snapshot PEER [--channel C] [--height H] [--wait | --pending | --cancel H] | join-by-snapshot PEER --snapshot DIR
#   scripts/network.sh check-peer PEER | rebuild-peer PEER [--snapshot DIR | --rejoin]   [--channel C] [--reference PEER] [--report F]
#   scripts/network.sh deploy [--module qcchain_contracts] [--label qcchain_1.0]
#   scripts/network.sh stop-node HOST | start-node HOST   [--consortium FILE] [--dir DIR]
#   scripts/network.sh add-peer ORG [--snapshot DIR] | add-orderer   [--propose FILE | --admit-with-test-keys | --no-registry]
#   scripts/network.sh remove-peer HOST [--purge] | remove-orderer HOST   [--no-registry]
#   scripts/network.sh verify-nodes   (every consenter admitted and active in the on-chain node registry)
#   scripts/network.sh org-init ORG_FILE --home H | org-export --home H [--out D]   (the joining org)
#   scripts/network.sh add-org ORG_FILE --material D [--home H] [--propose F] [--propose-updates DIR |
#                      --execute DIR | --sign-with-test-admins] | sign-update DIR --org NAME | remove-org MSP
#   (deploy also records the genesis nodes on chain, signed with test admin keys; --no-genesis skips it)
#
# Native mode (default): Fabric binaries from FABRIC_BIN or PATH, every process on 127.0.0.1, one log
# file per process under DIR/logs (default DIR: var/fabric). Fabric's base core.yaml/orderer.yaml come
# from FABRIC_CFG_PATH or <bin>/../config (the release archive's layout; scripts/install-fabric.sh).
# Docker mode (up --docker): orderers and peers as docker compose services (DIR/compose/compose.yaml,
# images pinned by version, host network); needs docker, its compose plugin and the images
# (scripts/install-fabric.sh --docker). The mode is kept in DIR/mode.json; no --ca with --docker.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${QCCHAIN_PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PY="$ROOT/.venv/bin/python"; else PY="$(command -v python3)"; fi
fi
if [[ $# -eq 0 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
exec "$PY" -m qcchain_network "$@"
