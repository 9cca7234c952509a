"""Per-call timeouts and TLS on loopback."""

from __future__ import annotations

import time

import grpc
import pytest
from fakegateway import FakeGateway, serve

from qcchain_gateway import EndorseError, EvaluateError, connect, new_channel
from qcchain_gateway.errors import EventsError


def test_connect_default_timeout_and_per_call_override(make_gateway, endpoint) -> None:
    gateway = make_gateway(evaluate_timeout=0.2)
    assert gateway.timeouts.evaluate == 0.2 and gateway.timeouts.endorse == 15.0
    contract = gateway.get_network(endpoint.channel).get_contract(endpoint.chaincode)
    start = time.monotonic()
    with pytest.raises(EvaluateError) as info:
        contract.evaluate_transaction("sleep", "1.0")
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 0.9
    assert contract.evaluate("sleep", ["0.4"], timeout=3) == b"slept"


def test_submit_timeout_bounds_each_stage(make_gateway, endpoint) -> None:
    contract = make_gateway().get_network(endpoint.channel).get_contract(endpoint.chaincode)
    with pytest.raises(EndorseError) as info:
        contract.submit("sleep", ["1.0"], timeout=0.2)
    assert info.value.is_timeout


def test_event_stream_deadline_is_an_events_error(make_gateway, endpoint) -> None:
    network = make_gateway().get_network(endpoint.channel)
    stream = network.get_chaincode_events(endpoint.chaincode, timeout=0.2)
    with pytest.raises(EventsError) as info:
        next(iter(stream))
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.fixture
def tls_fake(orgs, tls_server_cert):
    ca, server = tls_server_cert
    running = serve(FakeGateway(list(orgs.values()), "qcchannel", "qcchain"), tls=server)
    yield running, ca
    running.stop()


def test_tls_with_server_name_override(tls_fake, endpoint) -> None:
    running, ca = tls_fake
    identity, signer, _ = endpoint.identity("Org1MSP")
    channel = new_channel(running.target, ca.cert_pem, "peer0.org1.example.com")
    with connect(identity, channel, signer, close_connection=True) as gateway:
        contract = gateway.get_network("qcchannel").get_contract("qcchain")
        assert contract.submit_transaction("put", "tls", "yes") == b"yes"


def test_tls_with_wrong_root_fails_unavailable(tls_fake, endpoint, rogue_ca) -> None:
    running, _ = tls_fake
    identity, signer, _ = endpoint.identity("Org1MSP")
    channel = new_channel(running.target, rogue_ca.cert_pem, "peer0.org1.example.com")
    with connect(identity, channel, signer, close_connection=True, evaluate_timeout=3) as gateway:
        with pytest.raises(EvaluateError) as info:
            gateway.get_network("qcchannel").get_contract("qcchain").evaluate_transaction("get", "k")
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
