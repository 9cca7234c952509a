"""A test double of the ingestion server AT THE TRANSPORT BOUNDARY: an in-memory Appendix B endpoint that
validates records with the shared schemas, is idempotent by (appid, batchNo), signs receipts with SM2 over
the SM3 Merkle root of the records — and can be told to fail in the ways a network fails.

Fault modes (``faults`` list, consumed one per syndata call): ``drop`` (connection lost before the server
sees the request), ``500`` (server error, nothing stored), ``500-after`` / ``timeout-after`` (stored and
anchored, then the answer is lost), ``kill-after`` (stored, then the agent process "dies": KeyboardInterrupt), ``kill`` (the agent dies
before the request is sent).
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey
from qcchain_model.merkle import MerkleTree
from qcchain_model.tables import TX_CODES, violations_of

from qcchain_agent.client import PROOF_PATH, STATUS_PATH, SYNDATA_PATH, TOKEN_PATH
from qcchain_agent.errors import TransportError




class Killed(KeyboardInterrupt):
    """Stands for the agent process being killed."""


class FakeIngest:
    def __init__(self, appid: str = "APP1", secret: str = "s3cret", ttl: int = 7200) -> None:
        self.appid, self.secret, self.ttl = appid, secret, ttl
        self.key = SM2PrivateKey.generate()
        self.tokens: set[str] = set()
        self._ids = itertools.count(1)
        self.batches: dict[str, dict[str, Any]] = {}  # batchNo -> {digest, receipt, data, leaves}
        self.latest: dict[str, tuple[str, int]] = {}  # record ID -> (batchNo, index)
        self.applied: list[tuple[str, str, str]] = []  # (ID, busType, batchNo) per stored record
        self.faults: list[str] = []
        self.calls: list[str] = []
        self.syndata_posts = 0

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def ok(self, data: Any) -> tuple[int, Any]:
        return 200, {"rescode": "1", "msg": "success", "data": data}

    def fail(self, status: int, msg: str, data: Any = "") -> tuple[int, Any]:
        return status, {"rescode": "0", "msg": msg, "data": data}

    def request(self, method: str, path: str, params: Mapping[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
        params = dict(params or {})
        self.calls.append(path)
        if path == TOKEN_PATH:
            if params.get("appid") != self.appid or params.get("secret") != self.secret:
                return self.fail(401, "authentication failed", [])
            token = f"tok{next(self._ids)}"
            self.tokens.add(token)
            return self.ok({"access_token": token, "expires_in": self.ttl})
        if path == SYNDATA_PATH:
            return self._syndata(body)
        if path.startswith(STATUS_PATH + "/"):
            if params.get("access_token") not in self.tokens:
                return self.fail(401, "invalid token", [])
            no = path.rsplit("/", 1)[1]
            stored = self.batches.get(no)
            if stored is None:
                return self.ok({"batchNo": no, "status": "unknown"})
            return self.ok({"batchNo": no, "status": "anchored", "receipt": stored["receipt"]})
        if path.startswith(PROOF_PATH + "/"):
            if params.get("access_token") not in self.tokens:
                return self.fail(401, "invalid token", [])
            rid = path.rsplit("/", 1)[1]
            if rid not in self.latest:
                return self.fail(404, "no anchored record with this ID", [])
            no, index = self.latest[rid]
            stored = self.batches[no]
            proof = MerkleTree(stored["leaves"]).proof(index)
            return self.ok({"record": stored["data"][index], "proof": proof.to_dict(), "receipt": stored["receipt"]})
        return 404, None

    def _syndata(self, body: Any) -> tuple[int, Any]:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "drop":
            raise TransportError("POST syndata: ConnectError")
        if fault == "500":
            return 500, None
        if fault == "kill":  # the agent dies with the request unsent
            raise Killed()
        self.syndata_posts += 1
        if body.get("access_token") not in self.tokens:
            return self.fail(401, "invalid, expired or revoked token", [])
        no, data = body["batchNo"], body["data"]
        digest = canonical_json({k: body[k] for k in ("batchNo", "txcode", "busType", "data")})
        if no in self.batches:
            if self.batches[no]["digest"] != digest:
                return self.fail(400, f"batch {no} was used with other content", [])
            return self.ok(self.batches[no]["receipt"])
        category = TX_CODES[body["txcode"]]
        violations = [{"index": i, "field": v.field, "reason": v.reason}
                      for i, r in enumerate(data) for v in violations_of(category, r)]
        violations += [{"index": i, "field": "$.comName", "reason": "refused by the server's rule"}
                       for i, r in enumerate(data) if str(r.get("comName", "")).startswith("REFUSE")]
        if violations:
            return self.fail(400, f"{len(violations)} violations; nothing was stored", violations)
        leaves = [canonical_json(r) for r in data]
        header = {"batch_no": no, "appid": self.appid, "txcode": body["txcode"], "bus_type": body["busType"],
                  "count": len(data), "merkle_root": MerkleTree(leaves).root.hex()}
        bodyr = {"header": header, "tx_id": f"tx{no}", "block": len(self.batches) + 1, "channel": "qc",
                 "key_id": self.key.public_key().key_id()}
        receipt = {**bodyr, "signature": self.key.sign(canonical_json(bodyr)).hex()}
        self.batches[no] = {"digest": digest, "receipt": receipt, "data": data, "leaves": leaves}
        for i, r in enumerate(data):
            self.latest[r["ID"]] = (no, i)
            self.applied.append((r["ID"], body["busType"], no))
        if fault == "500-after":
            return 500, None
        if fault == "timeout-after":
            raise TransportError("POST syndata: ReadTimeout")
        if fault == "kill-after":
            raise Killed()
        return self.ok(receipt)

    def current(self) -> dict[str, dict[str, Any]]:
        """ID -> latest record, deleted ones left out (what the chain holds as live)."""
        out = {}
        for rid, (no, i) in self.latest.items():
            rec = self.batches[no]["data"][i]
            if rec["busType"] != "D":
                out[rid] = rec
        return out
