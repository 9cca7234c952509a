"""An in-process peer that dials a chaincode server and drives it (the benchmark's, and the tests' fake peer).

The peer side of the chaincode protocol is the devnet's (:class:`~qcchain_devnet.ccclient.ChaincodeConnection`
answering requests through :mod:`qcchain_devnet.ccrequests` from a
:class:`~qcchain_devnet.simulator.TxSimulator`); this module only adds what a peer without a network
needs: an in-memory ledger (:class:`~qcchain_bench.peerstate.MemoryLedger`), proposals to send, a
blocking API on a background event loop, and committing a transaction's writes when it COMPLETES with
status < 400. Range results come in batches of ``batch_size`` (exercising QUERY_STATE_NEXT).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from fabric_protos.common import common_pb2
from fabric_protos.peer import chaincode_pb2
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage
from fabric_protos.peer.proposal_pb2 import ChaincodeProposalPayload, Proposal, SignedProposal
from fabric_protos.peer.proposal_response_pb2 import Response as ResponseProto
from google.protobuf.timestamp_pb2 import Timestamp

from qcchain_devnet.ccclient import ChaincodeConnection
from qcchain_devnet.ccrequests import REQUEST_HANDLERS, RequestHandler, TxContext
from qcchain_devnet.model import ChaincodeDef, ChannelDef, CollectionDef
from qcchain_devnet.simulator import TxSimulator
from qcchain_shim.ledger import Response
from qcchain_shim.writebatch import FABRIC_3_1, PeerCapabilities

from .peerstate import MemoryLedger

__all__ = ["PROPOSAL_TIME", "PeerDriver", "TxResult", "signed_proposal"]

M = ChaincodeMessage
PROPOSAL_TIME = Timestamp(seconds=1_700_000_000, nanos=123)
"""The timestamp of every proposal this peer sends."""
T = TypeVar("T")


def signed_proposal(channel_id: str, tx_id: str, args: Sequence[bytes], transient: dict[str, bytes] | None = None,
                    creator: bytes = b"") -> SignedProposal:
    """A SignedProposal like the one a peer forwards with a TRANSACTION (signature not checked by the shim)."""
    chdr = common_pb2.ChannelHeader(type=common_pb2.HeaderType.ENDORSER_TRANSACTION, channel_id=channel_id,
                                    tx_id=tx_id, timestamp=PROPOSAL_TIME)
    shdr = common_pb2.SignatureHeader(creator=creator, nonce=hashlib.sha256(tx_id.encode()).digest()[:24])
    header = common_pb2.Header(channel_header=chdr.SerializeToString(), signature_header=shdr.SerializeToString())
    spec = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(input=chaincode_pb2.ChaincodeInput(args=list(args))))
    payload = ChaincodeProposalPayload(input=spec.SerializeToString(), TransientMap=transient or {})
    proposal = Proposal(header=header.SerializeToString(), payload=payload.SerializeToString())
    return SignedProposal(proposal_bytes=proposal.SerializeToString(), signature=b"sig")


@dataclass
class TxResult:
    """Outcome of one transaction as the peer sees it: the chaincode's COMPLETED or ERROR message."""

    message: ChaincodeMessage
    response: Response | None = None
    event: tuple[str, bytes] | None = None

    @property
    def ok(self) -> bool:
        """COMPLETED with status < 400."""
        return self.response is not None and self.response.ok


def _result(msg: ChaincodeMessage) -> TxResult:
    if msg.type != M.COMPLETED:
        return TxResult(msg)
    proto = ResponseProto.FromString(msg.payload)
    event = (msg.chaincode_event.event_name, msg.chaincode_event.payload) if msg.HasField("chaincode_event") else None
    return TxResult(msg, Response(proto.status, proto.message, proto.payload), event)


