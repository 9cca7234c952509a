"""The ingestion use cases behind the HTTP routes: token, syndata, batch status, proof.

``syndata``: token -> validation (:mod:`.batch`) -> idempotence by (appid, batchNo) in the batch index ->
outbox row ``anchoring`` -> ONE ``ingest:anchor`` transaction -> SM2-signed receipt -> row ``anchored``.
A resent batch with the same content gets the stored receipt (or, after a crash between commit and
response, the receipt rebuilt from the on-chain header — never a second anchoring); other content under a
used batchNo is refused. A refusal stores nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from qcchain_core.gm import SM2PrivateKey

from .anchor import ChainLink
from .batch import MAX_RECORDS, Batch, china_today, parse_batch
from .blobs import BlobStore, check_grant, media_ref
from .credentials import CredentialStore
from .db import batches, record_index
from .errors import ChainError, Refused
from .proofs import record_proof
from .receipt import sign_receipt
from .sealing import seal_batch, transient_of
from .tokens import TokenService

log = logging.getLogger(__name__)

__all__ = ["IngestService"]


class IngestService:
    """Everything the routes call; thread-safe (each call uses its own DB transaction)."""

    def __init__(self, engine: Engine, chain: ChainLink, key: SM2PrivateKey, now: Callable[[], float],
                 max_records: int = MAX_RECORDS, blobs: BlobStore | None = None) -> None:
        self.engine, self.chain, self.key, self.now, self.blobs = engine, chain, key, now, blobs
        self.credentials = CredentialStore(engine, now)
        self.tokens = TokenService(engine, self.credentials, now)
        self.max_records = max_records
        self._inflight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ token
    def token(self, appid: Any, secret: Any) -> dict[str, Any]:
        """Raises AuthFailed (incl. RateLimited)."""
        return self.tokens.issue(self.credentials.authenticate(appid, secret))

    # ------------------------------------------------------------------ syndata
    def syndata(self, body: Any) -> dict[str, Any]:
        """Validate, anchor and sign one batch; returns the receipt.

        Raises:
            AuthFailed: bad token. Refused: invalid batch, used batchNo with other content, chain refusal.
            ChainError: the chain did not confirm (nothing acknowledged; resending is safe).
        """
        credential = self.tokens.verify(body.get("access_token") if isinstance(body, dict) else None)
        batch = parse_batch(body, china_today(self.now()), self.max_records)
        appid = credential["appid"]
        slot = (appid, batch.batch_no)
        with self._lock:
            if slot in self._inflight:
                raise Refused(f"batch {batch.batch_no} is being anchored right now; ask its status or resend later")
            self._inflight.add(slot)
        try:
            return self._syndata(credential, batch)
        finally:
            with self._lock:
                self._inflight.discard(slot)

    def _syndata(self, credential: dict[str, Any], batch: Batch) -> dict[str, Any]:
        appid = credential["appid"]
        row = self._row(appid, batch.batch_no)
        if row is not None:
            if row["content_digest"] != batch.content_digest:
                raise Refused(f"batchNo {batch.batch_no} was already used by this appid with other content",
                              [{"index": None, "field": "$.batchNo", "reason": "already used with other content"}])
            if row["status"] == "anchored":
                return json.loads(row["receipt"])
            on_chain = self.chain.header(appid, batch.batch_no)  # crashed between commit and response?
            if on_chain is not None:
                return self._finish(appid, batch, on_chain, on_chain["tx_id"], on_chain.get("block", -1))
        else:
            self._outbox(credential, batch)
        header, tx_id, block = self._anchor(credential, batch)
        return self._finish(appid, batch, header, tx_id, block)

    def _row(self, appid: str, batch_no: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(batches).where(batches.c.appid == appid, batches.c.batch_no == batch_no)).mappings().first()
        return dict(row) if row else None

    def _outbox(self, credential: dict[str, Any], batch: Batch) -> None:
        leaves = json.dumps([leaf.decode("utf-8") for leaf in batch.leaves], ensure_ascii=False)
        try:
            with self.engine.begin() as conn:
                conn.execute(batches.insert().values(
                    appid=credential["appid"], batch_no=batch.batch_no, org_no=credential["org_no"],
                    content_digest=batch.content_digest, txcode=batch.txcode, bus_type=batch.bus_type,
                    count=len(batch.records), merkle_root=batch.merkle_root, leaves=leaves, status="anchoring",
                    receipt="", created_at=int(self.now())))
        except IntegrityError as exc:  # another replica took this batchNo a moment ago
            raise Refused(f"batch {batch.batch_no} is being anchored right now; ask its status or resend later") from exc

    def _anchor(self, credential: dict[str, Any], batch: Batch) -> tuple[dict[str, Any], str, int]:
        placement, recipients = self.chain.plan(batch.category)
        sealed: dict[str, Any] = {}
        if placement == "private_encrypted":  # deletes too: an L3 record's plaintext never goes on the ledger
            sealed = seal_batch(batch.ids, batch.leaves, recipients)
        records = [{"ID": r["ID"]} for r in batch.records] if sealed else batch.records
        doc = {"appid": credential["appid"], "org_no": credential["org_no"], "unit_name": credential["name"],
               "batch_no": batch.batch_no, "txcode": batch.txcode, "bus_type": batch.bus_type,
               "merkle_root": batch.merkle_root, "records": records}
        try:
            return self.chain.anchor(doc, transient_of(sealed))
        except ChainError as exc:
            if exc.refused:  # the contract said no: nothing was written, forget the batchNo
                with self.engine.begin() as conn:
                    conn.execute(delete(batches).where(batches.c.appid == credential["appid"],
                                                       batches.c.batch_no == batch.batch_no))
                raise Refused(f"the chain refused the batch: {exc}", getattr(exc, "violations", [])) from exc
            raise

    def _finish(self, appid: str, batch: Batch, header: dict[str, Any], tx_id: str, block: int) -> dict[str, Any]:
        if header.get("merkle_root") != batch.merkle_root:
            raise ChainError("the on-chain Merkle root differs from the batch's: not acknowledged")
        receipt = sign_receipt(header, tx_id, block, self.chain.channel, self.key)
        with self.engine.begin() as conn:
            conn.execute(update(batches).where(batches.c.appid == appid, batches.c.batch_no == batch.batch_no)
                         .values(status="anchored", receipt=json.dumps(receipt, ensure_ascii=False)))
            rows = [{"record_id": rid, "appid": appid, "batch_no": batch.batch_no, "leaf_index": i}
                    for i, rid in enumerate(batch.ids)]
            upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            stmt = upsert(record_index)
            conn.execute(stmt.on_conflict_do_update(index_elements=["record_id"], set_={
                "appid": stmt.excluded.appid, "batch_no": stmt.excluded.batch_no, "leaf_index": stmt.excluded.leaf_index}),
                rows)  # executemany: compiled once, not one bound parameter set per row
        log.info("batch %s of %s anchored in %s (block %s, %d records)", batch.batch_no, appid, tx_id, block, len(batch.ids))
        return receipt

    # ------------------------------------------------------------------ status, proof
    def status(self, token: Any, batch_no: str) -> dict[str, Any]:
        """``{"batchNo", "status": "anchored"|"anchoring"|"unknown", "receipt"?}``. Raises AuthFailed."""
        credential = self.tokens.verify(token)
        row = self._row(credential["appid"], batch_no) if isinstance(batch_no, str) else None
        if row is None:
            return {"batchNo": batch_no, "status": "unknown"}
        out: dict[str, Any] = {"batchNo": batch_no, "status": row["status"], "count": row["count"]}
        if row["status"] == "anchored":
            out["receipt"] = json.loads(row["receipt"])
        return out

    def proof(self, record_id: str, appid: str | None = None) -> dict[str, Any]:
        """Inclusion proof of a record's latest anchored version (:func:`.proofs.record_proof`).

        Raises LookupError: unknown record (or another appid's).
        """
        return record_proof(self.engine, record_id, appid)

    # ------------------------------------------------------------------ M fields
    def upload(self, token: Any, name: Any, media_type: str, data: bytes) -> dict[str, Any]:
        """Store a file of the caller's; returns the M-field value ``{name, media_type, sm3, size}``.

        Raises:
            AuthFailed: bad token. Refused: bad name/type, empty, or no blob store configured.
        """
        self.tokens.verify(token)
        if self.blobs is None:
            raise Refused("this server keeps no files (no blob store configured)")
        ref = media_ref(name, media_type, data)
        self.blobs.put(data)
        return ref

    def fetch(self, digest: str, record_id: str, grant: str, nonce: str) -> bytes:
        """The file, for the holder of an on-chain media grant (used once).

        Raises:
            AuthFailed: no valid grant. LookupError: no such file. ChainError: the grant cannot be read.
        """
        if self.blobs is None:
            raise LookupError("no such file")
        entry = self.chain.media_grant(record_id, grant) if record_id and grant else None
        check_grant(self.engine, entry, digest, nonce, self.now)
        return self.blobs.get(digest)
