"""The durable log of refused batches: which appid's ``syndata`` was answered ``rescode "0"``, with its
batchNo, txcode, time, the one-line message and the violations' paths and reasons.

Only requests whose access token verified are logged (an anonymous caller cannot fill the table), and
never a submitted value: batchNo and txcode are kept only when well-formed, each violation keeps its
``index``, ``field`` (JSON path) and ``reason`` (the rule's own wording), at most :data:`MAX_VIOLATIONS`
of them. At most :data:`KEEP_PER_APPID` refusals are kept per appid (the oldest go first).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .db import refusals
from .errors import StateError

log = logging.getLogger(__name__)

__all__ = ["RefusalLog", "MAX_VIOLATIONS", "KEEP_PER_APPID", "batch_fields"]

MAX_VIOLATIONS = 50
KEEP_PER_APPID = 1000
_BATCH_NO = re.compile(r"^\d{16}$")
_TXCODE = re.compile(r"^0[1-9]$")
_APPID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def batch_fields(body: Any) -> tuple[str, str]:
    """(batchNo, txcode) of a request body when well-formed, else "" for each (nothing else is read)."""
    if not isinstance(body, dict):
        return "", ""
    batch_no, txcode = body.get("batchNo"), body.get("txcode")
    return (batch_no if isinstance(batch_no, str) and _BATCH_NO.match(batch_no) else "",
            txcode if isinstance(txcode, str) and _TXCODE.match(txcode) else "")


def _clean(violations: Any) -> list[dict[str, Any]]:
    out = []
    for v in violations[:MAX_VIOLATIONS] if isinstance(violations, list) else []:
        if not isinstance(v, dict):
            continue
        index = v.get("index")
        out.append({"index": index if isinstance(index, int) and not isinstance(index, bool) else None,
                    "field": str(v.get("field", ""))[:200], "reason": str(v.get("reason", ""))[:300]})
    return out


class RefusalLog:
    """Refusals in the service database. ``now`` is injected (seconds)."""

    def __init__(self, engine: Engine, now: Callable[[], float]) -> None:
        self.engine, self.now = engine, now

    def record(self, appid: str, batch_no: str, txcode: str, msg: str, violations: Any) -> None:
        """Log one refusal (and drop this appid's oldest beyond :data:`KEEP_PER_APPID`).

        Raises:
            StateError: the database refused the write.
        """
        if not _APPID.match(appid):
            return
        row = {"appid": appid, "batch_no": batch_no if _BATCH_NO.match(batch_no) else "",
               "txcode": txcode if _TXCODE.match(txcode) else "", "at": int(self.now()),
               "msg": " ".join(str(msg).split())[:400],
               "violations": json.dumps(_clean(violations), ensure_ascii=False)}
        try:
            with self.engine.begin() as conn:
                conn.execute(refusals.insert().values(**row))
                count = conn.execute(select(func.count()).select_from(refusals)
                                     .where(refusals.c.appid == appid)).scalar_one()
                if count > KEEP_PER_APPID:
                    oldest = (select(refusals.c.id).where(refusals.c.appid == appid).order_by(refusals.c.id)
                              .limit(count - KEEP_PER_APPID).scalar_subquery())
                    conn.execute(delete(refusals).where(refusals.c.id.in_(oldest)))
        except SQLAlchemyError as exc:
            raise StateError(f"cannot log the refusal: {type(exc).__name__}") from exc
        log.info("refused batch %s of appid %s logged (%d violations)", row["batch_no"] or "-", appid,
                 len(json.loads(row["violations"])))

    def list(self, appid: str = "", since: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The newest refusals first (of one appid when given, at or after ``since``), at most ``limit``.

        Raises:
            StateError: the database cannot be read.
        """
        query = select(refusals).where(refusals.c.at >= since)
        if appid:
            query = query.where(refusals.c.appid == appid)
        query = query.order_by(refusals.c.at.desc(), refusals.c.id.desc()).limit(max(1, min(limit, 1000)))
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise StateError(f"cannot read the refusals: {type(exc).__name__}") from exc
        return [{"appid": r["appid"], "batch_no": r["batch_no"], "txcode": r["txcode"], "at": r["at"], "msg": r["msg"],
                 "violations": json.loads(r["violations"])} for r in rows]

    def count_since(self, since: int) -> int:
        """Refusals at or after ``since``. Raises StateError: the database cannot be read."""
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(refusals)
                                        .where(refusals.c.at >= since)).scalar_one())
        except SQLAlchemyError as exc:
            raise StateError(f"cannot read the refusals: {type(exc).__name__}") from exc
