"""Tamper recovery: a block and a state row are altered → detected → rebuilt from the last verified snapshot
plus blocks from another node → equal to the other node's ledger."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from ledgerkit import CHANNEL, private, puts
from fabric_protos.common import common_pb2
from qcchain_devnet.errors import LedgerCorrupted, SnapshotError
from qcchain_devnet.ledger import Ledger
from qcchain_devnet.recover import check_ledger, recover_ledger
from qcchain_devnet.snapshot import content_digests, create_snapshot, ledger_path


def _digests(path):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return content_digests(conn)
    finally:
        conn.close()


def _tamper_state(path, key: str, value: bytes) -> None:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE state SET value=? WHERE ns='kv' AND key=?", (value, key.encode()))
    conn.commit()
    conn.close()


def _tamper_block(path, num: int) -> None:
    conn = sqlite3.connect(path)
    (data,) = conn.execute("SELECT data FROM blocks WHERE num=?", (num,)).fetchone()
    block = common_pb2.Block.FromString(data)
    env = common_pb2.Envelope.FromString(block.data.data[0])
    env.signature = env.signature[:-1] + bytes([env.signature[-1] ^ 1])
    block.data.data[0] = env.SerializeToString()
    conn.execute("UPDATE blocks SET data=? WHERE num=?", (block.SerializeToString(), num))
    conn.commit()
    conn.close()


@pytest.fixture()
def two_nodes(make_net, tmp_path):
    """Node A with snapshot at some height and more blocks after it; B = an identical copy (another node)."""
    a = make_net("a")
    a.start()
    a.submit(*puts("k", 3), private("p1", b"pv-1"))
    snaps = tmp_path / "snaps"
    create_snapshot(a.state, CHANNEL, snaps)
    a.submit(*puts("k", 2), *puts("m", 2), private("p2", b"pv-2"))
    a.stop()
    b_state = tmp_path / "b"
    shutil.copytree(a.state, b_state)
    return a.state, b_state, snaps


def test_intact_ledger_checks_clean(two_nodes, tmp_path) -> None:
    a, _b, snaps = two_nodes
    check = check_ledger(a, CHANNEL, snaps, tmp_path / "work")
    assert check.ok, check.problems


def test_state_row_and_block_tamper_detected_and_recovered(two_nodes, tmp_path) -> None:
    a, b, snaps = two_nodes
    path = ledger_path(a, CHANNEL)
    height = Ledger(path, CHANNEL).height
    _tamper_state(path, "m1", b"forged")
    check = check_ledger(a, CHANNEL, snaps, tmp_path / "work")
    assert not check.ok and any("state differs" in p and "kv/m1" in p for p in check.problems), check.problems

    _tamper_block(path, height - 2)
    with pytest.raises(LedgerCorrupted, match=f"block {height - 2}"):
        Ledger(path, CHANNEL)  # the devnet refuses to start on it
    check = check_ledger(a, CHANNEL, snaps, tmp_path / "work")
    assert any(f"block {height - 2}" in p for p in check.problems)

    report = recover_ledger(a, CHANNEL, snaps, blocks_from=ledger_path(b, CHANNEL))
    assert report.height == height and "state" in report.replaced_tables and "blocks" in report.replaced_tables
    assert "kv/m1" in report.changed_state_keys
    assert report.kept_aside is not None and report.kept_aside.exists()  # evidence kept, not deleted
    assert _digests(path) == _digests(ledger_path(b, CHANNEL))  # proven equal to the other node's ledger
    assert check_ledger(a, CHANNEL, snaps, tmp_path / "work").ok
    Ledger(path, CHANNEL).close()


def test_recover_without_other_node_keeps_verifying_prefix(two_nodes, tmp_path) -> None:
    a, b, snaps = two_nodes
    path = ledger_path(a, CHANNEL)
    conn = sqlite3.connect(path)
    height = conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0]
    conn.close()
    _tamper_block(path, height - 1)
    report = recover_ledger(a, CHANNEL, snaps)
    assert report.height == height - 1 and report.blocks_lost == 1


def test_recover_refuses_bad_block_source_and_no_snapshot(two_nodes, tmp_path) -> None:
    a, b, snaps = two_nodes
    _tamper_block(ledger_path(b, CHANNEL), 2)
    before = _digests(ledger_path(a, CHANNEL))
    with pytest.raises(SnapshotError, match="does not verify"):
        recover_ledger(a, CHANNEL, snaps, blocks_from=ledger_path(b, CHANNEL))
    with pytest.raises(SnapshotError, match="no verified snapshot of channel mychannel"):
        recover_ledger(a, CHANNEL, tmp_path / "nothing-here")
    assert _digests(ledger_path(a, CHANNEL)) == before  # nothing replaced
