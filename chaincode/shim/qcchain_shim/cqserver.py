"""The chaincode server of :func:`qcchain_shim.server.serve`: gRPC's completion queue polled on the thread that
runs the transactions.

``grpc.aio`` hands every completed operation from a poller thread to the event loop through a socket pair:
per message an ``eventfd`` kick, the poller's wake-up and one-byte write, the loop's wake-up and read. Here
the serving thread itself polls the completion queue (``grpc._cython.cygrpc``, the layer grpc-python's own
synchronous server is built on) and handles each event inline: an operation that completes at once needs no
other thread, and a put transaction costs 40-50 % less CPU than on ``grpc.aio`` (``docs/RUNTIME.md``).

The protocol is the same :class:`~qcchain_shim.handler.Handler` per peer stream; its ``schedule`` callable
(the time slicer's way to resume a preempted transaction, :mod:`qcchain_shim.timeslice`) queues a callback
that runs in the next turn of the polling loop. Used by :func:`~qcchain_shim.server.serve` on the main
thread; :class:`~qcchain_shim.server.ChaincodeServer` (``grpc.aio``) stays the in-process server for
programs that already run an event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage
from google.protobuf.message import DecodeError
from grpc._cython import cygrpc

from .contract import Router
from .errors import ChaincodeProtocolError, ConfigError
from .handler import Handler

logger = logging.getLogger(__name__)

__all__ = ["CONNECT_METHOD", "CQServer"]

CONNECT_METHOD = b"/protos.Chaincode/Connect"
POLL_S = 0.2
"""Longest wait in the completion queue before the loop looks at its stop flag again."""
_NO_FLAGS = 0
_NEW_CALL = "new-call"
_SHUTDOWN = "shutdown"
_READ, _WRITE, _CLOSED, _STATUS, _REJECT = range(5)
_M = ChaincodeMessage


class _Stream:
    """One peer stream (a Connect call): reads one message at a time, writes one at a time in order."""

    def __init__(self, server: CQServer, call: Any) -> None:
        self._server, self._call = server, call
        self._pending: deque[ChaincodeMessage] = deque()
        self._writing = False
        self._metadata_sent = False
        self._ending = False  # the peer's side ended (or the stream failed): write what is queued, then status
        self._status_sent = False
        self.outstanding = 0  # operations started and not completed: the call lives until none is left
        self.handler = Handler(server.router, server.chaincode_id, self.send, server.call_soon)

    def _start(self, operations: tuple[Any, ...], kind: int) -> None:
        self._call.start_server_batch(operations, (self, kind))
        self.outstanding += 1

    def start(self) -> None:
        self._start((cygrpc.ReceiveCloseOnServerOperation(_NO_FLAGS),), _CLOSED)
        self.handler.start()
        self._start((cygrpc.ReceiveMessageOperation(_NO_FLAGS),), _READ)

    def send(self, msg: ChaincodeMessage) -> None:
        """Queue ``msg`` for the peer (the handler's ``send``)."""
        if self._status_sent:
            return
        self._pending.append(msg)
        if not self._writing:
            self._write()

    def _write(self) -> None:
        operation = cygrpc.SendMessageOperation(self._pending.popleft().SerializeToString(), _NO_FLAGS)
        if self._metadata_sent:
            self._start((operation,), _WRITE)
        else:
            self._metadata_sent = True
            self._start((cygrpc.SendInitialMetadataOperation((), _NO_FLAGS), operation), _WRITE)
        self._writing = True

    def on_event(self, kind: int, event: Any) -> None:
        self.outstanding -= 1
        if kind == _READ:
            self._on_read(event)
        elif kind == _WRITE:
            self._writing = False
            if not event.success:
                self._pending.clear()
                self._end()
            elif self._pending:
                self._write()
            elif self._ending:
                self._send_status()
        elif kind == _CLOSED:
            self._end()  # the call is over (finished or cancelled): nothing more will be read

    def _on_read(self, event: Any) -> None:
        data = event.batch_operations[0].message() if event.success else None
        if data is None:
            self._end()
            return
        try:
            msg = _M.FromString(data)
        except DecodeError:
            logger.warning("chaincode stream ended: undecodable message from the peer")
            self._end()
            return
        try:
            self.handler.handle(msg)
        except ChaincodeProtocolError as exc:
            logger.warning("chaincode stream ended: %s", exc)
            self._end()
            return
        if not self._ending:
            self._start((cygrpc.ReceiveMessageOperation(_NO_FLAGS),), _READ)

    def _end(self) -> None:
        if self._ending:
            return
        self._ending = True
        self.handler.close()  # fails the transactions still waiting for a reply
        if not self._writing:
            self._send_status()

    def _send_status(self) -> None:
        if self._status_sent:
            return
        self._status_sent = True
        self._pending.clear()
        status = cygrpc.SendStatusFromServerOperation(None, cygrpc.StatusCode.ok, b"", _NO_FLAGS)
        if self._metadata_sent:
            self._start((status,), _STATUS)
        else:
            self._metadata_sent = True
            self._start((cygrpc.SendInitialMetadataOperation((), _NO_FLAGS), status), _STATUS)
        logger.debug("chaincode stream closed")


class _Rejected:
    """A call for another method: answered UNIMPLEMENTED."""

    outstanding = 0

    def on_event(self, kind: int, event: Any) -> None:
        self.outstanding -= 1


class CQServer:
    """A chaincode server whose completion queue is polled by the thread that calls :meth:`run`.

    Raises (:meth:`start`):
        ConfigError: the address cannot be bound.
    """

    def __init__(self, router: Router, chaincode_id: str, address: str, options: Sequence[tuple[str, Any]],
                 credentials: grpc.ServerCredentials | None = None) -> None:
        self.router, self.chaincode_id, self.address = router, chaincode_id, address
        self._options, self._credentials = tuple(options), credentials
        self._ready: deque[Callable[[], None]] = deque()
        self._streams: set[Any] = set()
        self._stop = threading.Event()
        self._cq: Any = None
        self._server: Any = None
        self.port = 0

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` in the next turn of the polling loop (the handler's ``schedule``)."""
        self._ready.append(callback)

    def start(self) -> int:
        """Bind and start accepting calls; returns the bound port.

        Raises:
            ConfigError: the address cannot be bound (or the TLS material is invalid).
        """
        cq = cygrpc.CompletionQueue()
        server = cygrpc.Server(self._options, False)
        server.register_completion_queue(cq)
        try:
            if self._credentials is None:
                port = server.add_http2_port(self.address.encode())
            else:
                port = server.add_http2_port(self.address.encode(), self._credentials._credentials)
        except RuntimeError as exc:
            raise ConfigError(f"CHAINCODE_SERVER_ADDRESS: cannot listen on {self.address}: {exc}") from exc
        if not port:
            raise ConfigError(f"CHAINCODE_SERVER_ADDRESS: cannot listen on {self.address}")
        server.start()
        server.request_call(cq, cq, _NEW_CALL)
        self._cq, self._server, self.port = cq, server, port
        logger.info("chaincode server listening on port %d", port)
        return port

    def stop(self) -> None:
        """Ask :meth:`run` to stop (from a signal handler or another thread)."""
        self._stop.set()

    def run(self, grace: float = 2.0) -> None:
        """Serve until :meth:`stop`, then end the streams (cancelled after ``grace`` seconds) and return."""
        cq, server = self._cq, self._server
        if cq is None:
            raise RuntimeError("start() the server before run()")
        new_call_due, shutdown_due = True, False
        cancel_at = None
        while True:
            if self._stop.is_set() and not shutdown_due and cancel_at is None:
                server.shutdown(cq, _SHUTDOWN)
                shutdown_due, cancel_at = True, time.monotonic() + grace
            if cancel_at is not None and time.monotonic() >= cancel_at:
                server.cancel_all_calls()
                cancel_at = float("inf")
            if cancel_at is not None and not shutdown_due and not new_call_due and not self._streams:
                break
            # A deadline already past when work is ready: ``poll(time.time())`` rounds the deadline up to
            # gRPC's next millisecond tick and sleeps ~1 ms per turn (measured: 1.1 ms vs 1 us per empty poll),
            # which made every preempted transaction wait LOOP_TURNS ms per time slice.
            event = cq.poll(0 if self._ready else time.time() + POLL_S)
            if event.completion_type != cygrpc.CompletionType.queue_timeout:
                tag = event.tag
                if tag == _NEW_CALL:
                    new_call_due = False
                    if event.success:
                        self._accept(event)
                    if cancel_at is None:
                        server.request_call(cq, cq, _NEW_CALL)
                        new_call_due = True
                elif tag == _SHUTDOWN:
                    shutdown_due = False
                else:
                    stream, kind = tag
                    stream.on_event(kind, event)
                    if stream.outstanding == 0:
                        self._streams.discard(stream)
            for _ in range(len(self._ready)):  # one turn: what was ready when it began
                self._ready.popleft()()
        server.destroy()
        self._cq = self._server = None

    def _accept(self, event: Any) -> None:
        if event.call_details.method != CONNECT_METHOD:
            rejected = _Rejected()
            event.call.start_server_batch((
                cygrpc.SendInitialMetadataOperation((), _NO_FLAGS),
                cygrpc.ReceiveCloseOnServerOperation(_NO_FLAGS),
                cygrpc.SendStatusFromServerOperation(None, cygrpc.StatusCode.unimplemented, b"Method not found!",
                                                     _NO_FLAGS),
            ), (rejected, _REJECT))
            rejected.outstanding = 1
            self._streams.add(rejected)
            return
        stream = _Stream(self, event.call)
        self._streams.add(stream)
        stream.start()
