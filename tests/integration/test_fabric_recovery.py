"""Tamper detection and recovery of a native Fabric peer (T-8.1.2g) through ``scripts/network.sh``:

- a state row of peer1 is forged in its LevelDB state database (a write batch appended to the database's
  journal with valid checksums, as someone with file access could do while the peer is stopped): the peer
  starts with it; ``check-peer`` finds its state different from peer0's (fresh snapshots of the same
  block: ``public_state.data`` differs) and ``rebuild-peer`` rebuilds the databases from the blocks;
- a byte of a transaction in one of peer1's block files is flipped and a state row forged again:
  ``check-peer`` names the damaged block, ``rebuild-peer`` re-joins the channel from its genesis block
  (all blocks fetched again from the orderers: the same header hash chain as peer0's) and proves the
  state equal; later transactions reach it;
- ``add-peer --snapshot DIR``: a new peer joins the channel from a verified snapshot (checked equal with
  ``qcchain ledger check --network-dir … --peer …``); a tampered snapshot is refused in one line for
  add-peer and rebuild-peer, with nothing changed.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from qcchain_network import blockstore, runner, snapshots
from qcchain_network.derive import Layout
from smallnet import CHANNEL, small_consortium  # noqa: E402
from smallnet import channel_info as _info, deployed_network, layout_of as _layout  # noqa: E402
from smallnet import network_sh as _sh, submit_keys as _submit  # noqa: E402



def _free_base(candidates: tuple[int, ...] = (39050, 41050, 43050), span: int = 260) -> int:
    """A base port whose next ``span`` ports are free on loopback (a client's ephemeral port can sit in any
    fixed range)."""
    for base in candidates:
        try:
            for port in range(base, base + span):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    pytest.skip("no free block of loopback ports for the Fabric network")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, fabric_binaries: Path) -> Iterator[list[str]]:
    work = tmp_path_factory.mktemp("recover")
    consortium = small_consortium(work, "recover", _free_base(), credit=True, one_chaincode=True)
    yield from deployed_network(work, consortium)


# --- the alterations: LevelDB journal records (masked CRC-32C chunks in 32 KiB blocks) ------------------------

_BLOCK = 32768
_TABLE = [0] * 256
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE[_i] = _c


def _masked_crc(data: bytes) -> int:
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    c ^= 0xFFFFFFFF
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def _journal_puts(path: Path) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of every put in a LevelDB journal, checksums verified."""
    data, pos, pending = path.read_bytes(), 0, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        if left < 7 or (kind == 0 and length == 0):
            pos += left
            continue
        chunk = data[pos + 7:pos + 7 + length]
        assert _masked_crc(bytes([kind]) + chunk) == crc, f"{path}: bad chunk checksum at {pos}"
        pos += 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            count, p = struct.unpack_from("<I", pending, 8)[0], 12
            for _ in range(count):
                op, p = pending[p], p + 1
                n, p = blockstore._varint(pending, p)
                key, p = pending[p:p + n], p + n
                if op == 1:
                    n, p = blockstore._varint(pending, p)
                    yield key, pending[p:p + n]
                    p += n


def _journal_append_put(path: Path, key: bytes, value: bytes) -> None:
    """Append a one-put write batch with a sequence number above any the database has used."""
    batch = struct.pack("<QI", 1 << 55, 1) + b"\x01" + _uvarint(len(key)) + key + _uvarint(len(value)) + value
    out, pos, first = bytearray(), path.stat().st_size, True
    while batch:
        left = _BLOCK - pos % _BLOCK
        if left < 7:
            out += bytes(left)
            pos += left
            continue
        chunk, batch = batch[:left - 7], batch[left - 7:]
        kind = (1 if not batch else 2) if first else (4 if not batch else 3)
        out += struct.pack("<IHB", _masked_crc(bytes([kind]) + chunk), len(chunk), kind) + chunk
        pos, first = pos + 7 + len(chunk), False
    with open(path, "ab") as fh:
        fh.write(out)


