"""Fixtures for the devnet core: in-memory crypto, a real CCaaS chaincode server, a running DevNet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from qcchain_devnet.node import DevNet

sys.path.insert(0, str(Path(__file__).parent))  # helpers: devnet_cc, devnet_client

from devnet_client import GatewayClient
from devnet_crypto import (
    Crypto,
    build_crypto,
    node_config,
)


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    return build_crypto()


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


@pytest.fixture(scope="session")
def chaincode() -> Iterator[ChaincodeThread]:
    cc = ChaincodeThread()
    yield cc
    cc.stop()


@pytest.fixture()
def devnet(tmp_path: Path, crypto: Crypto, chaincode: ChaincodeThread) -> Iterator[DevNet]:
    net = DevNet(tmp_path / "state", node_config(crypto, chaincode.port))
    net.start()
    yield net
    net.stop()


@pytest.fixture()
def client(devnet: DevNet, crypto: Crypto) -> Iterator[GatewayClient]:
    creds = grpc.ssl_channel_credentials(crypto.tls_ca.cert_pem)
    channel = grpc.secure_channel(f"127.0.0.1:{devnet.port}", creds)
    yield GatewayClient(channel, crypto.users["Org1MSP"], "mychannel")
    channel.close()
