"""The PEER side of the chaincode protocol, in-process: dials a chaincode server and drives it.

Used by the tests (as a fake peer) and by the benchmark. It answers the chaincode's requests from
an in-memory world state like a peer's transaction simulator: reads see committed state, a
transaction's writes are applied when it COMPLETES with status < 400, writes after a paginated
query are refused with ERROR (as real Fabric does), range results come in batches of
``batch_size`` (exercising QUERY_STATE_NEXT). ``overrides`` lets a test answer any request type.
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import grpc
from fabric_protos.peer import chaincode_shim_pb2_grpc

from qcchain_shim.ledger import Response
from .peerstate import PeerState, TxSim, build_transaction
from qcchain_shim.writebatch import FABRIC_3_1, PeerCapabilities

from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage

M = ChaincodeMessage
Override = Callable[[ChaincodeMessage, TxSim], "ChaincodeMessage | None"]


@dataclass
class TxResult:
    """Outcome of one transaction as the peer sees it."""

    message: ChaincodeMessage
    response: Response | None = None
    event: tuple[str, bytes] | None = None

    @property
    def ok(self) -> bool:
        """COMPLETED with status < 400."""
        return self.response is not None and self.response.ok


@dataclass
class _Pending:
    sim: TxSim
    future: Future[TxResult] = field(default_factory=Future)


class PeerDriver:
    """A minimal peer: connect → REGISTER/REGISTERED/READY → TRANSACTION ... (thread-safe submit)."""

    def __init__(
        self,
        target: str,
        channel_id: str = "mychannel",
        options: Sequence[tuple[str, object]] = (),
        credentials: grpc.ChannelCredentials | None = None,
        batch_size: int = 2,
        handshake: bool = True,
        capabilities: PeerCapabilities = FABRIC_3_1,
    ) -> None:
        self.channel_id = channel_id
        self.handshake = handshake
        self.capabilities = capabilities
        self.state = PeerState(batch_size=batch_size)
        self.overrides: dict[int, Override] = {}
        self.registered_name: str | None = None
        self.unexpected: list[ChaincodeMessage] = []
        self._outgoing: queue.Queue[ChaincodeMessage | None] = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._counter = itertools.count(1)
        self.closed: Exception | None = None
        chan_opts = list(options)
        self._channel = (
            grpc.secure_channel(target, credentials, chan_opts) if credentials else grpc.insecure_channel(target, chan_opts)
        )
        self._call = chaincode_shim_pb2_grpc.ChaincodeStub(self._channel).Connect(iter(self._outgoing.get, None))
        self._reader = threading.Thread(target=self._read, name="peerdriver-reader", daemon=True)
        self._reader.start()

    # ---- lifecycle ----------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until the chaincode registered and READY was sent. Raises TimeoutError."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"chaincode did not register within {timeout} s ({self.closed})")

    def close(self) -> None:
        """End the stream and the channel."""
        self._outgoing.put(None)
        self._call.cancel()
        self._channel.close()
        self._reader.join(5)

    def __enter__(self) -> PeerDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_raw(self, msg: ChaincodeMessage) -> None:
        """Send any message as is (for protocol tests)."""
        self._outgoing.put(msg)

    # ---- transactions -------------------------------------------------------------------------
    def submit_async(
        self,
        args: Sequence[bytes | str],
        *,
        tx_id: str | None = None,
        transient: dict[str, bytes] | None = None,
        creator: bytes = b"",
        msg_type: int = M.TRANSACTION,
        payload: bytes | None = None,
    ) -> Future[TxResult]:
        """Send a TRANSACTION; the future resolves on COMPLETED/ERROR."""
        tx_id = tx_id or hashlib.sha256(f"tx-{next(self._counter)}-{id(self)}".encode()).hexdigest()
        raw = [a.encode() if isinstance(a, str) else bytes(a) for a in args]
        msg = build_transaction(self.channel_id, tx_id, raw, transient or {}, creator, msg_type)
        if payload is not None:
            msg.payload = payload
        pending = _Pending(TxSim(tx_id))
        with self._lock:
            self._pending[tx_id] = pending
        self._outgoing.put(msg)
        return pending.future

    def submit(self, args: Sequence[bytes | str], timeout: float = 10.0, **kw: object) -> TxResult:
        """:meth:`submit_async` and wait. Raises TimeoutError if the chaincode does not answer."""
        return self.submit_async(args, **kw).result(timeout)  # type: ignore[arg-type]

    # ---- the reader ---------------------------------------------------------------------------
    def _read(self) -> None:
        try:
            for msg in self._call:
                self._dispatch(msg)
        except grpc.RpcError as exc:
            self.closed = exc
        finally:
            with self._lock:
                pending, self._pending = self._pending, {}
            for p in pending.values():
                if not p.future.done():
                    p.future.set_exception(ConnectionError(f"chaincode stream ended: {self.closed}"))

    def _dispatch(self, msg: ChaincodeMessage) -> None:
        if msg.type == M.REGISTER:
            from fabric_protos.peer.chaincode_pb2 import ChaincodeID

            self.registered_name = ChaincodeID.FromString(msg.payload).name
            if not self.handshake:
                self._ready.set()
                return
            self._outgoing.put(M(type=M.REGISTERED))
            self._outgoing.put(M(type=M.READY, payload=self.capabilities.to_ready_payload()))
            self._ready.set()
            return
        if msg.type == M.KEEPALIVE:
            self.unexpected.append(msg)
            return
        with self._lock:
            pending = self._pending.get(msg.txid)
        if pending is None:
            self.unexpected.append(msg)
            return
        if msg.type in (M.COMPLETED, M.ERROR):
            with self._lock:
                self._pending.pop(msg.txid, None)
            pending.future.set_result(self._finish(msg, pending.sim))
            return
        override = self.overrides.get(msg.type)
        reply = override(msg, pending.sim) if override else None
        self._outgoing.put(reply if reply is not None else self.state.answer(msg, pending.sim))

    def _finish(self, msg: ChaincodeMessage, sim: TxSim) -> TxResult:
        if msg.type == M.ERROR:
            return TxResult(msg)
        from fabric_protos.peer.proposal_response_pb2 import Response as ResponseProto

        proto = ResponseProto.FromString(msg.payload)
        response = Response(proto.status, proto.message, proto.payload)
        event = None
        if msg.HasField("chaincode_event"):
            event = (msg.chaincode_event.event_name, msg.chaincode_event.payload)
        if response.ok:
            self.state.commit(sim)
        return TxResult(msg, response, event)


def iter_results(futures: Sequence[Future[TxResult]], timeout: float = 30.0) -> Iterator[TxResult]:
    """Results of many futures in order."""
    for future in futures:
        yield future.result(timeout)
