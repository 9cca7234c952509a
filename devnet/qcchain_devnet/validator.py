"""Block cutting and validation, as Fabric's committer (``core/committer/txvalidator`` + MVCC).

For each envelope of a block: decode (BAD_PAYLOAD ...), creator signature (BAD_CREATOR_SIGNATURE),
tx id (BAD_PROPOSAL_TXID), proposal hash (INVALID_ENDORSER_TRANSACTION), duplicate tx id
(DUPLICATE_TXID), endorsement signatures against the chaincode or key-level policy
(ENDORSEMENT_POLICY_FAILURE), read versions (MVCC_READ_CONFLICT) and range re-execution
(PHANTOM_READ_CONFLICT), always against the committed state plus the block's earlier valid
transactions. Valid writes are applied; the codes go to the block's TRANSACTIONS_FILTER metadata.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import chaincode_event_pb2, proposal_pb2, transaction_pb2

from .errors import AccessDenied, PolicyError, UnpackError
from .ledger import Ledger, StateRow, UpdateBatch, Version
from .model import MSP, ChannelDef, PeerSigner, SignatureMemo
from .policy import Signer, from_envelope_bytes
from .protoutil import (
    UnpackedEnvelope,
    block_data_hash,
    block_header_bytes,
    compute_tx_id,
    sha256,
    unpack_envelope,
)
from .simulator import VALIDATION_PARAMETER, SimulationResult

log = logging.getLogger(__name__)

__all__ = ["BlockCommitter", "CommitResult", "CommittedTx"]

C = transaction_pb2.TxValidationCode


@dataclass
class CommittedTx:
    """One transaction of a committed block."""

    tx_id: str
    index: int
    code: int
    chaincode: str = ""
    event: chaincode_event_pb2.ChaincodeEvent | None = None


@dataclass
class CommitResult:
    """A committed block and its transactions."""

    block: common_pb2.Block
    txs: list[CommittedTx] = field(default_factory=list)


class _Overlay:
    """State updates of the block's earlier valid transactions (read-through to the ledger)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.batch = UpdateBatch()
        self._committed: dict[tuple[str, str], StateRow | None] = {}

    def _row(self, ns: str, key: str) -> StateRow | None:
        """The committed row (read once per block: committed state does not change during one)."""
        try:
            return self._committed[(ns, key)]
        except KeyError:
            row = self._committed[(ns, key)] = self.ledger.writer_get(ns, key)
            return row

    def version(self, ns: str, key: str) -> Version | None:
        upd = self.batch.state.get((ns, key))
        if upd is not None:
            return None if upd[0] is None else upd[1]
        row = self._row(ns, key)
        return row.version if row else None

    def metadata(self, ns: str, key: str) -> dict[str, bytes]:
        upd = self.batch.state.get((ns, key))
        if upd is not None:
            if upd[0] is None:
                return {}
            if upd[2] is not None:
                return upd[2]
        row = self._row(ns, key)
        return row.metadata if row else {}

    def value(self, ns: str, key: str) -> bytes | None:
        upd = self.batch.state.get((ns, key))
        if upd is not None:
            return upd[0]
        row = self._row(ns, key)
        return row.value if row else None

    def hashed(self, ns: str, coll: str, kh: bytes) -> tuple[Version | None, dict[str, bytes]]:
        upd = self.batch.pvt_hash.get((ns, coll, kh))
        if upd is not None:
            return (None, {}) if upd[0] is None else (upd[1], upd[2] or {})
        row = self.ledger.writer_get_pvt_hash(ns, coll, kh)
        return (row[1], row[2]) if row else (None, {})

    def range(self, ns: str, start: str, end: str, limit: int) -> list[tuple[str, Version]]:
        rows = {r.key: r.version for r in self.ledger.range_scan(ns, start, end, limit, writer=True)}
        for (n, key), (value, ver, _m) in self.batch.state.items():
            if n == ns and key >= start and (not end or key < end):
                if value is None:
                    rows.pop(key, None)
                else:
                    rows[key] = ver
        return sorted(rows.items())


def _ver(v: kv_rwset_pb2.Version | None, present: bool) -> Version | None:
    return (v.block_num, v.tx_num) if present and v is not None else None


