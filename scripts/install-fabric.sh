#!/usr/bin/env bash
# Install the official Hyperledger Fabric release binaries (and optionally Docker images) of the version
# pinned in network/consortium.yaml, for users with internet access.
#
#   scripts/install-fabric.sh [--dir DIR] [--docker] [--version X.Y.Z]
#
# Downloads hyperledger-fabric-<os>-<arch>-<version>.tar.gz from the project's GitHub releases into DIR
# (default ~/.local/fabric-<version>), which then holds bin/ (peer, orderer, configtxgen, cryptogen,
# osnadmin, ...) and config/ (core.yaml, orderer.yaml). Afterwards: export FABRIC_BIN=DIR/bin
# With --docker it also pulls hyperledger/fabric-peer and fabric-orderer images of that version.
# Without internet access it fails at once with a clear message; nothing is half-installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="$(sed -n 's/^fabric_version: *\([0-9.]*\).*/\1/p' "$ROOT/network/consortium.yaml")"
VERSION="${VERSION:-3.1.5}"
DIR=""
DOCKER=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --docker) DOCKER=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-fabric: error: unknown option $1" >&2; exit 2 ;;
  esac
done
DIR="${DIR:-$HOME/.local/fabric-$VERSION}"
die() { echo "install-fabric: error: $*" >&2; exit 1; }

case "$(uname -s)" in Linux) OS=linux ;; Darwin) OS=darwin ;; *) die "unsupported OS $(uname -s)" ;; esac
case "$(uname -m)" in x86_64|amd64) ARCH=amd64 ;; aarch64|arm64) ARCH=arm64 ;; *) die "unsupported CPU $(uname -m)" ;; esac
command -v curl >/dev/null || die "curl is required"
URL="https://github.com/hyperledger/fabric/releases/download/v${VERSION}/hyperledger-fabric-${OS}-${ARCH}-${VERSION}.tar.gz"

echo "install-fabric: checking access to github.com ..."
curl -fsSI --max-time 8 "https://github.com" >/dev/null 2>&1 \
  || die "no internet access to github.com; Fabric binaries cannot be downloaded here (they are not on the package registries)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
echo "install-fabric: downloading $URL"
curl -fL --max-time 600 --retry 2 -o "$TMP/fabric.tar.gz" "$URL" || die "download failed: $URL"
mkdir -p "$TMP/x"
tar -xzf "$TMP/fabric.tar.gz" -C "$TMP/x" || die "the downloaded archive is not a valid tar.gz"
for b in peer orderer configtxgen cryptogen osnadmin; do
  [[ -x "$TMP/x/bin/$b" ]] || die "the release archive lacks bin/$b"
done
"$TMP/x/bin/peer" version | grep -q "Version: v\?${VERSION}" || die "bin/peer does not report version $VERSION"
mkdir -p "$DIR"
rm -rf "$DIR/bin" "$DIR/config"
mv "$TMP/x/bin" "$DIR/bin"
mv "$TMP/x/config" "$DIR/config"
echo "install-fabric: installed Fabric $VERSION into $DIR"

if [[ $DOCKER -eq 1 ]]; then
  command -v docker >/dev/null || die "--docker: the docker command is not installed"
  docker info >/dev/null 2>&1 || die "--docker: the Docker engine is not reachable"
  for img in fabric-peer fabric-orderer; do
    echo "install-fabric: docker pull hyperledger/$img:$VERSION"
    docker pull "hyperledger/$img:$VERSION"
  done
fi
echo "install-fabric: now run: export FABRIC_BIN=$DIR/bin"
