"""A devnet with committed public and private data, stopped, for the snapshot/archive/recovery tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "devnet"))

from devnet_ccproc import ChaincodeThread  # noqa: E402
from devnet_crypto import Crypto, build_crypto  # noqa: E402
sys.path.insert(0, str(Path(__file__).parent))
from ledgerkit import Net  # noqa: E402


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    return build_crypto()


@pytest.fixture(scope="session")
def chaincode() -> Iterator[ChaincodeThread]:
    cc = ChaincodeThread()
    yield cc
    cc.stop()


@pytest.fixture()
def make_net(tmp_path: Path, crypto: Crypto, chaincode: ChaincodeThread) -> Iterator[Callable[[str], Net]]:
    nets: list[Net] = []

    def make(name: str = "node") -> Net:
        net = Net(tmp_path / name, crypto, chaincode)
        nets.append(net)
        return net
    yield make
    for net in nets:
        net.stop()
