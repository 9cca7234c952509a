"""Locating Fabric binaries (``FABRIC_BIN`` first, then ``PATH``) and their base configuration."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import BinaryNotFound

FABRIC_TOOLS = ("peer", "orderer", "configtxgen", "cryptogen", "osnadmin")


def find_binary(name: str, fabric_bin: str | None = None) -> Path:
    """Absolute path of a Fabric binary.

    Raises:
        BinaryNotFound: not in ``FABRIC_BIN`` (when set) nor on ``PATH``.
    """
    fabric_bin = os.environ.get("FABRIC_BIN") if fabric_bin is None else fabric_bin
    if fabric_bin:
        candidate = Path(fabric_bin) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    found = shutil.which(name)
    if found:
        return Path(found).resolve()
    where = f"FABRIC_BIN={fabric_bin}" if fabric_bin else "FABRIC_BIN (unset)"
    raise BinaryNotFound(f"Fabric binary '{name}' not found in {where} nor on PATH "
                         "(install with scripts/install-fabric.sh)")


def find_all(names: tuple[str, ...] = FABRIC_TOOLS) -> dict[str, Path]:
    """Every named binary; the first missing one raises.

    Raises:
        BinaryNotFound: a binary is missing.
    """
    return {name: find_binary(name) for name in names}


def base_config_dir(peer_binary: Path) -> Path:
    """Directory holding Fabric's base ``core.yaml`` and ``orderer.yaml``.

    ``FABRIC_CFG_PATH`` when set, else ``<bin>/../config`` (the layout of Fabric's release archives).

    Raises:
        BinaryNotFound: neither holds both files (also a ``FileNotFoundError``).
    """
    env = os.environ.get("FABRIC_CFG_PATH")
    candidates = [Path(env)] if env else []
    candidates.append(peer_binary.parent.parent / "config")
    for cand in candidates:
        if (cand / "core.yaml").is_file() and (cand / "orderer.yaml").is_file():
            return cand
    tried = ", ".join(str(c) for c in candidates)
    raise BinaryNotFound(f"Fabric's core.yaml and orderer.yaml not found in {tried} "
                         "(set FABRIC_CFG_PATH to the release's config directory)")
