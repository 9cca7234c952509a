"""Finding 9: the devnet ledger acknowledges a commit only once it is durable — SQLite ``synchronous=FULL``
(WAL is fsynced at every commit), so an OS crash or power loss cannot roll back an acknowledged block."""

from __future__ import annotations

from pathlib import Path

from qcchain_devnet.ledger import Ledger


def test_the_devnet_ledger_syncs_every_commit(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "qcchannel.sqlite", "qcchannel")
    try:
        assert ledger._w.execute("PRAGMA synchronous").fetchone()[0] == 2  # 2 = FULL (1 = NORMAL)
        assert ledger._w.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        ledger.close()
