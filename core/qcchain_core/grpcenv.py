"""gRPC core settings a qcchain program applies before anything in it imports ``grpc``.

gRPC reads ``GRPC_EXPERIMENTS`` once, when ``grpc`` is first imported. On the grpcio releases measured
(1.85 on the 2-core machine class), turning its EventEngine listener/client/endpoint experiments off cut
the CPU per transaction of the devnet, the chaincode server and the clients by about 10 % each
(``qcchain bench tx``: 320–379 → 338–428 tx/s in alternating runs), as the older I/O path spends fewer
thread hand-offs per message. Applied only to grpcio releases in :data:`MEASURED`, never over a
``GRPC_EXPERIMENTS`` the user set, and not at all with ``QCCHAIN_GRPC_TUNING=0``. Child processes
(devnet daemon, chaincode servers, benchmark clients) inherit the setting through the environment.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from importlib import metadata

log = logging.getLogger(__name__)

__all__ = ["EXPERIMENTS", "MEASURED", "apply_grpc_tuning"]

EXPERIMENTS = "-event_engine_listener,-event_engine_client,-event_engine_for_all_other_endpoints"
MEASURED = ((1, 80), (1, 90))  # [from, to) grpcio (major, minor) where these experiments exist


def _grpcio_version() -> tuple[int, int] | None:
    try:
        major, minor = metadata.version("grpcio").split(".")[:2]
        return int(major), int(minor)
    except (metadata.PackageNotFoundError, ValueError):
        return None


def apply_grpc_tuning(environ: MutableMapping[str, str] | None = None) -> bool:
    """Set ``GRPC_EXPERIMENTS`` to :data:`EXPERIMENTS` in ``environ`` (default ``os.environ``) unless it
    is set already, ``QCCHAIN_GRPC_TUNING`` is ``0`` or the installed grpcio is outside :data:`MEASURED`.
    Returns whether it was set. Call it before the first ``import grpc`` of the process."""
    env = os.environ if environ is None else environ
    if env.get("QCCHAIN_GRPC_TUNING", "1") == "0" or "GRPC_EXPERIMENTS" in env:
        return False
    version = _grpcio_version()
    if version is None or not MEASURED[0] <= version < MEASURED[1]:
        return False
    env["GRPC_EXPERIMENTS"] = EXPERIMENTS
    return True
