"""Test doubles for the devnet shell's lifecycle tests (the real core and chaincode are tested elsewhere).

- ``python -m devnet_shell_fakes``: a "chaincode server" that listens on ``CHAINCODE_SERVER_ADDRESS``
  and answers every connection with its ``CHAINCODE_ID`` (so the test sees the daemon's environment);
  with ``FAKE_CC_FAIL=1`` it exits at once with status 3.
- ``ListeningCore``: a devnet node for ``Runner(..., node_factory=ListeningCore)`` (the daemon's
  ``RunningNode``: ``start`` / ``stop`` / ``port``) that listens on the configured port, dials each
  chaincode server and records what it got in ``<state dir>/fake-core.json``; ``fail=True`` makes
  ``start`` raise.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any


class ListeningCore:
    def __init__(self, state_dir: Path, config: Any, options: Any, fail: bool = False) -> None:
        self.state_dir, self.config, self.fail = state_dir, config, fail
        self.sock: socket.socket | None = None
        self.port = config.port

    def start(self) -> None:
        if self.fail:
            raise RuntimeError("fake core refused to start")
        seen = {}
        for name, address in self.config.chaincode_addresses.items():
            host, port = address.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=5) as conn:
                seen[name] = conn.recv(200).decode()
        self.sock = socket.create_server((self.config.host, self.config.port))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        record = {"chaincode_ids": seen, "package_ids": self.config.package_ids,
                  "crypto_dir": str(self.config.crypto_dir), "tls_cert": str(self.config.tls_files.cert),
                  "module": self.config.chaincode_module, "pid": os.getpid()}
        (self.state_dir / "fake-core.json").write_text(json.dumps(record))

    def _accept(self) -> None:
        assert self.sock is not None
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.close()

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        (self.state_dir / "fake-core-stopped").write_text("yes")


def _serve_chaincode() -> None:
    if os.environ.get("FAKE_CC_FAIL"):
        sys.exit(3)
    host, port = os.environ["CHAINCODE_SERVER_ADDRESS"].rsplit(":", 1)
    server = socket.create_server((host, int(port)))
    cc_id = os.environ["CHAINCODE_ID"].encode()
    while True:
        conn, _ = server.accept()
        try:
            conn.sendall(cc_id)
        finally:
            conn.close()


if __name__ == "__main__":
    _serve_chaincode()
