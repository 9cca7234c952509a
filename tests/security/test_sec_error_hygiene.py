"""Finding 10 (the rest): a payload file is judged before it is read or sent, in one line naming the file;
a damaged devnet ledger is reported in one line naming its channel and file (no Python class names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qcchain_cli.records import records as records_group
from qcchain_core.gm import SM2PrivateKey


class NoCalls:
    """A contract double: nothing may reach the chain."""

    channel = "qcchannel"

    def evaluate_transaction(self, fn: str, *args: object) -> bytes:
        raise AssertionError(f"{fn} was called")

    def submit_transaction(self, fn: str, *args: object, **kw: object) -> bytes:
        raise AssertionError(f"{fn} was called")


def _submit(tmp_path: Path, payload: Path) -> Any:
    key = tmp_path / "key.pem"
    key.write_bytes(SM2PrivateKey.generate().to_pem())
    args = ["submit", "--record-id", "U-1", "--category", "using_unit", "--equipment", "32010001", "--stage", "use",
            "--grade", "L2", "--payload", str(payload), "--key", str(key)]
    return CliRunner().invoke(records_group, args, obj={"contract_provider": lambda _ctx, _name: NoCalls(),
                                                                   "contract_factory": lambda _name: NoCalls()})


def test_a_60_mb_payload_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(60 * 1024 * 1024)  # sparse: 60 MB on paper, nothing to write
    read: list[Path] = []
    for name in ("read_text", "read_bytes"):
        original = getattr(Path, name)
        monkeypatch.setattr(Path, name, lambda self, *a, _o=original, **k: (read.append(self), _o(self, *a, **k))[1])
    result = _submit(tmp_path, big)
    assert result.exit_code == 1 and big not in read, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and str(big) in lines[0] and "62914560 bytes" in lines[0] and "nothing was sent" in lines[0]


def test_an_unencodable_character_names_the_payload_file(tmp_path: Path) -> None:
    bad = tmp_path / "surrogate.json"
    bad.write_text(json.dumps({"ID": "U-1", "busType": "I", "comName": "\ud800"}), encoding="utf-8")  # "\\ud800"
    result = _submit(tmp_path, bad)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert str(bad) in lines[0] and "cannot be encoded as UTF-8" in lines[0]


def _damaged_ledger(tmp_path: Path) -> Path:
    """A devnet ledger file whose SQLite pages holding the blocks are overwritten (disk damage)."""
    import sqlite3

    from qcchain_devnet.ledger import Ledger

    path = tmp_path / "ledger" / "qcchannel.sqlite"
    Ledger(path, "qcchannel").close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=DELETE")
    with db:
        db.executemany("INSERT INTO blocks (num, hash, data) VALUES (?,?,?)",
                       [(n, bytes(32), bytes([n % 251]) * 3000) for n in range(40)])
    db.close()
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for offset in range(4096, size, 4096):  # every page after the header page
            handle.seek(offset + 8)
            handle.write(b"\xa5" * 2000)
    return path


def test_a_damaged_ledger_file_is_one_line_naming_channel_and_file(tmp_path: Path) -> None:
    from qcchain_devnet.errors import LedgerError
    from qcchain_devnet.ledger import Ledger

    path = _damaged_ledger(tmp_path)
    with pytest.raises(LedgerError) as info:
        Ledger(path, "qcchannel")
    message = str(info.value)
    assert "\n" not in message and "qcchannel" in message and str(path) in message, message
    assert "Error" not in message.replace("LedgerError", "")  # no Python/protobuf class names

