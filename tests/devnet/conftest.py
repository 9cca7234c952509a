"""Fixtures for the devnet core: in-memory crypto, a real CCaaS chaincode server, a running DevNet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from qcchain_devnet.material import CA, issue, new_ca
from qcchain_devnet.model import OrgIdentity
from qcchain_devnet.node import DevNet

sys.path.insert(0, str(Path(__file__).parent))  # helpers: devnet_cc, devnet_client

from devnet_cc import test_contracts  # noqa: E402
from devnet_client import GatewayClient  # noqa: E402
from devnet_crypto import ORGS, User, _pem, make_user, node_config  # noqa: E402,F401



@dataclass
class Crypto:
    cas: dict[str, CA]
    orgs: tuple[OrgIdentity, ...]
    users: dict[str, User]
    tls_ca: CA
    tls_cert: bytes
    tls_key: bytes


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    cas, orgs, users = {}, [], {}
    for msp in ORGS:
        domain = f"{msp[:-3].lower()}.example.com"
        ca = new_ca(f"ca.{domain}", domain)
        cas[msp] = ca
        peer = make_user(ca, msp, f"peer0.{domain}", "peer")
        orgs.append(OrgIdentity(name=msp[:-3], msp_id=msp, ca_certs=(ca.cert_pem,), peer_cert=peer.cert_pem,
                                peer_key=_pem(peer.key), peer_host=f"peer0.{domain}"))
        users[msp] = make_user(ca, msp, f"User1@{domain}")
    tls_ca = new_ca("tlsca.devnet.example.com", "devnet.example.com")
    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls_cert = issue(tls_ca, "devnet", tls_key.public_key(), sans=("localhost", "127.0.0.1"), tls=True)
    return Crypto(cas, tuple(orgs), users, tls_ca, tls_cert.public_bytes(serialization.Encoding.PEM), _pem(tls_key))


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
