"""Fixtures for the SDK tests.

The Gateway endpoint comes from the ``endpoint`` fixture: today an in-process fake of the Gateway
service (``fakegateway.py``); later the embedded devnet provides the same ``GatewayEndpoint``.
Tests needing fake-only control (ledger internals) use the ``fake`` fixture directly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakegateway import FakeGateway, Running, serve  # noqa: E402
from sdk_pki import CertKey, OrgPki, issue, new_ca, new_org  # noqa: E402

from qcchain_gateway import Gateway, Identity, connect, new_channel, new_private_key_signer  # noqa: E402

CHANNEL = "qcchannel"
CHAINCODE = "qcchain"


@dataclass
class GatewayEndpoint:
    """Where and how to reach a Gateway, and the identities that may use it."""

    target: str
    channel: str
    chaincode: str
    orgs: dict[str, OrgPki]
    tls_root_pem: bytes | None = None
    server_name: str | None = None

    def grpc_channel(self) -> grpc.Channel:
        return new_channel(self.target, self.tls_root_pem, self.server_name)

    def identity(self, msp_id: str, who: str = "user") -> tuple[Identity, Callable[[bytes], bytes], CertKey]:
        ck: CertKey = getattr(self.orgs[msp_id], who)
        return Identity(msp_id, ck.cert_pem), new_private_key_signer(ck.key), ck


@pytest.fixture(scope="session")
def orgs() -> dict[str, OrgPki]:
    return {o.msp_id: o for o in (new_org("Org1MSP", "org1.example.com"), new_org("Org2MSP", "org2.example.com"))}


@pytest.fixture(scope="session")
def rogue_ca() -> CertKey:
    return new_ca("ca.org1.example.com", "org1.example.com")


@pytest.fixture
def fake(orgs: dict[str, OrgPki]) -> Iterator[Running]:
    running = serve(FakeGateway(list(orgs.values()), CHANNEL, CHAINCODE))
    yield running
    running.stop()


@pytest.fixture
def endpoint(fake: Running, orgs: dict[str, OrgPki]) -> GatewayEndpoint:
    return GatewayEndpoint(fake.target, CHANNEL, CHAINCODE, orgs)


@pytest.fixture
def make_gateway(endpoint: GatewayEndpoint) -> Iterator[Callable[..., Gateway]]:
    """``make_gateway(msp_id="Org1MSP", **connect_options)`` → a connected Gateway (closed afterwards)."""
    opened: list[Gateway] = []

    def make(msp_id: str = "Org1MSP", who: str = "user", **options: object) -> Gateway:
        identity, signer, _ = endpoint.identity(msp_id, who)
        gateway = connect(identity, endpoint.grpc_channel(), signer, close_connection=True, **options)  # type: ignore[arg-type]
        opened.append(gateway)
        return gateway

    yield make
    for gateway in opened:
        gateway.close()


@pytest.fixture
def contract(make_gateway: Callable[..., Gateway], endpoint: GatewayEndpoint):
    return make_gateway().get_network(endpoint.channel).get_contract(endpoint.chaincode)


@pytest.fixture(scope="session")
def tls_server_cert(orgs: dict[str, OrgPki]) -> tuple[CertKey, CertKey]:
    """(TLS CA, server cert for peer0.org1.example.com)."""
    ca = new_ca("tlsca.org1.example.com", "org1.example.com")
    return ca, issue(ca, "peer0.org1.example.com", "org1.example.com", sans=["peer0.org1.example.com"])
