"""The test chaincode server (``devnet_cc.py`` through qcchain_shim) as a separate CCaaS process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChaincodeThread:
    """The project's CCaaS server (qcchain_shim) with the test contracts, as a separate process."""

    def __init__(self) -> None:
        self.port = _free_port()
        env = dict(os.environ, CHAINCODE_ID="testcc:0123", CHAINCODE_SERVER_ADDRESS=f"127.0.0.1:{self.port}")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / "devnet_cc.py")], env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("chaincode server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
