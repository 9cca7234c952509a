"""A chaincode server that is down gives an error, not a hang; the devnet reconnects once it is up."""

from __future__ import annotations

import devnet_ccproc
import grpc
import pytest
from devnet_ccproc import ChaincodeThread, _free_port
from devnet_client import GatewayClient
from devnet_crypto import node_config
from qcchain_devnet.node import DevNet


def test_unreachable_then_recovered(tmp_path, crypto, monkeypatch) -> None:
    monkeypatch.setattr("qcchain_devnet.ccclient.CONNECT_TIMEOUT", 0.5)
    port = _free_port()
    net = DevNet(tmp_path / "s", node_config(crypto, port))
    net.start()
    ch = grpc.secure_channel(f"127.0.0.1:{net.port}", grpc.ssl_channel_credentials(crypto.tls_ca.cert_pem))
    client = GatewayClient(ch, crypto.users["Org1MSP"], "mychannel")
    try:
        with pytest.raises(grpc.RpcError) as err:
            client.evaluate("kv", "get", "x")
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(grpc.RpcError) as err:
            client.endorse("kv", "put", "x", "y")
        assert err.value.code() == grpc.StatusCode.ABORTED
        assert client.evaluate("qscc", "GetChainInfo", "mychannel")     # still serving
        monkeypatch.setattr(devnet_ccproc, "_free_port", lambda: port)
        cc = ChaincodeThread()
        try:
            assert client.submit_and_wait("kv", "put", "x", "y")[0] == 0
        finally:
            cc.stop()
    finally:
        ch.close()
        net.stop()
