"""World state and transaction simulation of the in-process peer (:mod:`qcchain_bench.peerdriver`)."""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fabric_protos.common import common_pb2
from fabric_protos.ledger.queryresult import kv_query_result_pb2 as qr
from fabric_protos.peer import chaincode_shim_pb2 as shim
from fabric_protos.peer.chaincode_pb2 import ChaincodeInput, ChaincodeInvocationSpec, ChaincodeSpec
from fabric_protos.peer.proposal_pb2 import ChaincodeProposalPayload, Proposal, SignedProposal
from fabric_protos.peer.proposal_response_pb2 import Response as ResponseProto
from google.protobuf.timestamp_pb2 import Timestamp

from qcchain_shim.ledger import Response

M = shim.ChaincodeMessage


def build_transaction(
    channel_id: str, tx_id: str, args: list[bytes], transient: dict[str, bytes], creator: bytes, msg_type: int
) -> shim.ChaincodeMessage:
    """A TRANSACTION (or INIT) message with a SignedProposal like the peer forwards."""
    chdr = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.ENDORSER_TRANSACTION, channel_id=channel_id, tx_id=tx_id,
        timestamp=Timestamp(seconds=1_700_000_000, nanos=123),
    )
    shdr = common_pb2.SignatureHeader(creator=creator, nonce=hashlib.sha256(tx_id.encode()).digest()[:24])
    header = common_pb2.Header(channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString())
    chaincode_input = ChaincodeInput(args=args)
    spec = ChaincodeInvocationSpec(chaincode_spec=ChaincodeSpec(input=chaincode_input))
    payload = ChaincodeProposalPayload(input=spec.SerializeToString(), TransientMap=transient)
    proposal = Proposal(header=header.SerializeToString(), payload=payload.SerializeToString())
    signed = SignedProposal(proposal_bytes=proposal.SerializeToString(), signature=b"sig")
    return M(type=msg_type, payload=chaincode_input.SerializeToString(), txid=tx_id, channel_id=channel_id, proposal=signed)


@dataclass
class TxSim:
    """Per-transaction simulation state: write set, open query iterators, paginated flag."""

    tx_id: str
    writes: dict[tuple[str, str], bytes | None] = field(default_factory=dict)
    metadata: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    iterators: dict[str, list[bytes]] = field(default_factory=dict)
    paginated: bool = False
    requests: list[int] = field(default_factory=list)


