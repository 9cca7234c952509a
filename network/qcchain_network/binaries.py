"""Locating Fabric binaries (``fabric_bin`` first, then the ``search_path``) and their base configuration.

The locations are parameters. Entry points read them from the environment (``FABRIC_BIN``, ``PATH``,
``FABRIC_CFG_PATH``) with :func:`FabricLocations.from_environ` and pass them on; a caller that passes
nothing gets ``FabricLocations.from_environ()`` as the default (kept so older callers keep working).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import BinaryNotFound

FABRIC_TOOLS = ("peer", "orderer", "configtxgen", "cryptogen", "osnadmin")


@dataclass(frozen=True)
class FabricLocations:
    """Where to look: ``fabric_bin`` (a directory), ``search_path`` (``os.pathsep``-separated) and
    ``cfg_path`` (Fabric's base config directory); empty means not given."""

    fabric_bin: str = ""
    search_path: str = ""
    cfg_path: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> FabricLocations:
        """``FABRIC_BIN``, ``PATH`` and ``FABRIC_CFG_PATH`` of ``environ`` (None: this process's)."""
        env = os.environ if environ is None else environ
        return cls(env.get("FABRIC_BIN", ""), env.get("PATH", ""), env.get("FABRIC_CFG_PATH", ""))


def find_binary(name: str, fabric_bin: str | None = None, where: FabricLocations | None = None) -> Path:
    """Absolute path of a Fabric binary (``fabric_bin``, when given, overrides ``where.fabric_bin``).

    Raises:
        BinaryNotFound: not in the Fabric bin directory (when set) nor on the search path.
    """
    where = FabricLocations.from_environ() if where is None else where
    fabric_bin = where.fabric_bin if fabric_bin is None else fabric_bin
    if fabric_bin:
        candidate = Path(fabric_bin) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    found = shutil.which(name, path=where.search_path or os.defpath)
    if found:
        return Path(found).resolve()
    place = f"FABRIC_BIN={fabric_bin}" if fabric_bin else "FABRIC_BIN (unset)"
    raise BinaryNotFound(f"Fabric binary '{name}' not found in {place} nor on PATH "
                         "(install with scripts/install-fabric.sh)")


def find_all(names: tuple[str, ...] = FABRIC_TOOLS, where: FabricLocations | None = None) -> dict[str, Path]:
    """Every named binary; the first missing one raises.

    Raises:
        BinaryNotFound: a binary is missing.
    """
    where = FabricLocations.from_environ() if where is None else where
    return {name: find_binary(name, where=where) for name in names}


def base_config_dir(peer_binary: Path, where: FabricLocations | None = None) -> Path:
    """Directory holding Fabric's base ``core.yaml`` and ``orderer.yaml``.

    ``where.cfg_path`` (``FABRIC_CFG_PATH``) when set, else ``<bin>/../config`` (the layout of Fabric's
    release archives).

    Raises:
        BinaryNotFound: neither holds both files (also a ``FileNotFoundError``).
    """
    where = FabricLocations.from_environ() if where is None else where
    candidates = [Path(where.cfg_path)] if where.cfg_path else []
    candidates.append(peer_binary.parent.parent / "config")
    for cand in candidates:
        if (cand / "core.yaml").is_file() and (cand / "orderer.yaml").is_file():
            return cand
    tried = ", ".join(str(c) for c in candidates)
    raise BinaryNotFound(f"Fabric's core.yaml and orderer.yaml not found in {tried} "
                         "(set FABRIC_CFG_PATH to the release's config directory)")
