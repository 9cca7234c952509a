"""Devnet ledger snapshots: consistent, SM3 manifest, verify, restore into a new state dir; bad input refused."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from ledgerkit import CHANNEL, private, puts
from qcchain_devnet.errors import SnapshotError
from qcchain_devnet.snapshot import (content_digests, create_snapshot, ledger_path, list_snapshots,
                                     restore_snapshot, verify_snapshot)


def _digests(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return content_digests(conn)
    finally:
        conn.close()


def test_snapshot_verify_restore_equal(make_net, tmp_path) -> None:
    node = make_net()
    node.start()
    node.submit(*puts("a", 3), private("p1", b"private-one"))
    snap = create_snapshot(node.state, CHANNEL, tmp_path / "snaps")  # taken while the devnet runs
    node.stop()
    assert snap.height >= 5 and set(snap.content_sm3) == {"blocks", "txs", "state", "history", "pvt_hash", "pvt"}
    assert verify_snapshot(snap.path, CHANNEL).height == snap.height
    assert list_snapshots(tmp_path / "snaps", CHANNEL) == [snap.path]
    restored = restore_snapshot(snap.path, tmp_path / "new-node")
    assert _digests(ledger_path(tmp_path / "new-node", CHANNEL)) == _digests(ledger_path(node.state, CHANNEL))
    assert restored.height == snap.height
    # the restored node serves the same state and keeps committing
    new = make_net("new-node")
    new.start()
    new.submit(*puts("b", 1))
    new.stop()
    with pytest.raises(SnapshotError, match="exists; restore into a new state directory"):
        restore_snapshot(snap.path, tmp_path / "new-node")


def test_corrupt_foreign_and_mismatching_snapshots(make_net, tmp_path) -> None:
    node = make_net()
    node.start()
    node.submit(*puts("c", 2))
    node.stop()
    snap = create_snapshot(node.state, CHANNEL, tmp_path / "snaps")
    with pytest.raises(SnapshotError, match="snapshot of channel mychannel, not org23 \\(foreign snapshot\\)"):
        verify_snapshot(snap.path, "org23")

    bad = tmp_path / "bad"
    shutil.copytree(snap.path, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["content_sm3"]["state"] = "00" * 32
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match="content of state does not match the manifest"):
        verify_snapshot(bad)

    corrupt = tmp_path / "corrupt"
    shutil.copytree(snap.path, corrupt)
    with open(corrupt / "ledger.sqlite", "r+b") as f:
        f.seek(4096 + 200)
        f.write(b"\xff" * 64)
    with pytest.raises(SnapshotError, match="does not match the manifest's SM3"):
        verify_snapshot(corrupt)

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"format": "fabric-snapshot"}')
    with pytest.raises(SnapshotError, match="not a devnet ledger snapshot"):
        verify_snapshot(foreign)

    for broken in (bad, corrupt, foreign):
        target = tmp_path / f"restore-{broken.name}"
        with pytest.raises(SnapshotError):
            restore_snapshot(broken, target)
        assert not any(target.rglob("*.sqlite*")), "nothing half-restored"