class PeerState:
    """Committed world state (per collection), history, metadata and other chaincodes."""

    def __init__(self, batch_size: int = 2) -> None:
        self.batch_size = batch_size
        self.data: dict[str, dict[str, bytes]] = {"": {}}
        self.history: dict[str, list[qr.KeyModification]] = {}
        self.metadata: dict[tuple[str, str], dict[str, bytes]] = {}
        self.chaincodes: dict[str, Callable[[list[bytes]], Response]] = {}
        self.invocations: list[tuple[str, list[bytes]]] = []
        self._lock = threading.Lock()
        self._ids = 0

    def commit(self, sim: TxSim) -> None:
        """Apply a successful transaction's writes."""
        with self._lock:
            for (collection, key), value in sim.writes.items():
                table = self.data.setdefault(collection, {})
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
                if collection == "":
                    self.history.setdefault(key, []).append(
                        qr.KeyModification(tx_id=sim.tx_id, value=value or b"", is_delete=value is None)
                    )
            for k, md in sim.metadata.items():
                self.metadata.setdefault(k, {}).update(md)

    def answer(self, msg: shim.ChaincodeMessage, sim: TxSim) -> shim.ChaincodeMessage:
        """RESPONSE or ERROR for one chaincode request."""
        sim.requests.append(msg.type)
        try:
            payload = self._answer(msg, sim)
        except (ValueError, KeyError) as exc:
            return M(type=M.ERROR, payload=str(exc).encode(), txid=msg.txid, channel_id=msg.channel_id)
        return M(type=M.RESPONSE, payload=payload, txid=msg.txid, channel_id=msg.channel_id)

    def _answer(self, msg: shim.ChaincodeMessage, sim: TxSim) -> bytes:
        t = msg.type
        if t in (M.GET_STATE, M.GET_PRIVATE_DATA_HASH):
            req = shim.GetState.FromString(msg.payload)
            value = self.data.get(req.collection, {}).get(req.key, b"")
            return hashlib.sha256(value).digest() if t == M.GET_PRIVATE_DATA_HASH and value else value
        if t == M.GET_STATE_MULTIPLE:
            req = shim.GetStateMultiple.FromString(msg.payload)
            table = self.data.get(req.collection, {})
            return shim.GetStateMultipleResult(values=[table.get(k, b"") for k in req.keys]).SerializeToString()
        if t in (M.PUT_STATE, M.DEL_STATE, M.PURGE_PRIVATE_DATA, M.PUT_STATE_METADATA, M.WRITE_BATCH_STATE):
            if sim.paginated:
                raise ValueError(f"txid [{sim.tx_id}]: Transaction has already performed a paginated query. Writes are not allowed")
            if t == M.WRITE_BATCH_STATE:
                for rec in shim.WriteBatchState.FromString(msg.payload).rec:
                    self._record(rec, sim)
                return b""
            return self._write(msg, sim)
        if t == M.GET_STATE_BY_RANGE:
            return self._range(shim.GetStateByRange.FromString(msg.payload), sim)
        if t == M.QUERY_STATE_NEXT:
            return self._next_batch(shim.QueryStateNext.FromString(msg.payload).id, sim)
        if t == M.QUERY_STATE_CLOSE:
            sim.iterators.pop(shim.QueryStateClose.FromString(msg.payload).id, None)
            return shim.QueryResponse().SerializeToString()
        if t == M.GET_HISTORY_FOR_KEY:
            key = shim.GetHistoryForKey.FromString(msg.payload).key
            items = [h.SerializeToString() for h in reversed(self.history.get(key, []))]
            return self._open(items, sim, b"")
        if t == M.GET_STATE_METADATA:
            req = shim.GetStateMetadata.FromString(msg.payload)
            md = self.metadata.get((req.collection, req.key), {})
            entries = [shim.StateMetadata(metakey=k, value=v) for k, v in sorted(md.items())]
            return shim.StateMetadataResult(entries=entries).SerializeToString()
        if t == M.INVOKE_CHAINCODE:
            return self._invoke(ChaincodeSpec.FromString(msg.payload), msg)
        raise ValueError(f"unsupported request {M.Type.Name(t)}")

    def _write(self, msg: shim.ChaincodeMessage, sim: TxSim) -> bytes:
        if msg.type == M.PUT_STATE:
            req = shim.PutState.FromString(msg.payload)
            sim.writes[(req.collection, req.key)] = req.value or None
        elif msg.type == M.PUT_STATE_METADATA:
            md = shim.PutStateMetadata.FromString(msg.payload)
            sim.metadata.setdefault((md.collection, md.key), {})[md.metadata.metakey] = md.metadata.value
        else:
            req = shim.DelState.FromString(msg.payload)
            sim.writes[(req.collection, req.key)] = None
        return b""

    @staticmethod
    def _record(rec: shim.WriteRecord, sim: TxSim) -> None:
        if rec.type == shim.WriteRecord.PUT_STATE:
            sim.writes[(rec.collection, rec.key)] = rec.value or None
        elif rec.type == shim.WriteRecord.PUT_STATE_METADATA:
            sim.metadata.setdefault((rec.collection, rec.key), {})[rec.metadata.metakey] = rec.metadata.value
        elif rec.type in (shim.WriteRecord.DEL_STATE, shim.WriteRecord.PURGE_PRIVATE_DATA):
            sim.writes[(rec.collection, rec.key)] = None
        else:
            raise ValueError(f"write batch record of unknown type {rec.type} for key {rec.key!r}")

    def _range(self, req: shim.GetStateByRange, sim: TxSim) -> bytes:
        table = self.data.get(req.collection, {})
        ordered = sorted(table)
        start = req.startKey
        page = 0
        if req.metadata:
            meta = shim.QueryMetadata.FromString(req.metadata)
            page, sim.paginated = meta.pageSize, True
            start = max(start, meta.bookmark) if meta.bookmark else start
        lo = bisect.bisect_left(ordered, start)
        hi = bisect.bisect_left(ordered, req.endKey) if req.endKey else len(ordered)
        keys = ordered[lo:hi]
        bookmark = ""
        if page:
            bookmark = keys[page] if len(keys) > page else ""
            keys = keys[:page]
        items = [qr.KV(namespace="cc", key=k, value=table[k]).SerializeToString() for k in keys]
        rmeta = shim.QueryResponseMetadata(fetched_records_count=len(items), bookmark=bookmark).SerializeToString()
        return self._open(items, sim, rmeta)

    def _open(self, items: list[bytes], sim: TxSim, metadata: bytes) -> bytes:
        with self._lock:
            self._ids += 1
            query_id = f"q{self._ids}"
        sim.iterators[query_id] = items
        response = shim.QueryResponse.FromString(self._next_batch(query_id, sim))
        response.metadata = metadata
        return response.SerializeToString()

    def _next_batch(self, query_id: str, sim: TxSim) -> bytes:
        items = sim.iterators[query_id]
        batch, rest = items[: self.batch_size], items[self.batch_size :]
        sim.iterators[query_id] = rest
        results = [shim.QueryResultBytes(resultBytes=b) for b in batch]
        return shim.QueryResponse(results=results, has_more=bool(rest), id=query_id).SerializeToString()

    def _invoke(self, spec: ChaincodeSpec, msg: shim.ChaincodeMessage) -> bytes:
        name, args = spec.chaincode_id.name, list(spec.input.args)
        self.invocations.append((name, args))
        target = self.chaincodes.get(name)
        if target is None:
            raise ValueError(f"chaincode {name} not found")
        result = target(args)
        body = ResponseProto(status=result.status, message=result.message, payload=result.payload)
        inner = M(type=M.COMPLETED, payload=body.SerializeToString(), txid=msg.txid, channel_id=msg.channel_id)
        return inner.SerializeToString()
