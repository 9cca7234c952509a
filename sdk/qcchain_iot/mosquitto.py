"""Our own Mosquitto process for deployments, tests and the benchmark: a generated configuration with
TLS, the shared password and ACL files, no anonymous access and on-disk persistence (so a broker restart
keeps what it queued for the persistent consumer session).
"""

from __future__ import annotations

import getpass
import logging
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from .errors import BrokerError

log = logging.getLogger(__name__)

__all__ = ["MosquittoProcess", "free_port", "find_mosquitto"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_mosquitto() -> str | None:
    """Path of the ``mosquitto`` binary, or None."""
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)


class MosquittoProcess:
    """A Mosquitto broker on 127.0.0.1:``port`` with its state in ``directory``."""

    def __init__(self, directory: str | Path, port: int, credentials_dir: str | Path,
                 certfile: str | Path | None = None, keyfile: str | Path | None = None,
                 binary: str | None = None) -> None:
        self.dir = Path(directory).resolve()
        self.port = port
        self.binary = binary or find_mosquitto()
        if not self.binary:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        creds = Path(credentials_dir).resolve()
        lines = [f"listener {port} 127.0.0.1", "allow_anonymous false", f"user {getpass.getuser()}",
                 f"password_file {creds / 'passwd'}", f"acl_file {creds / 'acl'}",
                 "persistence true", f"persistence_location {self.dir}/", "autosave_interval 1",
                 "max_inflight_messages 0", "max_queued_messages 0", "max_queued_bytes 0",
                 "message_size_limit 65536", "log_type error", "log_type warning", f"log_dest file {self.dir / 'mosquitto.log'}"]
        if certfile:
            lines += [f"certfile {Path(certfile).resolve()}", f"keyfile {Path(keyfile or '').resolve()}"]
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until the port accepts connections. Raises BrokerError: it did not come up."""
        self.proc = subprocess.Popen([str(self.binary), "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace").strip()
                raise BrokerError(f"mosquitto exited with {self.proc.returncode}: {err.splitlines()[-1] if err else ''}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def reload(self) -> None:
        """Re-read the password and ACL files (SIGHUP)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cleanly (SIGTERM: persistence is written). Idempotent."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> "MosquittoProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
