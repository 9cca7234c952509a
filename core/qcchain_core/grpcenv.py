"""Process settings of every qcchain program that serves or drives gRPC streams, in one place: gRPC core
experiments (:func:`apply_grpc_tuning`, before anything imports ``grpc``) and the garbage collector
(:func:`quiet_gc`, once start-up imports are done).

Who applies them: the ``qcchain`` command (both, per command), ``qcchain_shim.serve()`` (both: so
``qcchain-chaincode``, ``python -m qcchain_contracts``, the devnet's and ``scripts/network.sh``'s chaincode
servers and any user program calling ``serve()`` run with the same settings), the devnet daemon (GC; it
inherits the gRPC setting from the ``qcchain`` command or applies it in its own entry point).

gRPC reads ``GRPC_EXPERIMENTS`` once, when ``grpc`` is first imported. On the grpcio releases measured
(1.85 on the 2-core machine class), turning its EventEngine listener/client/endpoint experiments off cut
the CPU per transaction of the devnet, the chaincode server and the clients by about 10 % each
(``qcchain bench tx``: 320–379 → 338–428 tx/s in alternating runs), as the older I/O path spends fewer
thread hand-offs per message. Applied only to grpcio releases in :data:`MEASURED`, never over a
``GRPC_EXPERIMENTS`` the user set, and not at all with ``QCCHAIN_GRPC_TUNING=0``. Child processes
(devnet daemon, chaincode servers, benchmark clients) inherit the setting through the environment.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import MutableMapping
from importlib import metadata

log = logging.getLogger(__name__)

__all__ = ["EXPERIMENTS", "GC_THRESHOLD", "MEASURED", "apply_grpc_tuning", "grpc_imported", "quiet_gc"]

EXPERIMENTS = "-event_engine_listener,-event_engine_client,-event_engine_for_all_other_endpoints"
MEASURED = ((1, 80), (1, 90))  # [from, to) grpcio (major, minor) where these experiments exist
GC_THRESHOLD = 50_000


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


def grpc_imported() -> bool:
    """Whether ``grpc`` is imported in this process (then :func:`apply_grpc_tuning` comes too late)."""
    return "grpc" in sys.modules


def quiet_gc(threshold: int = GC_THRESHOLD) -> None:
    """Tune the garbage collector of a process that serves long-lived streams (a chaincode server, the
    devnet, benchmark drivers): freeze what start-up allocated out of the cyclic collector and collect
    generation 0 every ``threshold`` allocations instead of 700 (such processes allocate many short-lived,
    acyclic protobuf objects, which reference counting frees at once).

    Process-wide: call it from a program's entry point (or ``qcchain_shim.serve()``), after start-up imports.

    Raises:
        ValueError: ``threshold`` is not positive.
    """
    if threshold <= 0:
        raise ValueError(f"GC threshold must be positive, got {threshold}")
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 20)