class PeerDriver:
    """A one-channel, one-chaincode peer in this process (thread-safe :meth:`submit_async`).

    ``handlers`` (a copy of the devnet's request handlers) may be changed to answer a request type
    differently; ``chaincodes`` answers INVOKE_CHAINCODE by name (``"name"`` or ``"name/channel"``), and
    ``invocations`` records those calls; ``collections`` are the private data collections of the chaincode.
    """

    def __init__(
        self,
        target: str,
        channel_id: str = "mychannel",
        *,
        chaincode: str = "cc",
        options: Sequence[tuple[str, object]] = (),
        credentials: grpc.ChannelCredentials | None = None,
        batch_size: int = 2,
        capabilities: PeerCapabilities = FABRIC_3_1,
        collections: Sequence[str] = (),
        msp_id: str = "PeerMSP",
        timeout: float = 30.0,
    ) -> None:
        self.channel_id, self.chaincode, self.batch_size = channel_id, chaincode, batch_size
        self.ledger = MemoryLedger(msp_id)
        self.handlers: dict[int, RequestHandler] = dict(REQUEST_HANDLERS)
        self.chaincodes: dict[str, Callable[[list[bytes]], Response]] = {}
        self.invocations: list[tuple[str, list[bytes]]] = []
        colls = tuple(CollectionDef(c, (msp_id,), member_only_read=False, member_only_write=False) for c in collections)
        self._channel = ChannelDef(channel_id, (msp_id,), (ChaincodeDef(chaincode, "", colls),))
        self._msp_id = msp_id
        self._counter = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="peerdriver-loop", daemon=True)
        self._thread.start()
        self.connection = ChaincodeConnection(target, chaincode, timeout, credentials=credentials, options=options,
                                              ready_payload=capabilities.to_ready_payload(), handlers=self.handlers)

    def _run(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    # ---- lifecycle ----------------------------------------------------------------------------
    def connect(self, timeout: float = 10.0) -> None:
        """Dial the chaincode and complete REGISTER / REGISTERED / READY.

        Raises:
            ChaincodeUnavailable: the server cannot be reached or did not register.
            TimeoutError: no answer within ``timeout`` seconds.
        """
        self._run(self.connection.connect()).result(timeout)

    @property
    def registered_name(self) -> str:
        """The chaincode id the server sent in REGISTER ("" before :meth:`connect`)."""
        return self.connection.registered_name

    @property
    def connected(self) -> bool:
        """Whether the stream is up."""
        return self.connection.connected

    def close(self) -> None:
        """End the stream, the channel and the event loop."""
        try:
            self._run(self._shutdown()).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    async def _shutdown(self) -> None:
        await self.connection.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if others:  # gRPC's own call tasks end once the channel is closed
            await asyncio.wait(others, timeout=2)

    # ---- the ledger (namespace: the chaincode) --------------------------------------------------
    def committed(self, key: str) -> bytes | None:
        """The committed value of ``key``, or None."""
        return self.ledger.value(self.chaincode, key)

    def committed_private(self, collection: str, key: str) -> bytes | None:
        """The committed private value of ``key`` in ``collection``, or None."""
        return self.ledger.private(self.chaincode, collection, key)

    def committed_keys(self) -> list[str]:
        """Every key with a committed value, in order."""
        return self.ledger.keys(self.chaincode)

    def seed(self, items: dict[str, bytes]) -> None:
        """Commit values directly (set-up)."""
        self.ledger.seed(self.chaincode, items)

    def __enter__(self) -> PeerDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transactions -------------------------------------------------------------------------
    def submit_async(self, args: Sequence[bytes | str], *, tx_id: str | None = None,
                     transient: dict[str, bytes] | None = None, creator: bytes = b"",
                     init: bool = False) -> Future[TxResult]:
        """Send a TRANSACTION (INIT when ``init``); the future resolves on COMPLETED / ERROR, or fails with
        ChaincodeUnavailable / SimulationError (stream down, tx id already executing, timeout)."""
        tx_id = tx_id or hashlib.sha256(f"tx-{next(self._counter)}-{id(self)}".encode()).hexdigest()
        raw = [a.encode() if isinstance(a, str) else bytes(a) for a in args]
        return self._run(self._transaction(tx_id, raw, transient, creator, init))

    def submit(self, args: Sequence[bytes | str], timeout: float = 10.0, **kw: Any) -> TxResult:
        """:meth:`submit_async` and wait. Raises TimeoutError if the chaincode does not answer."""
        return self.submit_async(args, **kw).result(timeout)

    async def _transaction(self, tx_id: str, args: list[bytes], transient: dict[str, bytes] | None,
                           creator: bytes, init: bool) -> TxResult:
        sim = TxSimulator(self.ledger, self._channel, self._msp_id, self._msp_id)
        ctx = TxContext(sim, self.chaincode, signed_proposal(self.channel_id, tx_id, args, transient, creator),
                        self._invoke, self.batch_size)
        msg = await self.connection.execute(self.channel_id, tx_id, chaincode_pb2.ChaincodeInput(args=args), ctx,
                                            init=init)
        result = _result(msg)
        if result.ok:
            self.ledger.apply(sim, tx_id, (PROPOSAL_TIME.seconds, PROPOSAL_TIME.nanos))
        return result

    async def _invoke(self, spec: chaincode_pb2.ChaincodeSpec, ctx: TxContext) -> ChaincodeMessage:
        name, args = spec.chaincode_id.name, list(spec.input.args)
        self.invocations.append((name, args))
        target = self.chaincodes.get(name)
        if target is None:
            raise LookupError(f"chaincode {name} not found")
        result = target(args)
        body = ResponseProto(status=result.status, message=result.message, payload=result.payload)
        return M(type=M.COMPLETED, payload=body.SerializeToString())
