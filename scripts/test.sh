#!/usr/bin/env bash
# Run the whole test suite on the embedded devnet (real-Fabric tests run when binaries are found
# through FABRIC_BIN or PATH, and are skipped with a reason otherwise).
# Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/_bootstrap.sh
source "$ROOT/scripts/_bootstrap.sh"
cd "$ROOT"

# The console's browser tests drive Debian's headless Chromium; install it when missing and possible
# (root + apt-get), quietly; without it those tests skip with a reason.
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing chromium + chromium-driver for the console's browser tests"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } >/dev/null 2>&1 \
    || echo "==> could not install chromium (the console's browser tests will skip)"
fi
# CJK glyphs for the console's zh-CN screenshots (quiet; never fails the run).
if ! fc-list 2>/dev/null | grep -qi "noto.*cjk" && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk || { apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; }; } >/dev/null 2>&1 \
    || echo "==> could not install fonts-noto-cjk (screenshots show Chinese as boxes)"
fi
# The key-custody tests sign on a SoftHSM2 token (PKCS#11); install Debian's softhsm2 when missing and
# possible (root + apt-get), quietly; without it those tests skip with a reason naming softhsm2.
if ! command -v softhsm2-util >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing softhsm2 for the PKCS#11 key-custody tests"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2; } >/dev/null 2>&1 \
    || echo "==> could not install softhsm2 (the PKCS#11 tests will skip)"
fi
echo "==> running tests: pytest $*"
exec "$VENV/bin/python" -m pytest "$@"
