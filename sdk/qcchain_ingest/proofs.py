"""Inclusion proofs of anchored records from the service's state (the outbox keeps every batch's canonical
leaves), and the D-5.4 reporting cycles (which using unit is overdue with which table).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from qcchain_model.merkle import MerkleTree

from .db import batches, record_index

__all__ = ["record_proof", "CYCLE_DAYS", "overdue_tables"]

#: D-5.4 update frequency: daily for risk points (06), hazard sources (07), hidden dangers (09); weekly otherwise.
CYCLE_DAYS: dict[str, int] = {"01": 7, "02": 7, "03": 7, "04": 7, "05": 7, "06": 1, "07": 1, "08": 7, "09": 1}


def record_proof(engine: Engine, record_id: str, appid: str | None = None) -> dict[str, Any]:
    """Inclusion proof of a record's latest anchored version: ``{record, proof, appid, batch_no, receipt}``.

    ``appid`` given (a using unit's call): only its own records.

    Raises:
        LookupError: no anchored record with this ID (for this appid).
    """
    with engine.connect() as conn:
        ref = conn.execute(select(record_index).where(record_index.c.record_id == record_id)).mappings().first()
        if ref is None or (appid is not None and ref["appid"] != appid):
            raise LookupError("no anchored record with this ID")
        row = conn.execute(select(batches).where(batches.c.appid == ref["appid"],
                                                 batches.c.batch_no == ref["batch_no"])).mappings().first()
    if row is None:
        raise LookupError("no anchored record with this ID")
    leaves = [leaf.encode("utf-8") for leaf in json.loads(row["leaves"])]
    proof = MerkleTree(leaves).proof(ref["leaf_index"])
    return {"record": json.loads(leaves[ref["leaf_index"]]), "proof": proof.to_dict(), "appid": ref["appid"],
            "batch_no": ref["batch_no"], "receipt": json.loads(row["receipt"]) if row["receipt"] else None}


def overdue_tables(summary: dict[str, Any], now: int, tables: tuple[str, ...] = tuple(CYCLE_DAYS)) -> list[dict[str, Any]]:
    """Per table of ``tables``: the last anchored batch (from an ``ingest:summary``), when the next one is due
    under the D-5.4 cycle, and whether it is overdue at ``now`` (epoch seconds; never sent = overdue)."""
    out = []
    for txcode in tables:
        last = summary.get("last", {}).get(txcode)
        due = None if last is None else int(last["at"]) + CYCLE_DAYS[txcode] * 86400
        out.append({"txcode": txcode, "cycle_days": CYCLE_DAYS[txcode], "last_batch_no": last and last["batch_no"],
                    "last_at": last and last["at"], "due_by": due, "overdue": due is None or now > due})
    return out
