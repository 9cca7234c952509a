"""The peer side of Fabric's chaincode protocol, for chaincode-as-a-service.

Like a peer with an external CCaaS builder, the devnet dials the chaincode server
(``protos.Chaincode/Connect``), receives REGISTER, answers REGISTERED and READY, then sends
TRANSACTION messages and answers the chaincode's requests (GET_STATE, PUT_STATE, range and history
queries, private data, metadata, INVOKE_CHAINCODE ...) from the transaction's simulator until
COMPLETED or ERROR. Many transactions share one stream; replies are routed per (channel, tx id).

This is the one implementation of the peer side of the protocol in the project: the devnet's endorser
uses it over the channel ledgers, and the benchmark's in-process peer (``qcchain_bench.peerdriver``) over
an in-memory ledger. What READY announces, the query batch size, the transport and the request handlers
are constructor parameters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

import grpc
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2_grpc
from fabric_protos.peer import chaincode_shim_pb2 as shim
from google.protobuf.message import DecodeError

from .ccrequests import REQUEST_HANDLERS, RequestHandler, TxContext, parse_request
from .errors import ChaincodeUnavailable, DevnetError, SimulationError

log = logging.getLogger(__name__)

__all__ = ["CONNECT_TIMEOUT", "EXECUTE_TIMEOUT", "READY_PARAMS", "ChaincodeConnection", "ChaincodePool"]

M = shim.ChaincodeMessage
EXECUTE_TIMEOUT = 30.0
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


def _expire(fut: asyncio.Future[shim.ChaincodeMessage]) -> None:
    if not fut.done():
        fut.set_exception(SimulationError("timeout expired while executing transaction"))


class ChaincodeConnection:
    """One stream to one chaincode server; many transactions in flight, routed per (channel, tx id).

    ``credentials``: TLS to the server (default plaintext); ``options``: extra gRPC channel options;
    ``ready_payload``: what READY announces (default: a Fabric v3.1 peer's write batches and multi-key
    reads); ``handlers``: the answer to each request type (default :data:`REQUEST_HANDLERS`; read at
    each request, so a caller owning the mapping may change it).
    """

    def __init__(self, address: str, package_id: str, timeout: float = EXECUTE_TIMEOUT, *,
                 credentials: grpc.ChannelCredentials | None = None, options: Sequence[tuple[str, object]] = (),
                 ready_payload: bytes = READY_PARAMS,
                 handlers: Mapping[int, RequestHandler] = REQUEST_HANDLERS) -> None:
        self.address = address
        self.package_id = package_id
        self.timeout = timeout
        self.registered_name = ""
        self._credentials = credentials
        self._options = [*_KEEPALIVE, *options]
        self._ready_payload = ready_payload
        self._handlers = handlers
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

    @property
    def connected(self) -> bool:
        """Whether the stream is up (REGISTER received, READY sent, not broken since)."""
        return self._connected

    async def connect(self) -> None:
        """Dial now if not connected (:meth:`execute` dials on first use).

        Raises:
            ChaincodeUnavailable: the server cannot be reached or did not send REGISTER.
        """
        async with self._lock:
            if not self._connected:
                await self._connect()

    async def _connect(self) -> None:
        """Dial, wait for REGISTER, answer REGISTERED + READY. Raises: ChaincodeUnavailable."""
        self._channel = (grpc.aio.secure_channel(self.address, self._credentials, options=self._options)
                         if self._credentials is not None
                         else grpc.aio.insecure_channel(self.address, options=self._options))
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
        try:
            self.registered_name = chaincode_pb2.ChaincodeID.FromString(first.payload).name
        except DecodeError:
            self.registered_name = ""
        self._send(M(type=M.REGISTERED))
        self._send(M(type=M.READY, payload=self._ready_payload))
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
        handler = self._handlers.get(msg.type)
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
            spec = parse_request(chaincode_pb2.ChaincodeSpec, msg.payload)
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
                      ctx: TxContext, *, init: bool = False) -> shim.ChaincodeMessage:
        """Run one transaction (sent as INIT when ``init``, as a peer does for an init-required
        chaincode's first invocation); returns the chaincode's COMPLETED or ERROR message.

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
        self._send(M(type=M.INIT if init else M.TRANSACTION, payload=cc_input.SerializeToString(), txid=tx_id,
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
