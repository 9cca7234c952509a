"""The peer side of Fabric's chaincode protocol, for chaincode-as-a-service.

Like a peer with an external CCaaS builder, the devnet dials the chaincode server
(``protos.Chaincode/Connect``), receives REGISTER, answers REGISTERED and READY, then sends
TRANSACTION messages and answers the chaincode's requests (GET_STATE, PUT_STATE, range and history
queries, private data, metadata, INVOKE_CHAINCODE ...) from the transaction's simulator until
COMPLETED or ERROR. Many transactions share one stream; replies are routed per (channel, tx id).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from fabric_protos.ledger.queryresult import kv_query_result_pb2
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2_grpc, proposal_pb2
from fabric_protos.peer import chaincode_shim_pb2 as shim
from google.protobuf.message import DecodeError

from .errors import ChaincodeUnavailable, DevnetError, SimulationError
from .simulator import TxSimulator

log = logging.getLogger(__name__)

__all__ = ["CONNECT_TIMEOUT", "EXECUTE_TIMEOUT", "ChaincodeConnection", "ChaincodePool", "TxContext"]

M = shim.ChaincodeMessage
EXECUTE_TIMEOUT = 30.0
_PAGE = 100
CONNECT_TIMEOUT = 3.0
READY_PARAMS = chaincode_pb2.ChaincodeAdditionalParams(
    use_write_batch=True, max_size_write_batch=1000, use_get_multiple_keys=True, max_size_get_multiple_keys=1000,
).SerializeToString()
"""What READY tells the chaincode, as a Fabric v3.1 peer with core.yaml's default ``chaincode.runtimeParams``:
write batches (``WRITE_BATCH_STATE``) and multi-key reads (``GET_STATE_MULTIPLE``) of up to 1000 keys."""

_KEEPALIVE = [("grpc.keepalive_time_ms", 60000), ("grpc.keepalive_timeout_ms", 20000),
              ("grpc.use_local_subchannel_pool", 1),
              ("grpc.max_receive_message_length", 100 * 1024 * 1024),
              ("grpc.max_send_message_length", 100 * 1024 * 1024)]

InvokeFn = Callable[[chaincode_pb2.ChaincodeSpec, "TxContext"], Awaitable[shim.ChaincodeMessage]]


@dataclass
class TxContext:
    """What a chaincode request needs: the simulator, the namespace, the proposal, and a c2c invoker."""

    sim: TxSimulator
    ns: str
    signed_proposal: proposal_pb2.SignedProposal
    invoke: InvokeFn


def _parse(cls: type, data: bytes):
    msg = cls()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise SimulationError(f"cannot decode {cls.__name__}: {exc}") from exc
    return msg


def _query_response(sim: TxSimulator, ident: str, kind: str, ns: str, meta: bytes = b"") -> shim.QueryResponse:
    rows, more = sim.next_rows(ident, _PAGE)
    results = [shim.QueryResultBytes(resultBytes=kv_query_result_pb2.KV(
        namespace=ns, key=r.key, value=r.value).SerializeToString()) for r in rows] if kind == "kv" else []
    return shim.QueryResponse(results=results, has_more=more, id=ident, metadata=meta)


def _range(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.GetStateByRange, msg.payload)
    sim = ctx.sim
    if req.collection:
        ident = sim.open_pvt_range(ctx.ns, req.collection, req.startKey, req.endKey)
        return _query_response(sim, ident, "kv", ctx.ns).SerializeToString()
    page_size, bookmark = 0, ""
    if req.metadata:
        qm = _parse(shim.QueryMetadata, req.metadata)
        page_size, bookmark = qm.pageSize, qm.bookmark
    ident = sim.open_range(ctx.ns, req.startKey, req.endKey, page_size, bookmark)
    if page_size <= 0:
        return _query_response(sim, ident, "kv", ctx.ns).SerializeToString()
    it = sim.iterators[ident]
    rows = it.rows
    next_bookmark = ""
    if it.info is not None and not it.info.itr_exhausted and rows:
        nxt = sim.ledger.range_scan(ctx.ns, rows[-1].key + "\x00", req.endKey, 1)
        next_bookmark = nxt[0].key if nxt else ""
    meta = shim.QueryResponseMetadata(fetched_records_count=len(rows), bookmark=next_bookmark).SerializeToString()
    return _query_response(sim, ident, "kv", ctx.ns, meta).SerializeToString()


def _history(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.GetHistoryForKey, msg.payload)
    results = []
    for tx_id, value, is_delete, ts_s, ts_n in ctx.sim.ledger.history(ctx.ns, req.key):
        km = kv_query_result_pb2.KeyModification(tx_id=tx_id, value=value or b"", is_delete=bool(is_delete))
        km.timestamp.seconds, km.timestamp.nanos = ts_s, ts_n
        results.append(shim.QueryResultBytes(resultBytes=km.SerializeToString()))
    return shim.QueryResponse(results=results, has_more=False, id="history").SerializeToString()


def _get_state(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.GetState, msg.payload)
    if req.collection:
        return ctx.sim.get_private(ctx.ns, req.collection, req.key)
    return ctx.sim.get_state(ctx.ns, req.key)


def _get_multiple(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.GetStateMultiple, msg.payload)
    if req.collection:
        values = [ctx.sim.get_private(ctx.ns, req.collection, k) for k in req.keys]
    else:
        values = [ctx.sim.get_state(ctx.ns, k) for k in req.keys]
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
    req = _parse(shim.PutState, msg.payload)
    _write(ctx, M.PUT_STATE, req.key, req.value, req.collection)
    return b""


def _del(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.DelState, msg.payload)
    _write(ctx, M.DEL_STATE, req.key, None, req.collection)
    return b""


def _purge(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.PurgePrivateState, msg.payload)
    _write(ctx, M.PURGE_PRIVATE_DATA, req.key, None, req.collection)
    return b""


def _batch(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.WriteBatchState, msg.payload)
    for rec in req.rec:  # WriteRecord.Type shares ChaincodeMessage's numbers for these four operations
        if rec.type not in (M.PUT_STATE, M.DEL_STATE, M.PUT_STATE_METADATA, M.PURGE_PRIVATE_DATA):
            raise SimulationError("unknown operation type")  # the text of Fabric's HandleWriteBatch
        _write(ctx, rec.type, rec.key, rec.value, rec.collection, rec.metadata)
    return b""


def _get_meta(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.GetStateMetadata, msg.payload)
    meta = (ctx.sim.get_private_metadata(ctx.ns, req.collection, req.key) if req.collection
            else ctx.sim.get_metadata(ctx.ns, req.key))
    return shim.StateMetadataResult(entries=[shim.StateMetadata(metakey=k, value=meta[k])
                                             for k in sorted(meta)]).SerializeToString()


def _put_meta(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.PutStateMetadata, msg.payload)
    _write(ctx, M.PUT_STATE_METADATA, req.key, None, req.collection, req.metadata)
    return b""


def _pvt_hash(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.GetState, msg.payload)
    return ctx.sim.get_private_hash(ctx.ns, req.collection, req.key)


def _next(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.QueryStateNext, msg.payload)
    return _query_response(ctx.sim, req.id, "kv", ctx.ns).SerializeToString()


def _close(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    req = _parse(shim.QueryStateClose, msg.payload)
    ctx.sim.close_iterator(req.id)
    return shim.QueryResponse(has_more=False, id=req.id).SerializeToString()


def _rich_query(ctx: TxContext, msg: shim.ChaincodeMessage) -> bytes:
    raise SimulationError("ExecuteQuery not supported for leveldb")


_HANDLERS: dict[int, Callable[[TxContext, shim.ChaincodeMessage], bytes]] = {
    M.GET_STATE: _get_state, M.GET_STATE_MULTIPLE: _get_multiple, M.PUT_STATE: _put, M.DEL_STATE: _del,
    M.PURGE_PRIVATE_DATA: _purge, M.WRITE_BATCH_STATE: _batch, M.GET_STATE_BY_RANGE: _range,
    M.QUERY_STATE_NEXT: _next, M.QUERY_STATE_CLOSE: _close, M.GET_HISTORY_FOR_KEY: _history,
    M.GET_STATE_METADATA: _get_meta, M.PUT_STATE_METADATA: _put_meta, M.GET_PRIVATE_DATA_HASH: _pvt_hash,
    M.GET_QUERY_RESULT: _rich_query,
}


def _expire(fut: asyncio.Future[shim.ChaincodeMessage]) -> None:
    if not fut.done():
        fut.set_exception(SimulationError("timeout expired while executing transaction"))


class ChaincodeConnection:
    """One stream to one chaincode server; many transactions in flight, routed per (channel, tx id)."""

    def __init__(self, address: str, package_id: str, timeout: float = EXECUTE_TIMEOUT) -> None:
        self.address = address
        self.package_id = package_id
        self.timeout = timeout
        self._pending: dict[tuple[str, str], tuple[asyncio.Future[shim.ChaincodeMessage], TxContext]] = {}
        self._queue: asyncio.Queue[shim.ChaincodeMessage | None] | None = None
        self._channel: grpc.aio.Channel | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._connected = False

    async def _outgoing(self):
        assert self._queue is not None
        queue = self._queue
        while True:
            msg = await queue.get()
            if msg is None:
                return
            yield msg

    def _send(self, msg: shim.ChaincodeMessage) -> None:
        if self._queue is not None:
            self._queue.put_nowait(msg)

    async def _connect(self) -> None:
        """Dial, wait for REGISTER, answer REGISTERED + READY. Raises: ChaincodeUnavailable."""
        self._channel = grpc.aio.insecure_channel(self.address, options=_KEEPALIVE)
        self._queue = asyncio.Queue()
        try:
            await asyncio.wait_for(self._channel.channel_ready(), CONNECT_TIMEOUT)
            call = chaincode_shim_pb2_grpc.ChaincodeStub(self._channel).Connect(self._outgoing())
            first = await asyncio.wait_for(call.read(), self.timeout)
        except (TimeoutError, grpc.aio.AioRpcError) as exc:
            await self._channel.close()
            raise ChaincodeUnavailable(f"cannot connect to chaincode server {self.address}: {exc}") from exc
        if first is grpc.aio.EOF or first.type != M.REGISTER:
            await self._channel.close()
            raise ChaincodeUnavailable(f"chaincode server {self.address} did not send REGISTER")
        self._send(M(type=M.REGISTERED))
        self._send(M(type=M.READY, payload=READY_PARAMS))
        self._connected = True
        self._reader = asyncio.get_running_loop().create_task(self._read_loop(call))
        log.info("connected to chaincode server %s", self.address)

    async def _read_loop(self, call: grpc.aio.StreamStreamCall) -> None:
        try:
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    break
                self._dispatch(msg)
        except grpc.aio.AioRpcError as exc:
            log.warning("chaincode stream to %s broke: %s", self.address, exc.code())
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("chaincode stream to %s failed", self.address)
        self._connected = False
        pending, self._pending = self._pending, {}
        for fut, _ctx in pending.values():
            if not fut.done():
                fut.set_exception(ChaincodeUnavailable(f"chaincode stream to {self.address} closed"))

    def _dispatch(self, msg: shim.ChaincodeMessage) -> None:
        key = (msg.channel_id, msg.txid)
        if msg.type in (M.COMPLETED, M.ERROR):
            entry = self._pending.pop(key, None)
            if entry is not None and not entry[0].done():
                entry[0].set_result(msg)
            return
        if msg.type == M.KEEPALIVE:
            self._send(M(type=M.KEEPALIVE))
            return
        entry = self._pending.get(key)
        if entry is None:
            self._reply_error(msg, f"[{msg.txid[:8]}] No ledger context for {M.Type.Name(msg.type)}")
            return
        ctx = entry[1]
        if msg.type == M.INVOKE_CHAINCODE:
            asyncio.get_running_loop().create_task(self._invoke(msg, ctx))
            return
        handler = _HANDLERS.get(msg.type)
        if handler is None:
            self._reply_error(msg, f"unsupported message type {M.Type.Name(msg.type)}")
            return
        try:
            payload = handler(ctx, msg)
        except (DevnetError, ValueError, KeyError) as exc:
            self._reply_error(msg, str(exc))
            return
        except Exception as exc:
            log.exception("internal error answering %s", M.Type.Name(msg.type))
            self._reply_error(msg, f"internal error: {type(exc).__name__}")
            return
        self._send(M(type=M.RESPONSE, payload=payload, txid=msg.txid, channel_id=msg.channel_id))

    def _reply_error(self, msg: shim.ChaincodeMessage, text: str) -> None:
        self._send(M(type=M.ERROR, payload=text.encode(), txid=msg.txid, channel_id=msg.channel_id))

    async def _invoke(self, msg: shim.ChaincodeMessage, ctx: TxContext) -> None:
        try:
            spec = _parse(chaincode_pb2.ChaincodeSpec, msg.payload)
            reply = await ctx.invoke(spec, ctx)
        except (DevnetError, ValueError, LookupError) as exc:
            self._reply_error(msg, str(exc))
            return
        if reply.type == M.COMPLETED:
            self._send(M(type=M.RESPONSE, payload=reply.SerializeToString(), txid=msg.txid,
                         channel_id=msg.channel_id))
        else:
            self._reply_error(msg, reply.payload.decode(errors="replace"))

    async def execute(self, channel_id: str, tx_id: str, cc_input: chaincode_pb2.ChaincodeInput,
                      ctx: TxContext) -> shim.ChaincodeMessage:
        """Run one transaction; returns the chaincode's COMPLETED or ERROR message.

        Raises:
            ChaincodeUnavailable: the server cannot be reached or the stream broke.
            SimulationError: the same tx id is already executing on this chaincode, or the
                execution timed out.
        """
        async with self._lock:
            if not self._connected:
                await self._connect()
        key = (channel_id, tx_id)
        if key in self._pending:
            raise SimulationError(f"txid: {tx_id}({channel_id}) exists")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[shim.ChaincodeMessage] = loop.create_future()
        self._pending[key] = (fut, ctx)
        self._send(M(type=M.TRANSACTION, payload=cc_input.SerializeToString(), txid=tx_id,
                     channel_id=channel_id, proposal=ctx.signed_proposal))
        timer = loop.call_later(self.timeout, _expire, fut)  # cheaper than asyncio.wait_for per transaction
        try:
            return await fut
        finally:
            timer.cancel()
            self._pending.pop(key, None)

    async def close(self) -> None:
        """Close the stream and the channel."""
        self._send(None)  # type: ignore[arg-type]
        if self._reader is not None:
            self._reader.cancel()
        if self._channel is not None:
            await self._channel.close()
        self._connected = False


class ChaincodePool:
    """One :class:`ChaincodeConnection` per chaincode."""

    def __init__(self, timeout: float = EXECUTE_TIMEOUT) -> None:
        self._conns: dict[str, ChaincodeConnection] = {}
        self.timeout = timeout

    def get(self, name: str, address: str, package_id: str) -> ChaincodeConnection:
        """The stream of chaincode ``name`` at ``address`` (one per chaincode, as a peer keeps one per
        launched chaincode; created on first use, dialled on first execute)."""
        conn = self._conns.get(name)
        if conn is None or conn.address != address:
            conn = self._conns[name] = ChaincodeConnection(address, package_id, self.timeout)
        return conn

    async def close(self) -> None:
        """Close every connection."""
        for conn in list(self._conns.values()):
            await conn.close()
        self._conns.clear()
