"""Archive blocks below a height with an SM3 manifest; verify; refuse purging unarchived data unless forced."""

from __future__ import annotations

import json
import logging

import pytest
from ledgerkit import CHANNEL, puts
from qcchain_devnet.archive import (archive_blocks, archive_snapshot, archived_height, check_purge,
                                    disk_free_ratio, verify_archive)
from qcchain_devnet.errors import SnapshotError
from qcchain_devnet.snapshot import create_snapshot


@pytest.fixture()
def node(make_net):
    n = make_net()
    n.start()
    n.submit(*puts("x", 4))
    n.stop()
    return n


def test_archive_in_segments_and_verify(node, tmp_path) -> None:
    root = tmp_path / "archive"
    first = archive_blocks(node.state, CHANNEL, 2, root)
    assert (first.start, first.end) == (0, 2)
    assert archive_blocks(node.state, CHANNEL, 2, root) is None
    second = archive_blocks(node.state, CHANNEL, 5, root)
    assert (second.start, second.end) == (2, 5)
    assert [s.end for s in verify_archive(root, CHANNEL)] == [2, 5] and archived_height(root, CHANNEL) == 5
    with pytest.raises(SnapshotError, match="cannot archive below 99"):
        archive_blocks(node.state, CHANNEL, 99, root)
    snap = create_snapshot(node.state, CHANNEL, tmp_path / "snaps")
    assert archive_snapshot(snap.path, root).is_dir()
    assert 0.0 < disk_free_ratio(tmp_path) <= 1.0


def test_tampered_archive_is_named(node, tmp_path) -> None:
    root = tmp_path / "archive"
    seg = archive_blocks(node.state, CHANNEL, 3, root)
    block = seg.path / "0000000001.block"
    data = block.read_bytes()
    block.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with pytest.raises(SnapshotError, match="0000000001.block does not match the manifest's SM3"):
        verify_archive(root, CHANNEL)
    seg2 = tmp_path / "archive2"
    s = archive_blocks(node.state, CHANNEL, 3, seg2)
    manifest = json.loads((s.path / "manifest.json").read_text())
    manifest["end"] = 4
    (s.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SnapshotError, match="block files do not match the manifest"):
        verify_archive(seg2, CHANNEL)


def test_purge_refused_until_archived_or_forced(node, tmp_path, caplog) -> None:
    root = tmp_path / "archive"
    with pytest.raises(SnapshotError, match=r"refusing to remove .*mychannel \(blocks 0\.\.\d+\)"):
        check_purge(node.state, [CHANNEL], root)
    with caplog.at_level(logging.WARNING, logger="qcchain.operations"):
        check_purge(node.state, [CHANNEL], root, force_reason="disk replaced, ticket OPS-17")
    assert any("OPS-17" in r.getMessage() and getattr(r, "category", "") == "operations" for r in caplog.records)
    import sqlite3
    from qcchain_devnet.snapshot import ledger_path
    conn = sqlite3.connect(ledger_path(node.state, CHANNEL))
    height = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
    conn.close()
    archive_blocks(node.state, CHANNEL, height, root)
    check_purge(node.state, [CHANNEL], root)  # all archived: allowed
