"""Validation of a ``syndata`` request (Appendix B.3, D-A.2) into a :class:`Batch` of canonical leaves.

Checks, each violation listed as ``{index, field, reason}`` (``index`` = the record's position, None for
the request itself; ``field`` = JSON path; the submitted value is never echoed):

* the request: exactly ``access_token``, ``batchNo``, ``txcode``, ``busType``, ``data``; ``batchNo`` =
  ``YYYYMMDD`` (a real date) + 8-digit daily sequence from 00000001; ``txcode`` 01-09; ``busType`` I/U/D;
  ``data`` a list of 1..``max_records`` objects;
* every record against its table's JSON Schema (:mod:`qcchain_model.tables`, the chaincode's too);
* the D-A.2 envelope of every record agrees with the request (``batchNo``, ``txCode``, ``busType``) and its
  ``updateDate`` does not lie in the future (China Standard Time date);
* record ``ID``s are unique inside the batch.

Pure apart from the injected ``today``; the batch's leaves are the records' canonical JSON bytes (the
Merkle tree's leaves and what the chaincode re-validates).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3
from qcchain_model.merkle import merkle_root
from qcchain_model.tables import TX_CODES, violations_of

from .errors import Refused

__all__ = ["Batch", "parse_batch", "REQUEST_FIELDS", "MAX_RECORDS", "BATCH_NO", "valid_batch_no", "china_today"]

REQUEST_FIELDS = ("access_token", "batchNo", "busType", "data", "txcode")
MAX_RECORDS = 5000
BATCH_NO = re.compile(r"^\d{8}(?!00000000)\d{8}$")
MAX_LISTED = 200
_CST = dt.timezone(dt.timedelta(hours=8))


def china_today(now: float) -> str:
    """``YYYY-MM-DD`` of ``now`` (epoch seconds) in China Standard Time (UTC+8)."""
    return dt.datetime.fromtimestamp(now, _CST).strftime("%Y-%m-%d")


def valid_batch_no(value: Any) -> bool:
    """``YYYYMMDD`` (a calendar date) + 8 digits, not 00000000."""
    if not isinstance(value, str) or not BATCH_NO.match(value):
        return False
    try:
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Batch:
    """A validated batch: the request's fields, its records and their canonical bytes."""

    batch_no: str
    txcode: str
    bus_type: str
    category: str
    records: list[dict[str, Any]]
    leaves: list[bytes]
    content_digest: str
    merkle_root: str

    @property
    def ids(self) -> list[str]:
        return [r["ID"] for r in self.records]


def _v(index: int | None, field: str, reason: str) -> dict[str, Any]:
    return {"index": index, "field": field, "reason": reason}


def _request_violations(body: Any, max_records: int) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return [_v(None, "$", "the body must be a JSON object")]
    out = [_v(None, f"$.{k}", "is not a field of a syndata request") for k in sorted(set(body) - set(REQUEST_FIELDS))
           if isinstance(k, str)]
    out += [_v(None, f"$.{k}", "is required") for k in REQUEST_FIELDS if k not in body]
    if "batchNo" in body and not valid_batch_no(body["batchNo"]):
        out.append(_v(None, "$.batchNo", "must be YYYYMMDD (a real date) + an 8-digit daily sequence from 00000001"))
    if "txcode" in body and (not isinstance(body["txcode"], str) or body["txcode"] not in TX_CODES):
        out.append(_v(None, "$.txcode", "must be one of 01..09"))
    if "busType" in body and body["busType"] not in ("I", "U", "D"):
        out.append(_v(None, "$.busType", "must be I, U or D"))
    data = body.get("data")
    if "data" in body and (not isinstance(data, list) or not 1 <= len(data) <= max_records):
        out.append(_v(None, "$.data", f"must be a list of 1..{max_records} records"))
    return out


def _record_violations(i: int, record: Any, body: dict[str, Any], category: str, today: str) -> list[dict[str, Any]]:
    out = [_v(i, v.field, v.reason) for v in violations_of(category, record)]
    if not isinstance(record, dict):
        return out
    for field, expected in (("batchNo", body["batchNo"]), ("txCode", body["txcode"]), ("busType", body["busType"])):
        if field in record and record[field] != expected:
            out.append(_v(i, f"$.{field}", f"does not agree with the request's {field if field != 'txCode' else 'txcode'}"))
    date = record.get("updateDate")
    if isinstance(date, str) and len(date) == 10 and date > today:
        out.append(_v(i, "$.updateDate", "lies in the future"))
    return out


def parse_batch(body: Any, today: str, max_records: int = MAX_RECORDS) -> Batch:
    """Validate a syndata request body (already parsed JSON).

    Raises:
        Refused: any violation; ``violations`` lists every one (capped at 200, the message gives the count).
    """
    found = _request_violations(body, max_records)
    if found:
        raise Refused(f"the syndata request is malformed ({len(found)} problems)", found)
    category = TX_CODES[body["txcode"]]
    seen: dict[str, int] = {}
    for i, record in enumerate(body["data"]):
        found += _record_violations(i, record, body, category, today)
        rid = record.get("ID") if isinstance(record, dict) else None
        if isinstance(rid, str):
            if rid in seen:
                found.append(_v(i, "$.ID", f"repeats the ID of record {seen[rid]} in this batch"))
            seen.setdefault(rid, i)
    if found:
        bad = len({v["index"] for v in found})
        raise Refused(f"{bad} of {len(body['data'])} records are invalid ({len(found)} violations); nothing was stored",
                      found[:MAX_LISTED])
    records = body["data"]
    leaves = [canonical_json(r) for r in records]  # the one canonical encoding: leaves, root and digest
    root = merkle_root(leaves).hex()
    digest = sm3(canonical_json({"batchNo": body["batchNo"], "txcode": body["txcode"], "busType": body["busType"],
                                 "merkle_root": root})).hex()
    return Batch(body["batchNo"], body["txcode"], body["busType"], category, records, leaves, digest, root)
