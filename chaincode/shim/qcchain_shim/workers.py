"""Several server processes behind one address: a chaincode server that uses more than one core without
changing contract code.

A peer opens one Connect stream per chaincode, and all transactions of a stream are handled by the process
that accepted it. With ``CHAINCODE_WORKERS=N`` (or ``auto``: one per CPU), :func:`qcchain_shim.serve`
does not serve itself: it starts N copies of the same program (``sys.orig_argv``) that all listen on
``CHAINCODE_SERVER_ADDRESS`` with ``SO_REUSEPORT``, so the kernel spreads the peers' connections over
them (each stream stays in one process; several peers dialling one host - e.g. the endorsing peers of
several orgs on one machine - get served by several cores), supervises each copy (restart with backoff,
:class:`~qcchain_shim.supervise.Supervisor`) and stops them on SIGTERM/SIGINT. A worker knows it is one by
``QCCHAIN_CHAINCODE_WORKER`` (its index) in its environment.

Not useful when only one peer dials the server: its one stream lands in one process.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence

from .errors import ConfigError
from .supervise import Supervisor

logger = logging.getLogger(__name__)

__all__ = ["MAX_WORKERS", "WORKER_ENV", "WORKERS_ENV", "run_workers", "worker_count", "worker_index"]

WORKERS_ENV = "CHAINCODE_WORKERS"
WORKER_ENV = "QCCHAIN_CHAINCODE_WORKER"
MAX_WORKERS = 64


def worker_index(env: Mapping[str, str]) -> int | None:
    """This process's worker index when it was started by :func:`run_workers`, else None."""
    raw = env.get(WORKER_ENV, "")
    return int(raw) if raw.isdigit() else None


def worker_count(env: Mapping[str, str], cpus: int | None = None) -> int:
    """Server processes requested by ``CHAINCODE_WORKERS``: unset/empty → 1, ``auto`` → CPUs, else 1..64.

    Raises:
        ConfigError: the value is neither ``auto`` nor an integer in 1..64 (names the variable).
    """
    raw = env.get(WORKERS_ENV, "").strip()
    if not raw:
        return 1
    if raw == "auto":
        return max(1, min(MAX_WORKERS, cpus if cpus is not None else (os.cpu_count() or 1)))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise ConfigError(f"{WORKERS_ENV} must be auto or an integer 1..{MAX_WORKERS}, got {raw!r}")
    return int(raw)


def run_workers(count: int, argv: Sequence[str] | None = None, stop: threading.Event | None = None,
                install_signals: bool = True) -> None:
    """Start ``count`` workers running ``argv`` (default: this program's command line) and keep them running
    until ``stop`` is set (by SIGTERM/SIGINT when ``install_signals`` and on the main thread); then stop them.

    Raises:
        ValueError: ``count`` is outside 1..64.
        OSError: a worker cannot be started at all.
    """
    if not 1 <= count <= MAX_WORKERS:
        raise ValueError(f"worker count must be 1..{MAX_WORKERS}, got {count}")
    program = list(argv if argv is not None else sys.orig_argv)
    stop = stop or threading.Event()
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    sups = [Supervisor(f"chaincode-worker-{i}", program, env={WORKER_ENV: str(i)}, inherit_output=True)
            for i in range(count)]
    started: list[Supervisor] = []
    try:
        for sup in sups:
            sup.start()
            started.append(sup)
    except OSError:
        for sup in started:
            sup.stop()
        raise
    logger.info("chaincode server: %d worker processes on one address", count)
    threads = [threading.Thread(target=sup.run, args=(stop,), name=sup.name, daemon=True) for sup in sups]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.5)
