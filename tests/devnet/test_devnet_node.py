"""DevNet lifecycle: port conflicts are reported, stop is idempotent, TLS is on by default."""

from __future__ import annotations

import dataclasses
import socket

import grpc
import pytest
from devnet_client import GatewayClient
from devnet_crypto import node_config
from qcchain_devnet.errors import DevnetError
from qcchain_devnet.node import DevNet


def test_port_in_use_is_reported(tmp_path, crypto, chaincode) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        net = DevNet(tmp_path / "s", dataclasses.replace(node_config(crypto, chaincode.port), port=port))
        with pytest.raises(DevnetError, match="did not start"):
            net.start()
        net.stop()


def test_tls_required_and_stop_idempotent(tmp_path, crypto, chaincode) -> None:
    net = DevNet(tmp_path / "s", node_config(crypto, chaincode.port))
    net.start()
    plain = grpc.insecure_channel(f"127.0.0.1:{net.port}")
    with pytest.raises(grpc.RpcError) as err:
        GatewayClient(plain, crypto.users["Org1MSP"], "mychannel").evaluate("kv", "get", "x")
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    plain.close()
    net.stop()
    net.stop()
