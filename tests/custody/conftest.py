"""A SoftHSM2 token for the key-custody tests, and the devnet test fixtures (reused from tests/devnet).

SoftHSM2 reads its configuration (``SOFTHSM2_CONF``) when the module is first loaded, so the token
directory and the tokens are created once per session, before any test loads the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "devnet"))

from devnet_ccproc import ChaincodeThread  # noqa: E402
from devnet_crypto import Crypto, build_crypto, node_config  # noqa: E402

PIN = "4711-user"
SO_PIN = "0815-so"
TOKEN = "qcchain-test"


@dataclass(frozen=True)
class Hsm:
    module: str
    token: str
    pin: str
    pin_file: Path


def _module() -> str | None:
    from qcchain_gateway.pkcs11 import DEFAULT_MODULES

    return next((m for m in DEFAULT_MODULES if Path(m).is_file()), None)


@pytest.fixture(scope="session")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Hsm:
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed (extra qcchain-gateway[pkcs11])")
    module = _module()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("softhsm2 is not installed (apt-get install softhsm2; scripts/test.sh does it as root)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in (TOKEN, TOKEN + "-2"):
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN,
                        "--so-pin", SO_PIN], check=True, capture_output=True)
    pin_file = root / "pin"
    pin_file.write_text(PIN + "\n")
    return Hsm(module, TOKEN, PIN, pin_file)


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    return build_crypto()


@pytest.fixture(scope="session")
def chaincode() -> Iterator[ChaincodeThread]:
    cc = ChaincodeThread()
    yield cc
    cc.stop()


@pytest.fixture()
def devnet(tmp_path: Path, crypto: Crypto, chaincode: ChaincodeThread) -> Iterator[object]:
    from qcchain_devnet.node import DevNet

    net = DevNet(tmp_path / "state", node_config(crypto, chaincode.port))
    net.start()
    yield net
    net.stop()
