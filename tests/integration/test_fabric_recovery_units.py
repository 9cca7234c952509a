"""Without Fabric binaries: the block-store scan on block files written in Fabric's serialization (intact,
a flipped transaction byte, a broken hash chain, a truncated file, a store that starts at a snapshot), and
``qcchain ledger`` on Fabric snapshot directories and options (one-line refusals, nothing done)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fabric_protos.common import common_pb2

from qcchain_cli.main import cli
from qcchain_devnet.protoutil import block_header_hash
from qcchain_network import blockstore
from qcchain_network.snapshots import ADDITIONAL, METADATA

CHANNEL = "qcchannel"


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def _raw(b: bytes) -> bytes:
    return _uvarint(len(b)) + b


def _serialize(block: common_pb2.Block) -> bytes:
    """Fabric's ``serializeBlock`` (common/ledger/blkstorage/block_serialization.go)."""
    h = block.header
    out = _uvarint(h.number) + _raw(h.data_hash) + _raw(h.previous_hash) + _uvarint(len(block.data.data))
    out += b"".join(_raw(d) for d in block.data.data) + _uvarint(len(block.metadata.metadata))
    return out + b"".join(_raw(m) for m in block.metadata.metadata)


def _chain(first: int, count: int, prev: bytes = b"") -> list[common_pb2.Block]:
    blocks = []
    for n in range(first, first + count):
        block = common_pb2.Block()
        block.data.data.extend([f"envelope {n}.{i} ".encode() * 20 for i in range(2)])
        block.header.number, block.header.previous_hash = n, prev
        block.header.data_hash = hashlib.sha256(b"".join(block.data.data)).digest()
        block.metadata.metadata.extend([b"sig", b"", b"\x00\x00", b""])
        prev = block_header_hash(block.header)
        blocks.append(block)
    return blocks


def _write(data_dir: Path, blocks: list[common_pb2.Block]) -> Path:
    root = blockstore.blocks_dir(data_dir, CHANNEL)
    root.mkdir(parents=True)
    path = root / "blockfile_000000"
    path.write_bytes(b"".join(_uvarint(len(s)) + s for s in map(_serialize, blocks)))
    return path


def test_an_intact_store_and_one_that_starts_at_a_snapshot(tmp_path: Path) -> None:
    blocks = _chain(0, 5)
    _write(tmp_path / "a", blocks)
    ok = blockstore.scan(tmp_path / "a", CHANNEL)
    assert ok.intact and ok.height == 5 and ok.first_block == 0
    assert ok.last_block_hash == block_header_hash(blocks[-1].header).hex()
    _write(tmp_path / "b", _chain(7, 3, prev=b"\x01" * 32))
    late = blockstore.scan(tmp_path / "b", CHANNEL)
    assert late.intact and (late.first_block, late.height) == (7, 10)
    assert blockstore.scan(tmp_path / "none", CHANNEL).height == 0


def test_a_flipped_transaction_byte_names_the_block_file_and_offset(tmp_path: Path) -> None:
    path = _write(tmp_path, _chain(0, 5))
    data = bytearray(path.read_bytes())
    at = data.index(b"envelope 3.1")
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    bad = blockstore.scan(tmp_path, CHANNEL)
    assert not bad.intact and bad.first_bad_block == 3 and bad.height == 3
    assert "block 3 (blockfile_000000 at offset" in bad.problem and "data_hash does not match" in bad.problem
    assert bad.files[0].sha256 == hashlib.sha256(bytes(data)).hexdigest()


def test_a_rewritten_block_breaks_the_hash_chain_and_truncation_is_found(tmp_path: Path) -> None:
    blocks = _chain(0, 4)
    forged = blocks[1]
    forged.data.data[0] = b"forged envelope"
    forged.header.data_hash = hashlib.sha256(b"".join(forged.data.data)).digest()  # consistent in itself
    _write(tmp_path / "a", blocks)
    chain = blockstore.scan(tmp_path / "a", CHANNEL)
    assert chain.first_bad_block == 2 and "previous_hash is not the hash of block 1" in chain.problem
    path = _write(tmp_path / "b", _chain(0, 3))
    path.write_bytes(path.read_bytes()[:-5])
    cut = blockstore.scan(tmp_path / "b", CHANNEL)
    assert cut.first_bad_block == 2 and "past the end of the file" in cut.problem


def _fabric_snapshot(path: Path) -> Path:
    path.mkdir()
    files = {}
    for name, content in (("public_state.data", b"state"), ("txids.data", b"ids")):
        (path / name).write_bytes(content)
        files[name] = hashlib.sha256(content).hexdigest()
    meta = json.dumps({"channel_name": CHANNEL, "last_block_number": 9, "last_block_hash": "ab" * 32,
                       "snapshot_files_raw_hashes": files}).encode()
    (path / METADATA).write_bytes(meta)
    (path / ADDITIONAL).write_text(json.dumps({"snapshot_hash": hashlib.sha256(meta).hexdigest()}))
    return path


def test_ledger_verify_recognises_fabric_snapshots(tmp_path: Path) -> None:
    runner = CliRunner()
    snap = _fabric_snapshot(tmp_path / "9")
    ok = runner.invoke(cli, ["ledger", "verify", str(snap)])
    assert ok.exit_code == 0 and "verified: Fabric snapshot of qcchannel at height 10" in ok.output
    other = runner.invoke(cli, ["ledger", "verify", str(snap), "--channel", "other"])
    assert other.exit_code == 1 and "a snapshot of qcchannel, not other" in other.output
    (snap / "txids.data").write_bytes(b"idz")
    bad = runner.invoke(cli, ["ledger", "verify", str(snap)])
    lines = [line for line in bad.output.splitlines() if line]
    assert bad.exit_code == 1 and len(lines) == 1 and "txids.data does not match its SHA-256" in lines[0]


@pytest.mark.parametrize("args, message", [
    (["ledger", "restore", "X"], "give --to DIR (devnet) or --network-dir DIR --peer HOST (Fabric)"),
    (["ledger", "check", "--network-dir", "NET"], "--network-dir needs --peer HOST"),
    (["ledger", "recover", "--network-dir", "NET", "--peer", "peer0.x"], "holds no network"),
])
def test_fabric_options_refused_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(tmp_path / a) if a in ("X", "NET") else a for a in args]
    (tmp_path / "NET").mkdir()
    res = CliRunner().invoke(cli, args)
    lines = [line for line in res.output.splitlines() if line]
    assert res.exit_code == 1 and len(lines) == 1 and message in lines[0], res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NET"]
