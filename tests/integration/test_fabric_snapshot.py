"""Fabric ledger snapshots through ``scripts/network.sh`` on a native network (T-8.1.2f–h): a snapshot of
``qcchannel`` taken on peer0 at a height; a new peer (add-peer) joins the channel from that snapshot
(``peer channel joinbysnapshot``), catches up with the blocks committed after it and holds the same state:
snapshots of both peers at a later common height have the same file hashes (Fabric's snapshots are
deterministic, so equal hashes mean equal world state, private data hashes and transaction ids). A tampered
snapshot is refused in one line, the disk watermark warns, ``logs --since`` filters by time."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from qcchain_network import snapshots
from smallnet import CHANNEL, small_consortium  # noqa: E402
from smallnet import channel_info as _info, deployed_network, layout_of as _layout  # noqa: E402
from smallnet import network_sh as _sh, submit_keys as _submit  # noqa: E402



@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path) -> Iterator[list[str]]:
    work = tmp_path_factory.mktemp("snap")
    consortium = small_consortium(work, "snap", 37050, credit=True, one_chaincode=True)
    yield from deployed_network(work, consortium)


def _snapshot(args: list[str], host: str, height: int = 0) -> Path:
    run = _sh("snapshot", host, "--channel", CHANNEL, "--height", str(height), "--wait", *args)
    assert run.returncode == 0, run.stderr
    return Path(run.stdout.strip().rsplit(": ", 1)[1])


def _hashes(path: Path) -> dict[str, Any]:
    meta = json.loads((path / snapshots.METADATA).read_text())
    return {k: meta[k] for k in ("channel_name", "last_block_number", "last_block_hash", "snapshot_files_raw_hashes")}


def test_new_peer_joins_by_snapshot_catches_up_and_holds_the_same_state(net: list[str], fabric_binaries: Path,
                                                                      tmp_path: Path) -> None:
    layout = _layout(net)
    org = layout.consortium.orgs[0]
    peer0 = f"peer0.{org.domain}"
    _submit(layout, 3)
    snap = _snapshot(net, peer0)
    height = snapshots.verify_snapshot(snap).height
    assert height == _info(layout, fabric_binaries, peer0)["height"]
    listed = _sh("snapshot", peer0, "--pending", *net)
    assert listed.returncode == 0 and "pending: none" in listed.stdout and str(snap) in listed.stdout, listed

    # a tampered copy is refused in one line before the peer is touched
    bad = tmp_path / "tampered"
    shutil.copytree(snap, bad)
    victim = bad / "public_state.data"
    victim.chmod(0o600)
    victim.write_bytes(victim.read_bytes()[:-1] + bytes([victim.read_bytes()[-1] ^ 1]))
    refused = _sh("join-by-snapshot", peer0, "--snapshot", str(bad), *net)
    assert refused.returncode == 1 and "does not match its SHA-256" in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    _submit(layout, 2)  # blocks after the snapshot: the new peer must pull them from the orderers
    added = _sh("add-peer", org.name, "--admit-with-test-keys", *net)
    assert added.returncode == 0, added.stderr
    layout = _layout(net)
    new = next(p.host for p in layout.peers if p.org == org.name and p.host not in (peer0, f"peer1.{org.domain}"))
    joined = _sh("join-by-snapshot", new, "--snapshot", str(snap), *net)
    assert joined.returncode == 0, joined.stderr
    info = _info(layout, fabric_binaries, new)
    assert info.get("bootstrappingSnapshotInfo", {}).get("lastBlockInSnapshot") == height - 1, info
    _submit(layout, 2)
    target = _info(layout, fabric_binaries, peer0)
    deadline = time.monotonic() + 60
    while (_info(layout, fabric_binaries, new)["height"], _info(layout, fabric_binaries, new)["currentBlockHash"]) \
            != (target["height"], target["currentBlockHash"]):
        assert time.monotonic() < deadline, "the peer joined by snapshot did not catch up"
        time.sleep(0.5)
    last = target["height"] - 1
    assert _hashes(_snapshot(net, new, last)) == _hashes(_snapshot(net, peer0, last))
    ops = [json.loads(x) for x in (layout.out / "operations.log").read_text().splitlines()]
    assert any(o["op"] == "join-by-snapshot" and o["node"] == new and o["result"] == "ok" for o in ops)


def test_status_warns_on_the_disk_watermark_and_logs_since(net: list[str]) -> None:
    status = _sh("status", "--min-free", "1.0", *net)
    assert status.returncode == 0, status.stderr
    warned = [line for line in status.stdout.splitlines() if line.startswith("WARNING ")]
    assert warned and all("watermark" in w for w in warned), status.stdout
    assert not [w for w in _sh("status", "--min-free", "0", *net).stdout.splitlines() if w.startswith("WARNING")]
    recent = _sh("logs", "--since", "10m", *net)
    assert recent.returncode == 0 and recent.stdout, recent.stderr
    assert any(line.startswith("peer0.") for line in recent.stdout.splitlines())
    assert _sh("logs", "--since", "2999-01-01T00:00:00", *net).stdout == ""
    bad = _sh("logs", "--since", "yesterday", *net)
    assert bad.returncode == 1 and "--since 'yesterday'" in bad.stderr
