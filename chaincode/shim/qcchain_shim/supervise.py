"""Keep a chaincode server process running: restart it with exponential backoff when it exits, and append
one JSON line per restart to an operations log.

Under chaincode-as-a-service the peer only dials: a server that died (a crash, the OOM killer, a kill)
stays unreachable until something restarts it. :class:`Supervisor` is that something for the devnet
(:mod:`qcchain_devnet.daemon`) and, as ``python -m qcchain_shim.supervise``, for ``scripts/network.sh``::

    CHAINCODE_ID=... CHAINCODE_SERVER_ADDRESS=... python -m qcchain_shim.supervise \\
        --name chaincode-qcchain --operations-log OUT/operations.log --log OUT/logs/chaincode-qcchain.log \\
        -- python -m qcchain_contracts

SIGTERM/SIGINT to the supervisor stop the server (SIGTERM, then SIGKILL) and end the supervisor.
A production host uses its own supervisor instead (systemd ``Restart=always``, compose ``restart:``;
see ``docs/deploy/chaincode-supervision.md``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["Backoff", "Supervisor", "main"]


@dataclass(frozen=True)
class Backoff:
    """Delay before restart ``n`` (1-based): ``initial * factor**(n-1)``, at most ``maximum``; a server that
    ran ``reset_after`` seconds or more counts as healthy, so its next restart waits ``initial`` again."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    reset_after: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` of a row of quick failures."""
        return min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))


class Supervisor:
    """One supervised server process (``argv`` with ``env`` added to this process's environment; output
    appended to ``log_file``). Not thread-safe: call :meth:`check` from one thread, or use :meth:`run`."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 log_file: Path | None = None, operations_log: Path | None = None,
                 backoff: Backoff = Backoff(), inherit_output: bool = False) -> None:
        self.name, self.argv, self.env = name, list(argv), dict(env or {})
        self.inherit_output = inherit_output  # True: the server writes to this process's stdout/stderr
        self.log_file, self.operations_log, self.backoff = log_file, operations_log, backoff
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._quick_failures = 0
        self._started_at = 0.0
        self._restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        """PID of the running server, or None."""
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self) -> subprocess.Popen[bytes]:
        """Start the server.

        Raises:
            OSError: the program cannot be run or the log file cannot be opened.
        """
        if self.inherit_output:
            self.proc = subprocess.Popen(self.argv, env={**os.environ, **self.env},  # noqa: S603 - caller's argv
                                         stdin=subprocess.DEVNULL)
        else:
            out = open(self.log_file, "ab") if self.log_file is not None else subprocess.DEVNULL  # noqa: SIM115
            try:
                self.proc = subprocess.Popen(self.argv, env={**os.environ, **self.env},  # noqa: S603
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            finally:
                if out is not subprocess.DEVNULL:
                    out.close()  # type: ignore[union-attr]
        self._started_at = time.monotonic()
        self._restart_at = None
        return self.proc

    def check(self, now: float | None = None) -> bool:
        """If the server has exited, schedule its restart (after the backoff) and log it; if a scheduled
        restart is due, restart it. Returns whether a restart happened now.

        Raises:
            OSError: the restart failed to start the program (it is tried again at the next check).
        """
        now = time.monotonic() if now is None else now
        if self.proc is None or self.proc.poll() is None:
            return False
        if self._restart_at is None:
            ran = now - self._started_at
            self._quick_failures = 1 if ran >= self.backoff.reset_after else self._quick_failures + 1
            delay = self.backoff.delay(self._quick_failures)
            self._restart_at = now + delay
            logger.warning("%s exited with %s after %.1f s; restarting in %.1f s",
                           self.name, self.proc.returncode, ran, delay)
            self._record("restart-scheduled", exit=self.proc.returncode, ran_s=round(ran, 3), backoff_s=delay,
                         attempt=self._quick_failures)
        if now < self._restart_at:
            return False
        old = self.proc.returncode
        try:
            self.start()
        except OSError as exc:
            self._restart_at = now + self.backoff.delay(self._quick_failures)
            self._record("restart", result=f"failed: {exc.strerror or exc}")
            raise
        self.restarts += 1
        self._record("restart", previous_exit=old, pid=self.proc.pid, restarts=self.restarts)
        return True

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        """Start the server if needed and keep it running until ``stop`` is set; then stop it."""
        try:
            if self.proc is None:
                self.start()
            while not stop.wait(interval):
                try:
                    self.check()
                except OSError as exc:
                    logger.error("%s: restart failed: %s", self.name, exc.strerror or exc)
        finally:
            self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout``); no more restarts."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _record(self, op: str, **extra: object) -> None:
        if self.operations_log is None:
            return
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "op": op, "action": op,
                 "node": self.name, "kind": "chaincode", "result": "ok", **extra}
        try:
            with open(self.operations_log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError as exc:
            logger.error("cannot append to the operations log %s: %s", self.operations_log, exc.strerror or exc)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qcchain_shim.supervise [--name N] [--operations-log F] [--log F] -- program args...``:
    supervise one server until SIGTERM/SIGINT. Exit 2 on bad usage or if the program cannot start."""
    parser = argparse.ArgumentParser(prog="python -m qcchain_shim.supervise", description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="chaincode")
    parser.add_argument("--operations-log", type=Path)
    parser.add_argument("--log", type=Path, help="append the server's output here (default: discard)")
    parser.add_argument("--max-backoff", type=float, default=Backoff.maximum)
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    if not program:
        parser.error("no program given (after --)")
    logging.basicConfig(level=os.environ.get("QCCHAIN_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sup = Supervisor(args.name, program, log_file=args.log, operations_log=args.operations_log,
                     backoff=Backoff(maximum=args.max_backoff))
    try:
        sup.start()
    except OSError as exc:
        print(f"qcchain_shim.supervise: cannot start {program[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    sup.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
