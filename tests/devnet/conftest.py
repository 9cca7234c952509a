"""Fixtures for the devnet core: in-memory crypto, a real CCaaS chaincode server, a running DevNet."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from qcchain_devnet.node import DevNet

sys.path.insert(0, str(Path(__file__).parent))  # helpers: devnet_cc, devnet_client

from devnet_ccproc import ChaincodeThread
from devnet_client import GatewayClient
from devnet_crypto import (
    Crypto,
    build_crypto,
    node_config,
)


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    return build_crypto()


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
