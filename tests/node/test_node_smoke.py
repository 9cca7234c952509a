"""The official Node client ``@hyperledger/fabric-gateway`` against the devnet (issue 3 evidence).

Runs ``tests/node/smoke.mjs`` (evaluate; submit with two-org endorsement; a chaincode error surfacing
as an ``EndorseError``; chaincode events received). The npm packages are installed into
``tests/node/node_modules`` by this test on first use. The devnet is started in-process in a temporary
directory, or an already running one is used when ``QCCHAIN_SMOKE_DIR`` names its ``--dir``.

The in-process devnet serves the example chaincode ``qcchain_bench.example``: ``put(key, value)`` (emits
event ``Put``) and ``get(key)``; for another devnet override with ``QCCHAIN_SMOKE_PUT``,
``QCCHAIN_SMOKE_GET``, ``QCCHAIN_SMOKE_EVENT``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.node, pytest.mark.slow, pytest.mark.timeout(400)]


def _npm_install() -> None:
    if (HERE / "node_modules" / "@hyperledger" / "fabric-gateway" / "package.json").is_file():
        return
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"npm install failed in {HERE}: {proc.stderr.strip().splitlines()[-1:]}")


@pytest.fixture(scope="module")
def devnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js/npm not installed: the official Node client smoke test cannot run")
    _npm_install()
    existing = os.environ.get("QCCHAIN_SMOKE_DIR")
    if existing:
        yield Path(existing).resolve()
        return
    from qcchain_devnet.daemon import UpOptions, running_devnet

    state = tmp_path_factory.mktemp("node-smoke") / "devnet"
    with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_bench.example")):
        yield state


def _smoke_config(state: Path, channel: str, endorsers: list[str]) -> dict[str, object]:
    key, value = f"smoke-{uuid.uuid4().hex[:12]}", f"value-{uuid.uuid4().hex[:8]}"
    return {
        "profile": str(state / "connection-profiles" / "connection-inspection.json"),
        "user": "User1", "channel": channel, "chaincode": "qcchain", "endorsers": endorsers,
        "put": {"fn": os.environ.get("QCCHAIN_SMOKE_PUT", "put"), "args": [key, value]},
        "get": {"fn": os.environ.get("QCCHAIN_SMOKE_GET", "get"), "args": [key]},
        "expect_get": value, "event_name": os.environ.get("QCCHAIN_SMOKE_EVENT", "Put"),
    }


def _pick_channel(state: Path) -> tuple[str, list[str]]:
    """A channel with exactly two members (two-org endorsement); qcchannel with two endorsers otherwise."""
    info = json.loads((state / "devnet.json").read_text())
    msp = {o["name"]: o["mspid"] for o in info["orgs"]}
    for name, channel in info["channels"].items():
        members = channel["members"]
        if len(members) == 2 and "Inspection" in members:
            return name, [msp.get(m, m) for m in members]
    return "qcchannel", ["InspectionMSP", "RegulatorMSP"]


def test_official_node_client_smoke(devnet_dir: Path, tmp_path: Path) -> None:
    channel, endorsers = _pick_channel(devnet_dir)
    cfg = tmp_path / "smoke.json"
    cfg.write_text(json.dumps(_smoke_config(devnet_dir, channel, endorsers)))
    proc = subprocess.run(["node", "smoke.mjs", str(cfg)], cwd=HERE, capture_output=True, text=True, timeout=180)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no result from smoke.mjs (status {proc.returncode}): {proc.stderr[-2000:]}"
    results = json.loads(lines[-1])
    failed = {name: r for name, r in results.items() if not r.get("ok")}
    assert not failed, f"Node client smoke failed: {json.dumps(failed)}"
    assert set(results) == {"submit", "evaluate", "event", "endorse_error"}
    assert results["endorse_error"]["type"] == "EndorseError"
    assert proc.returncode == 0