def _forge_state_row(layout: Layout, host: str) -> bytes:
    """Change the value of peer ``host``'s node registry record of itself (peer stopped). Returns the key."""
    state = snapshots.peer_of(layout, host).data_dir / "production" / "ledgersData" / "stateLeveldb"
    journal = max(state.glob("*.log"))
    wanted = f"{CHANNEL}\x00dqcchain\x00\x00gov.node\x00{host}\x00".encode()
    found = [value for key, value in _journal_puts(journal) if key == wanted]
    if found:  # same length: one digit of its admission time changed inside the stored JSON
        forged = found[-1].replace(b'"admitted_at":1', b'"admitted_at":2', 1)
        assert forged != found[-1]
    else:  # the journal was flushed into a table at the last start: forge a new row (version 1:0, value {})
        wanted, forged = f"{CHANNEL}\x00dqcchain\x00\x00gov.forged\x00row\x00".encode(), b"\n\x03\x01\x01\x00\x12\x02{}"
    _journal_append_put(journal, wanted, forged)
    return wanted


def _flip_block_byte(layout: Layout, host: str, number: int) -> None:
    """Flip one byte inside the first transaction of block ``number`` in the peer's block file."""
    path = blockstore.blocks_dir(snapshots.peer_of(layout, host).data_dir, CHANNEL) / "blockfile_000000"
    data, pos = bytearray(path.read_bytes()), 0
    for k in range(number + 1):
        size, start = blockstore._varint(data, pos)
        if k == number:
            _, p = blockstore._varint(data, start)
            _, p = blockstore._raw(bytes(data), p)
            _, p = blockstore._raw(bytes(data), p)
            _, p = blockstore._varint(data, p)
            length, p = blockstore._varint(data, p)
            data[p + length // 2] ^= 0x01
        pos = start + size
    path.write_bytes(bytes(data))


def _stopped(args: list[str], host: str) -> None:
    assert _sh("stop-node", host, *args).returncode == 0


def _started(args: list[str], host: str) -> None:
    started = _sh("start-node", host, *args)
    assert started.returncode == 0, started.stderr


def test_forged_state_row_is_found_and_rebuilt_from_the_blocks(net: list[str], fabric_binaries: Path) -> None:
    layout = _layout(net)
    org = layout.consortium.orgs[0]
    peer0, peer1 = f"peer0.{org.domain}", f"peer1.{org.domain}"
    _submit(layout, 2)
    assert _sh("check-peer", peer1, *net).returncode == 0
    _stopped(net, peer1)
    _forge_state_row(layout, peer1)
    _started(net, peer1)
    found = _sh("check-peer", peer1, "--reference", peer0, *net)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "block store intact" in found.stdout and "DIFFERS (public_state.data)" in found.stdout, found.stdout

    report_file = Path(net[3]) / "rebuild-state.json"
    rebuilt = _sh("rebuild-peer", peer1, "--report", str(report_file), *net)
    assert rebuilt.returncode == 0, rebuilt.stderr
    report = json.loads(report_file.read_text())
    assert report["block_store_before"]["intact"] and "block_files" not in report["replaced"]
    assert "stateLeveldb" in report["replaced"]["databases"]
    assert report["proof"]["equal"] and report["after"]["height"] == _info(layout, fabric_binaries, peer0)["height"]
    assert _sh("check-peer", peer1, *net).returncode == 0


def test_damaged_block_and_state_rejoined_from_the_orderers(net: list[str], fabric_binaries: Path) -> None:
    layout = _layout(net)
    org = layout.consortium.orgs[0]
    peer0, peer1 = f"peer0.{org.domain}", f"peer1.{org.domain}"
    _submit(layout, 1)
    target = _info(layout, fabric_binaries, peer0)
    bad = target["height"] - 2
    _stopped(net, peer1)
    _flip_block_byte(layout, peer1, bad)
    _forge_state_row(layout, peer1)
    _started(net, peer1)
    found = _sh("check-peer", peer1, *net)
    assert found.returncode == 1
    assert f"DAMAGED: block {bad} (blockfile_000000 at offset" in found.stdout and "data_hash" in found.stdout
    assert "DIFFERS (public_state.data)" in found.stdout, found.stdout

    report_file = Path(net[3]) / "rebuild-blocks.json"
    rebuilt = _sh("rebuild-peer", peer1, "--report", str(report_file), *net)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "joined qcchannel from its genesis block" in rebuilt.stdout
    report = json.loads(report_file.read_text())
    assert report["block_store_before"]["first_bad_block"] == bad
    assert report["replaced"]["block_files"] and report["proof"]["equal"]
    after = report["after"]["block_store"]
    assert after["intact"] and after["height"] == report["after"]["height"]
    healthy = blockstore.scan(snapshots.peer_of(layout, peer0).data_dir, CHANNEL)
    # the same chain of block headers as the healthy peer (the files need not be byte-identical: each Raft
    # orderer puts its own signature in a block's metadata, and the blocks may come from another orderer)
    assert (after["height"], after["last_block_hash"]) == (healthy.height, healthy.last_block_hash)
    _submit(layout, 1)  # it keeps up afterwards
    deadline = time.monotonic() + 60
    while _info(layout, fabric_binaries, peer1)["currentBlockHash"] != _info(layout, fabric_binaries, peer0)["currentBlockHash"]:
        assert time.monotonic() < deadline, "the rebuilt peer did not receive the next block"
        time.sleep(0.5)
    assert _sh("check-peer", peer1, *net).returncode == 0
    ops = [json.loads(x) for x in (layout.out / "operations.log").read_text().splitlines()]
    assert [o["result"] for o in ops if o["op"] == "rebuild-peer" and o["node"] == peer1] == ["ok", "ok"]


def test_add_peer_from_a_snapshot_and_tampered_snapshots_refused(net: list[str], fabric_binaries: Path,
                                                                  tmp_path: Path) -> None:
    layout = _layout(net)
    org = layout.consortium.orgs[0]
    peer0, peer1 = f"peer0.{org.domain}", f"peer1.{org.domain}"
    _submit(layout, 1)  # a block no snapshot was taken of yet
    taken = _sh("snapshot", peer0, "--channel", CHANNEL, "--wait", *net)
    assert taken.returncode == 0, taken.stderr
    snap = Path(taken.stdout.strip().rsplit(": ", 1)[1])
    bad = tmp_path / "tampered"
    shutil.copytree(snap, bad)
    victim = bad / "txids.data"
    victim.chmod(0o600)
    victim.write_bytes(victim.read_bytes() + b"\x00")
    peers_before = {p.host for p in layout.peers}
    for args in (["add-peer", org.name, "--admit-with-test-keys"], ["rebuild-peer", peer1]):
        refused = _sh(*args, "--snapshot", str(bad), *net)
        assert refused.returncode == 1 and "does not match its SHA-256" in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert {p.host for p in _layout(net).peers} == peers_before
    assert peer1 in runner.running(layout.out)  # the refused rebuild did not stop it

    added = _sh("add-peer", org.name, "--admit-with-test-keys", "--snapshot", str(snap), *net)
    assert added.returncode == 0, added.stderr
    layout = _layout(net)
    new = next(p.host for p in layout.peers if p.host not in peers_before)
    info = _info(layout, fabric_binaries, new)
    assert info["bootstrappingSnapshotInfo"]["lastBlockInSnapshot"] == snapshots.verify_snapshot(snap).height - 1
    # the same check through the CLI's ledger commands (qcchain ledger … --network-dir … --peer …)
    qc = [sys.executable, "-m", "qcchain_cli.main", "ledger"]
    fabric = ["--network-dir", net[3], "--consortium", net[1], "--peer", new]
    verified = subprocess.run([*qc, "verify", str(snap)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and "verified: Fabric snapshot of qcchannel" in verified.stdout
    checked = subprocess.run([*qc, "check", *fabric, "--reference", peer0], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and f"on {new}: intact" in checked.stdout, checked.stderr
