"""The private-data table's layout: a rowid table (values of kilobytes per org stay out of the key B-tree);
a ledger written with the earlier WITHOUT ROWID layout is migrated at open, its rows kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from qcchain_devnet.ledger import Ledger

OLD_PVT = """CREATE TABLE pvt (org TEXT NOT NULL, ns TEXT NOT NULL, coll TEXT NOT NULL, key BLOB NOT NULL,
                               value BLOB NOT NULL, vb INTEGER NOT NULL, vt INTEGER NOT NULL,
                               PRIMARY KEY (org, ns, coll, key)) WITHOUT ROWID"""


def _pvt_sql(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='pvt'").fetchone()[0])


def test_a_new_ledger_keeps_private_values_in_a_rowid_table(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ch.sqlite", "ch")
    ledger.close()
    assert "WITHOUT ROWID" not in _pvt_sql(tmp_path / "ch.sqlite").upper()


def test_an_earlier_ledger_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ch.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(OLD_PVT)
        db.executemany("INSERT INTO pvt VALUES (?,?,?,?,?,?,?)",
                       [("Org1MSP", "cc", "secret", b"k1", b"v1" * 900, 3, 0), ("Org2MSP", "cc", "secret", b"k1", b"v1", 3, 0)])
    ledger = Ledger(path, "ch")
    try:
        assert ledger.get_pvt("Org1MSP", "cc", "secret", "k1") == (b"v1" * 900, (3, 0))
        assert ledger.get_pvt("Org2MSP", "cc", "secret", "k1") == (b"v1", (3, 0))
        assert ledger.get_pvt("Org3MSP", "cc", "secret", "k1") is None
    finally:
        ledger.close()
    assert "WITHOUT ROWID" not in _pvt_sql(path).upper()
    again = Ledger(path, "ch")  # opening once more changes nothing
    try:
        assert [r.key for r in again.pvt_range("Org1MSP", "cc", "secret", "", "", 10)] == ["k1"]
    finally:
        again.close()
