"""Answers to the chaincode's requests (GET_STATE, PUT_STATE, range and history queries, private data,
metadata, write batches ...) from a transaction's simulator, as a Fabric peer's handler does.

:data:`REQUEST_HANDLERS` maps each request type to its :data:`RequestHandler`;
:class:`~qcchain_devnet.ccclient.ChaincodeConnection` calls them for the transaction the request belongs to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim
from google.protobuf.message import DecodeError

from .errors import SimulationError
from .simulator import TxSimulator

__all__ = ["QUERY_BATCH", "REQUEST_HANDLERS", "InvokeFn", "RequestHandler", "TxContext", "parse_request"]

M = shim.ChaincodeMessage
QUERY_BATCH = 100
"""Results per QueryResponse (a Fabric peer's ``chaincode.runtimeParams`` default ``maxResultLimit``)."""

InvokeFn = Callable[[chaincode_pb2.ChaincodeSpec, "TxContext"], Awaitable[shim.ChaincodeMessage]]


@dataclass
class TxContext:
    """What a chaincode request needs: the simulator, the namespace, the proposal, a c2c invoker, and how
    many query results go in one QueryResponse."""

    sim: TxSimulator
    ns: str
    signed_proposal: proposal_pb2.SignedProposal
    invoke: InvokeFn
    query_batch: int = QUERY_BATCH


def parse_request(cls: type, data: bytes):  # noqa: ANN201 - the message of class ``cls``
    """Decode a request payload as ``cls``. Raises: SimulationError (undecodable)."""
    msg = cls()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise SimulationError(f"cannot decode {cls.__name__}: {exc}") from exc
    return msg


def _query_response(ctx: TxContext, ident: str, meta: bytes = b"") -> shim.QueryResponse:
    rows, more = ctx.sim.next_rows(ident, ctx.query_batch)
    ns = ctx.ns
    results = [shim.QueryResultBytes(resultBytes=kv_query_result_pb2.KV(
        namespace=ns, key=r.key, value=r.value).SerializeToString()) for r in rows]
    return shim.QueryResponse(results=results, has_more=more, id=ident, metadata=meta)


def _range(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.GetStateByRange, msg.payload)
    sim = ctx.sim
    if req.collection:
        ident = sim.open_pvt_range(ctx.ns, req.collection, req.startKey, req.endKey)
        return _query_response(ctx, ident).SerializeToString()
    page_size, bookmark = 0, ""
    if req.metadata:
        qm = parse_request(shim.QueryMetadata, req.metadata)
        page_size, bookmark = qm.pageSize, qm.bookmark
    ident = sim.open_range(ctx.ns, req.startKey, req.endKey, page_size, bookmark)
    if page_size <= 0:
        return _query_response(ctx, ident).SerializeToString()
    it = sim.iterators[ident]
    rows = it.rows
    next_bookmark = ""
    if it.info is not None and not it.info.itr_exhausted and rows:
        nxt = sim.ledger.range_scan(ctx.ns, rows[-1].key + "\x00", req.endKey, 1)
        next_bookmark = nxt[0].key if nxt else ""
    meta = shim.QueryResponseMetadata(fetched_records_count=len(rows), bookmark=next_bookmark).SerializeToString()
    return _query_response(ctx, ident, meta).SerializeToString()


def _history(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.GetHistoryForKey, msg.payload)
    results = []
    for tx_id, value, is_delete, ts_s, ts_n in ctx.sim.ledger.history(ctx.ns, req.key):
        km = kv_query_result_pb2.KeyModification(tx_id=tx_id, value=value or b"", is_delete=bool(is_delete))
        km.timestamp.seconds, km.timestamp.nanos = ts_s, ts_n
        results.append(shim.QueryResultBytes(resultBytes=km.SerializeToString()))
    return shim.QueryResponse(results=results, has_more=False, id="history").SerializeToString()


def _get_state(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.GetState, msg.payload)
    if req.collection:
        return ctx.sim.get_private(ctx.ns, req.collection, req.key)
    return ctx.sim.get_state(ctx.ns, req.key)


def _get_multiple(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.GetStateMultiple, msg.payload)
    if req.collection:
        values = [ctx.sim.get_private(ctx.ns, req.collection, k) for k in req.keys]
    else:
        values = ctx.sim.get_states(ctx.ns, list(req.keys))
    return shim.GetStateMultipleResult(values=values).SerializeToString()


def _write(ctx: TxContext, kind: int, key: str, value: bytes | None, collection: str,
           metadata: shim.StateMetadata | None = None) -> None:
    sim, ns = ctx.sim, ctx.ns
    if kind == M.PUT_STATE_METADATA:
        if metadata is None:
            raise SimulationError("metadata is missing")
        if collection:
            sim.put_private_metadata(ns, collection, key, metadata.metakey, metadata.value)
        else:
            sim.put_metadata(ns, key, metadata.metakey, metadata.value)
    elif collection:
        sim.put_private(ns, collection, key, value if kind == M.PUT_STATE else None)
    elif kind == M.PUT_STATE:
        sim.put_state(ns, key, value or b"")
    elif kind == M.PURGE_PRIVATE_DATA:
        raise SimulationError("collection must not be empty for PURGE_PRIVATE_DATA")
    else:
        sim.del_state(ns, key)


def _put(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.PutState, msg.payload)
    _write(ctx, M.PUT_STATE, req.key, req.value, req.collection)
    return b""


def _del(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.DelState, msg.payload)
    _write(ctx, M.DEL_STATE, req.key, None, req.collection)
    return b""


def _purge(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.PurgePrivateState, msg.payload)
    _write(ctx, M.PURGE_PRIVATE_DATA, req.key, None, req.collection)
    return b""


def _batch(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.WriteBatchState, msg.payload)
    for rec in req.rec:  # WriteRecord.Type shares ChaincodeMessage's numbers for these four operations
        if rec.type not in (M.PUT_STATE, M.DEL_STATE, M.PUT_STATE_METADATA, M.PURGE_PRIVATE_DATA):
            raise SimulationError("unknown operation type")  # the text of Fabric's HandleWriteBatch
        _write(ctx, rec.type, rec.key, rec.value, rec.collection, rec.metadata)
    return b""


def _get_meta(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.GetStateMetadata, msg.payload)
    meta = (ctx.sim.get_private_metadata(ctx.ns, req.collection, req.key) if req.collection
            else ctx.sim.get_metadata(ctx.ns, req.key))
    return shim.StateMetadataResult(entries=[shim.StateMetadata(metakey=k, value=meta[k])
                                             for k in sorted(meta)]).SerializeToString()


def _put_meta(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.PutStateMetadata, msg.payload)
    _write(ctx, M.PUT_STATE_METADATA, req.key, None, req.collection, req.metadata)
    return b""


def _pvt_hash(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.GetState, msg.payload)
    return ctx.sim.get_private_hash(ctx.ns, req.collection, req.key)


def _next(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.QueryStateNext, msg.payload)
    return _query_response(ctx, req.id).SerializeToString()


def _close(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = parse_request(shim.QueryStateClose, msg.payload)
    ctx.sim.close_iterator(req.id)
    return shim.QueryResponse(has_more=False, id=req.id).SerializeToString()


def _rich_query(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    raise SimulationError("ExecuteQuery not supported for leveldb")


RequestHandler = Callable[[TxContext, shim.ChaincodeMessage], bytes]
"""Answers one chaincode request: the RESPONSE payload, or raises (DevnetError, ValueError, KeyError) for ERROR."""

REQUEST_HANDLERS: Mapping[int, RequestHandler] = {
    M.GET_STATE: _get_state, M.GET_STATE_MULTIPLE: _get_multiple, M.PUT_STATE: _put, M.DEL_STATE: _del,
    M.PURGE_PRIVATE_DATA: _purge, M.WRITE_BATCH_STATE: _batch, M.GET_STATE_BY_RANGE: _range,
    M.QUERY_STATE_NEXT: _next, M.QUERY_STATE_CLOSE: _close, M.GET_HISTORY_FOR_KEY: _history,
    M.GET_STATE_METADATA: _get_meta, M.PUT_STATE_METADATA: _put_meta, M.GET_PRIVATE_DATA_HASH: _pvt_hash,
    M.GET_QUERY_RESULT: _rich_query,
}