class BlockCommitter:
    """Validates batches of envelopes into blocks of one channel and commits them to its ledger."""

    def __init__(self, ledger: Ledger, channel: ChannelDef, msp: MSP, orderer: PeerSigner | None = None,
                 memo: SignatureMemo | None = None) -> None:
        self.memo = memo
        self.ledger = ledger
        self.channel = channel
        self.msp = msp
        self.orderer = orderer
        self.policies = {cc.name: channel.policy(cc) for cc in channel.chaincodes}

    def commit(self, envelopes: list[bytes], pvt_store: dict[str, SimulationResult],
               unpacked: list[UnpackedEnvelope | None] | None = None) -> CommitResult:
        """Validate ``envelopes`` in order, write the block and its valid updates. ``unpacked`` may give
        envelopes already decoded from exactly these bytes (None entries are decoded here).

        Raises:
            LedgerError: the block cannot be written (nothing is committed).
        """
        num = self.ledger.height
        overlay = _Overlay(self.ledger)
        result_txs: list[CommittedTx] = []
        given = unpacked if unpacked is not None and len(unpacked) == len(envelopes) else [None] * len(envelopes)
        unpacked = [u if u is not None else _unpack(raw) for raw, u in zip(envelopes, given)]
        # tx ids on the ledger (one query per block), then also those seen earlier in this block
        seen = self.ledger.committed_tx_ids([e.channel_header.tx_id for e in unpacked if e is not None])
        for idx, env in enumerate(unpacked):
            tx = self._validate_one(env, idx, num, overlay, seen, pvt_store)
            result_txs.append(tx)
            if tx.code != C.DUPLICATE_TXID and tx.tx_id:
                if tx.tx_id not in seen:
                    overlay.batch.txs.append((tx.tx_id, num, idx, tx.code))
                seen.add(tx.tx_id)
        block = self._make_block(num, envelopes, [t.code for t in result_txs])
        self.ledger.commit(block, overlay.batch)
        for tx in result_txs:
            pvt_store.pop(tx.tx_id, None)
        return CommitResult(block, result_txs)

    def _make_block(self, num: int, envelopes: list[bytes], codes: list[int]) -> common_pb2.Block:
        block = common_pb2.Block()
        block.header.number = num
        block.header.previous_hash = self.ledger.last_hash
        block.data.data.extend(envelopes)
        block.header.data_hash = block_data_hash(block.data)
        value = common_pb2.OrdererBlockMetadata(last_config=common_pb2.LastConfig(index=0)).SerializeToString()
        sigs = common_pb2.Metadata(value=value)
        if self.orderer is not None:
            shdr = common_pb2.SignatureHeader(creator=self.orderer.serialized, nonce=os.urandom(24)).SerializeToString()
            sig = self.orderer.sign(value + shdr + block_header_bytes(block.header))
            sigs.signatures.append(common_pb2.MetadataSignature(signature_header=shdr, signature=sig))
        block.metadata.metadata.extend([sigs.SerializeToString(), b"", bytes(codes), b"", b""])
        return block

    def _validate_one(self, env: UnpackedEnvelope | None, idx: int, num: int, overlay: _Overlay, seen: set[str],
                      pvt_store: dict[str, SimulationResult]) -> CommittedTx:
        """One transaction; ``seen`` holds the tx ids already in the block or on the ledger."""
        if env is None:
            return CommittedTx("", idx, C.BAD_PAYLOAD)
        tx_id = env.channel_header.tx_id
        code = self._check_envelope(env)
        if code == C.VALID and tx_id in seen:
            code = C.DUPLICATE_TXID
        if code != C.VALID:
            return CommittedTx(tx_id, idx, code)
        assert env.cc_action is not None
        cc_name = env.cc_action.chaincode_id.name
        rwset = rwset_pb2.TxReadWriteSet()
        try:
            rwset.ParseFromString(env.cc_action.results)
            ns_sets = [(ns, _kv(ns.rwset), [(c, _hashed(c.hashed_rwset)) for c in ns.collection_hashed_rwset])
                       for ns in rwset.ns_rwset]
        except Exception:  # noqa: BLE001 - any decode failure is a bad rwset
            return CommittedTx(tx_id, idx, C.BAD_RWSET, cc_name)
        code = self._check_policy(env, cc_name, ns_sets, overlay)
        if code == C.VALID:
            code = self._check_mvcc(ns_sets, overlay)
        event = None
        if code == C.VALID:
            self._apply(env, ns_sets, (num, idx), overlay, pvt_store.get(tx_id))
            if env.cc_action.events:
                event = chaincode_event_pb2.ChaincodeEvent()
                event.ParseFromString(env.cc_action.events)
        return CommittedTx(tx_id, idx, code, cc_name, event)

    def _check_envelope(self, env: UnpackedEnvelope) -> int:
        chdr = env.channel_header
        if chdr.channel_id != self.channel.name:
            return C.TARGET_CHAIN_NOT_FOUND
        if chdr.type != common_pb2.ENDORSER_TRANSACTION or env.cc_action is None:
            return C.UNKNOWN_TX_TYPE
        try:
            creator = self.msp.deserialize(env.signature_header.creator, self.channel.name, self.channel.members)
        except AccessDenied:
            return C.BAD_CREATOR_SIGNATURE
        if not creator.verify(env.envelope.signature, env.envelope.payload, self.memo):
            return C.BAD_CREATOR_SIGNATURE
        if compute_tx_id(env.signature_header.nonce, env.signature_header.creator) != chdr.tx_id:
            return C.BAD_PROPOSAL_TXID
        assert env.action_payload is not None and env.prp is not None
        expected = sha256(env.payload.header.channel_header + env.payload.header.signature_header
                          + env.action_payload.chaincode_proposal_payload)
        if expected != env.prp.proposal_hash:
            return C.INVALID_ENDORSER_TRANSACTION
        ext = proposal_pb2.ChaincodeHeaderExtension()
        try:
            ext.ParseFromString(chdr.extension)
        except Exception:  # noqa: BLE001
            return C.BAD_HEADER_EXTENSION
        if ext.chaincode_id.name != env.cc_action.chaincode_id.name or ext.chaincode_id.name not in self.policies:
            return C.INVALID_CHAINCODE
        return C.VALID

    def _endorsers(self, env: UnpackedEnvelope) -> list[Signer]:
        assert env.action_payload is not None
        prp_bytes = env.action_payload.action.proposal_response_payload
        signers = []
        for e in env.action_payload.action.endorsements:
            try:
                ident = self.msp.deserialize(e.endorser, self.channel.name, self.channel.members)
            except AccessDenied:
                continue
            if ident.verify(e.signature, prp_bytes + e.endorser, self.memo):
                signers.append(ident.signer())
        return signers

    def _check_policy(self, env: UnpackedEnvelope, cc_name: str, ns_sets: list, overlay: _Overlay) -> int:
        signers = self._endorsers(env)
        needs_cc: set[str] = set()
        checked: set[str] = set()          # namespaces where some policy was evaluated (FAB-9473)
        for ns, kv, colls in ns_sets:
            written = [w.key for w in kv.writes] + [m.key for m in kv.metadata_writes]
            hashed_written = [(c.collection_name, w.key_hash) for c, h in colls for w in h.hashed_writes]
            hashed_written += [(c.collection_name, m.key_hash) for c, h in colls for m in h.metadata_writes]
            if (written or hashed_written) and ns.namespace not in self.policies:
                return C.ILLEGAL_WRITESET
            if written or hashed_written:
                checked.add(ns.namespace)
            for key in written:
                vp = overlay.metadata(ns.namespace, key).get(VALIDATION_PARAMETER)
                if not self._key_policy_ok(vp, signers, ns.namespace, needs_cc):
                    return C.ENDORSEMENT_POLICY_FAILURE
            for coll, kh in hashed_written:
                vp = overlay.hashed(ns.namespace, coll, kh)[1].get(VALIDATION_PARAMETER)
                if not self._key_policy_ok(vp, signers, ns.namespace, needs_cc):
                    return C.ENDORSEMENT_POLICY_FAILURE
        if cc_name not in checked:
            needs_cc.add(cc_name)
        for name in sorted(needs_cc):
            if not self.policies[name].evaluate(signers):
                return C.ENDORSEMENT_POLICY_FAILURE
        return C.VALID

    @staticmethod
    def _key_policy_ok(vp: bytes | None, signers: list[Signer], ns: str, needs_cc: set[str]) -> bool:
        if not vp:
            needs_cc.add(ns)
            return True
        try:
            return from_envelope_bytes(vp).evaluate(signers)
        except PolicyError:
            return False

    def _check_mvcc(self, ns_sets: list, overlay: _Overlay) -> int:
        for ns, kv, colls in ns_sets:
            for r in kv.reads:
                if overlay.version(ns.namespace, r.key) != _ver(r.version, r.HasField("version")):
                    return C.MVCC_READ_CONFLICT
            for rq in kv.range_queries_info:
                raw = [(r.key, _ver(r.version, r.HasField("version"))) for r in rq.raw_reads.kv_reads]
                now = overlay.range(ns.namespace, rq.start_key, rq.end_key, len(raw) + 1)
                if not rq.itr_exhausted:
                    now = now[:len(raw)]
                if now != raw:
                    return C.PHANTOM_READ_CONFLICT
            for c, hashed in colls:
                for r in hashed.hashed_reads:
                    if overlay.hashed(ns.namespace, c.collection_name, r.key_hash)[0] != _ver(
                            r.version, r.HasField("version")):
                        return C.MVCC_READ_CONFLICT
        return C.VALID

    def _apply(self, env: UnpackedEnvelope, ns_sets: list, version: Version, overlay: _Overlay,
               pvt: SimulationResult | None) -> None:
        batch = overlay.batch
        ts = env.channel_header.timestamp
        tx_id = env.channel_header.tx_id
        for ns, kv, colls in ns_sets:
            name = ns.namespace
            metas = {m.key: {e.name: e.value for e in m.entries} for m in kv.metadata_writes}
            for w in kv.writes:
                value = None if w.is_delete else w.value
                batch.state[(name, w.key)] = (value, version, None if value is None else metas.pop(w.key, None))
                batch.history.append((name, w.key, version[0], version[1], tx_id, None, int(w.is_delete),
                                      ts.seconds, ts.nanos))
            for key, meta in metas.items():
                current = overlay.value(name, key)
                if current is not None:
                    batch.state[(name, key)] = (current, version, meta)
            for c, hashed in colls:
                self._apply_collection(name, c, hashed, version, overlay, pvt)

    def _apply_collection(self, ns: str, c: rwset_pb2.CollectionHashedReadWriteSet, hashed: kv_rwset_pb2.HashedRWSet,
                          version: Version, overlay: _Overlay, pvt: SimulationResult | None) -> None:
        batch = overlay.batch
        coll = c.collection_name
        hmetas = {m.key_hash: {e.name: e.value for e in m.entries} for m in hashed.metadata_writes}
        for w in hashed.hashed_writes:
            vh = None if w.is_delete else w.value_hash
            batch.pvt_hash[(ns, coll, w.key_hash)] = (vh, version, hmetas.pop(w.key_hash, None))
        for kh, meta in hmetas.items():
            ver, _old = overlay.hashed(ns, coll, kh)
            if ver is not None:
                current = batch.pvt_hash.get((ns, coll, kh))
                vh = current[0] if current else (self.ledger.writer_get_pvt_hash(ns, coll, kh) or (b"",))[0]
                batch.pvt_hash[(ns, coll, kh)] = (vh, version, meta)
        cc = next((x for x in self.channel.chaincodes if x.name == ns), None)
        cdef = cc.collection(coll) if cc else None
        pvt_bytes = pvt.pvt.get((ns, coll)) if pvt else None
        if cdef is None or pvt is None or pvt_bytes is None or sha256(pvt_bytes) != c.pvt_rwset_hash:
            if hashed.hashed_writes:
                log.warning("private data of a valid transaction is missing for %s/%s", ns, coll)
            return
        for (n, cl, key), value in pvt.pvt_writes.items():
            if n == ns and cl == coll:
                for org in cdef.members:
                    batch.pvt[(org, ns, coll, key)] = (value, version)


def _unpack(raw: bytes) -> UnpackedEnvelope | None:
    try:
        return unpack_envelope(raw)
    except UnpackError:
        return None


def _kv(raw: bytes) -> kv_rwset_pb2.KVRWSet:
    kv = kv_rwset_pb2.KVRWSet()
    kv.ParseFromString(raw)
    return kv


def _hashed(raw: bytes) -> kv_rwset_pb2.HashedRWSet:
    h = kv_rwset_pb2.HashedRWSet()
    h.ParseFromString(raw)
    return h
