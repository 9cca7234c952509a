"""Helpers of the ledger tests (a devnet started on one state dir; calls that put public and private data),
in a module of its own so test modules import it by a name no other test folder uses."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "devnet"))

from devnet_ccproc import ChaincodeThread  # noqa: E402
from devnet_crypto import Crypto, node_config  # noqa: E402
from qcchain_devnet.node import DevNet  # noqa: E402
from qcchain_gateway import Identity, connect, new_channel, new_private_key_signer  # noqa: E402

CHANNEL = "mychannel"


class Net:
    """Start/stop a devnet on one state dir and submit through the Gateway client."""

    def __init__(self, state: Path, crypto: Crypto, cc: ChaincodeThread) -> None:
        self.state, self.crypto, self.cc = state, crypto, cc
        self.net: DevNet | None = None

    def start(self) -> None:
        self.net = DevNet(self.state, node_config(self.crypto, self.cc.port))
        self.net.start()

    def stop(self) -> None:
        if self.net is not None:
            self.net.stop()
            self.net = None

    def submit(self, *calls: tuple) -> None:
        user = self.crypto.users["Org1MSP"]
        assert self.net is not None
        channel = new_channel(f"127.0.0.1:{self.net.port}", self.crypto.tls_ca.cert_pem)
        with connect(Identity("Org1MSP", user.cert_pem), channel, new_private_key_signer(user.key),
                     close_connection=True) as gw:
            contract = gw.get_network(CHANNEL).get_contract("kv")
            for fn, args, transient in calls:
                contract.submit_transaction(fn, *args, transient=transient)


def puts(prefix: str, n: int) -> list[tuple]:
    return [("put", (f"{prefix}{i}", f"value-{prefix}{i}"), None) for i in range(n)]


def private(key: str, value: bytes) -> tuple:
    return ("t:put_private", ("secret", key), {"value": value})
