"""The shim side of the chaincode protocol (``peer/chaincode_shim.proto``) as a state machine.

Modelled on fabric-chaincode-go ``shim/handler.go``: states created → established → ready; one
outstanding request per (channel, txid); every outgoing message goes through one ``send`` callable
(the server's single writer task), so writes to the stream are serialised.

Scheduling: each transaction runs in its own greenlet on the thread that reads the stream. A stub
call sends its request and switches back to the reader; when the peer's RESPONSE/ERROR for that
(channel, txid) arrives the reader switches into the waiting greenlet. No thread hop per message.
Contract code is therefore synchronous and must not block on I/O (chaincode must not do I/O anyway).
With a ``schedule`` callable (the event loop's ``call_soon``, or the completion-queue loop's in
:mod:`qcchain_shim.cqserver`) a transaction that computes for a whole
time slice is preempted and resumed later (:mod:`qcchain_shim.timeslice`), so it cannot stall the others.

No exception of contract code ends the stream: every ``BaseException`` (``SystemExit``,
``KeyboardInterrupt`` raised by a contract, ...) ends that transaction with an ERROR reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import NoReturn

from fabric_protos.peer.chaincode_pb2 import ChaincodeID, ChaincodeInput
from fabric_protos.peer.chaincode_event_pb2 import ChaincodeEvent
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage
from fabric_protos.peer.proposal_response_pb2 import Response as ResponseProto
from google.protobuf.message import DecodeError
from greenlet import GreenletExit, getcurrent

from .contract import Router
from .errors import ChaincodeProtocolError, PeerError
from .peerstub import PeerStub
from .proposal import parse_proposal
from .timeslice import TxGreenlet
from .writebatch import PeerCapabilities

logger = logging.getLogger(__name__)

M = ChaincodeMessage
# message types as plain ints: the hot path compares them for every message
_KEEPALIVE, _RESPONSE, _ERROR = M.KEEPALIVE, M.RESPONSE, M.ERROR
_TRANSACTION, _INIT, _COMPLETED = M.TRANSACTION, M.INIT, M.COMPLETED
MAX_IDLE_GREENLETS = 256
"""Finished transaction greenlets a handler keeps to run later transactions: a greenlet's first switch
allocates its frame stack (~15 µs), a reused one switches in ~1 µs."""


class State(Enum):
    """The handler's states (fabric-chaincode-go ``shim/handler.go``): ``created`` until the peer answers
    REGISTER with REGISTERED, ``established`` until READY, then ``ready`` for transactions."""

    CREATED = "created"
    ESTABLISHED = "established"
    READY = "ready"


def short(txid: str) -> str:
    """First 8 characters of a tx id (what the Go shim logs)."""
    return txid[:8]


def _type_name(msg: ChaincodeMessage) -> str:
    return M.Type.Name(msg.type) if msg.type in M.Type.values() else str(msg.type)


class Handler:
    """Protocol handler for one peer stream: one method per :class:`State`, as the Go shim's
    ``handleCreated`` / ``handleEstablished`` / ``handleReady``."""

    def __init__(
        self,
        router: Router,
        chaincode_id: str,
        send: Callable[[ChaincodeMessage], None],
        schedule: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.router = router
        self.chaincode_id = chaincode_id
        self._send = send
        self._schedule = schedule  # loop.call_soon: lets the time slicer resume a preempted transaction
        self._in_flight: set[tuple[str, str]] = set()
        self._waiting: dict[tuple[str, str], TxGreenlet] = {}
        self._idle: list[TxGreenlet] = []  # finished transaction greenlets, reused (MAX_IDLE_GREENLETS)
        self._closed = False
        self.capabilities = PeerCapabilities()  # what the peer announces in READY (Fabric v3.1+)
        self._by_state: dict[State, Callable[[ChaincodeMessage], None]] = {
            State.CREATED: self._handle_created,
            State.ESTABLISHED: self._handle_established,
            State.READY: self._handle_ready,
        }
        self.state = State.CREATED

    @property
    def state(self) -> State:
        """The protocol state; setting it selects the method that handles the next message."""
        return self._state

    @state.setter
    def state(self, value: State) -> None:
        self._state = value
        self._dispatch = self._by_state.get(value, self._unknown_state)

    def _unknown_state(self, msg: ChaincodeMessage) -> NoReturn:
        raise ChaincodeProtocolError(f"invalid handler state: {self._state!r}")

    # ---- stream events (called on the reader) -------------------------------------------------
    def start(self) -> None:
        """Send REGISTER with the chaincode id (the first message, as chatWithPeer)."""
        payload = ChaincodeID(name=self.chaincode_id).SerializeToString()
        self._send(M(type=M.REGISTER, payload=payload))

    def handle(self, msg: ChaincodeMessage) -> None:
        """Process one message from the peer in the current state (KEEPALIVE is echoed in every state).

        Raises:
            ChaincodeProtocolError: the message is not allowed in the current state (an ERROR naming
                the message type and the state has been sent; the stream must end, as the Go shim
                does), or the handler is in a state it does not know.
        """
        if msg.type == _KEEPALIVE:
            self._send(msg)
            return
        self._dispatch(msg)

    def _handle_created(self, msg: ChaincodeMessage) -> None:
        if msg.type != M.REGISTERED:
            self._refuse(msg)
        self.state = State.ESTABLISHED
        logger.debug("chaincode stream registered")

    def _handle_established(self, msg: ChaincodeMessage) -> None:
        if msg.type != M.READY:
            self._refuse(msg)
        self.capabilities = PeerCapabilities.from_ready_payload(msg.payload)
        self.state = State.READY
        logger.debug("chaincode stream ready (peer capabilities %s)", self.capabilities)

    def _refuse(self, msg: ChaincodeMessage) -> NoReturn:
        reason = f"chaincode handler cannot handle message ({_type_name(msg)}) while in state: {self.state.value}"
        self._send(M(type=M.ERROR, payload=reason.encode(), txid=msg.txid, channel_id=msg.channel_id))
        raise ChaincodeProtocolError(reason)

    def _handle_ready(self, msg: ChaincodeMessage) -> None:
        kind = msg.type
        key = (msg.channel_id, msg.txid)
        if kind == _RESPONSE or kind == _ERROR:
            waiter = self._waiting.pop(key, None)
            if waiter is None:
                logger.warning("[%s] reply for a transaction that is not waiting; ignored", short(msg.txid))
                return
            waiter.enter(msg)
        elif kind == _TRANSACTION or kind == _INIT:
            if key in self._in_flight:
                self._send(self._error(msg, f"[{short(msg.txid)}] transaction already in progress on this channel"))
                return
            self._in_flight.add(key)
            idle = self._idle
            (idle.pop() if idle else TxGreenlet(self._worker, self._schedule)).enter(msg)
        else:
            name = _type_name(msg)
            logger.warning("[%s] unexpected %s in state ready; refused", short(msg.txid), name)
            self._send(self._error(msg, f"chaincode handler cannot handle message ({name}) while in state: ready"))

    def close(self) -> None:
        """The stream ended: fail every transaction still waiting for a reply."""
        self._closed = True
        waiting, self._waiting = self._waiting, {}
        for waiter in waiting.values():
            waiter.throw(PeerError("chaincode stream closed while waiting for the peer's reply"))
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.throw()  # GreenletExit: ends the idle greenlet's loop now, not at a garbage collection

    def _worker(self, msg: ChaincodeMessage) -> None:
        """A transaction greenlet's body: run ``msg``'s transaction, then wait (in :attr:`_idle`) for the
        next one the reader hands it, as long as the handler keeps fewer than MAX_IDLE_GREENLETS."""
        current = getcurrent()
        idle = self._idle
        while True:
            self._execute(msg)
            if self._closed or len(idle) >= MAX_IDLE_GREENLETS:
                return
            idle.append(current)
            msg = current.parent.switch()

    # ---- transactions (each in its own greenlet) ----------------------------------------------
    @staticmethod
    def _error(msg: ChaincodeMessage, text: str) -> ChaincodeMessage:
        return M(type=M.ERROR, payload=text.encode("utf-8", "replace"), txid=msg.txid, channel_id=msg.channel_id)

    def _execute(self, msg: ChaincodeMessage) -> None:
        try:
            reply = self._transaction(msg)
        except GreenletExit:
            raise  # the greenlet is being discarded (stream gone): nothing to answer
        except BaseException as exc:  # noqa: BLE001 - the protocol boundary: any failure answers ERROR at once
            logger.warning("[%s] transaction failed before completion: %s", short(msg.txid), type(exc).__name__)
            reply = self._error(msg, str(exc) or type(exc).__name__)
        finally:
            self._in_flight.discard((msg.channel_id, msg.txid))
        if not self._closed:
            self._send(reply)

    def _transaction(self, msg: ChaincodeMessage) -> ChaincodeMessage:
        try:
            chaincode_input = ChaincodeInput.FromString(msg.payload)
        except DecodeError as exc:
            raise ChaincodeProtocolError(f"failed to unmarshal input: {exc}") from exc
        signed = msg.proposal if msg.HasField("proposal") else None
        fields = parse_proposal(signed)
        channel_id, txid = msg.channel_id, msg.txid
        stub = PeerStub(self, channel_id, txid, list(chaincode_input.args), fields, signed)
        current = getcurrent()
        current.preemptible = True  # contract code runs from here: the time slicer may preempt it
        try:
            response = self.router.invoke(stub)
        finally:
            current.preemptible = False
        if msg.type == _INIT and not response.ok:
            return self._error(msg, response.message)
        if stub.write_batch_open:
            try:  # the writes still kept in a batch go now, before COMPLETED (as the Go shim's handleTransaction)
                stub.finish_write_batch()
            except PeerError as exc:
                raise PeerError(f"failed send batch: {exc}") from exc
        payload = ResponseProto(status=response.status, message=response.message,
                                payload=response.payload).SerializeToString()
        event = stub.event
        if event is not None and response.ok:
            return M(type=_COMPLETED, payload=payload, txid=txid, channel_id=channel_id,
                     chaincode_event=ChaincodeEvent(event_name=event[0], payload=event[1]))
        return M(type=_COMPLETED, payload=payload, txid=txid, channel_id=channel_id)

    def call(self, channel_id: str, txid: str, msg_type: int, payload: bytes) -> ChaincodeMessage:
        """Send a request for a transaction and wait (in its greenlet) for the peer's reply.

        Raises:
            PeerError: the peer answered ERROR or an unexpected type, or the stream closed.
            ChaincodeProtocolError: called outside a transaction greenlet or with a request outstanding.
        """
        current = getcurrent()
        key = (channel_id, txid)
        if not isinstance(current, TxGreenlet) or key not in self._in_flight:
            raise ChaincodeProtocolError("stub calls must run inside the transaction's handler")
        if key in self._waiting:
            raise ChaincodeProtocolError(f"[{short(txid)}] a request is already outstanding")
        if self._closed:
            raise PeerError("chaincode stream closed")
        preemptible, current.preemptible = current.preemptible, False  # the shim's stream code: never preempted
        self._waiting[key] = current
        try:
            self._send(M(type=msg_type, payload=payload, txid=txid, channel_id=channel_id))
            reply: ChaincodeMessage = current.parent.switch()
        finally:
            self._waiting.pop(key, None)
            current.preemptible = preemptible
        if reply.type == M.RESPONSE:
            return reply
        if reply.type == M.ERROR:
            raise PeerError(reply.payload.decode("utf-8", "replace"))
        raise PeerError(f"[{short(txid)}] incorrect chaincode message {M.Type.Name(reply.type)} received, expecting RESPONSE or ERROR")
