"""Chaincode-as-a-service: a gRPC server implementing ``protos.Chaincode/Connect``.

The peer dials this server and opens the Connect stream; the chaincode sends REGISTER on it, then
the protocol proceeds as in :mod:`qcchain_shim.handler` (fabric-chaincode-go ``ChaincodeServer``).

Environment (as the Fabric CCaaS builders pass it): ``CHAINCODE_ID`` (package id),
``CHAINCODE_SERVER_ADDRESS`` (host:port), optional ``CHAINCODE_TLS_KEY_FILE`` +
``CHAINCODE_TLS_CERT_FILE`` (PEM; both or neither) and ``CHAINCODE_TLS_CLIENT_CA_FILE`` (enables
mutual TLS).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from fabric_protos.peer import chaincode_shim_pb2_grpc
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage
from qcchain_core.grpcenv import quiet_gc

from . import timeslice, workers
from .contract import Contract, Router
from .cqserver import CQServer
from .errors import ChaincodeProtocolError, ConfigError
from .handler import Handler

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 100 * 1024 * 1024  # the peer's own limit


@dataclass(frozen=True)
class KeepalivePolicy:
    """Server keepalive settings. Defaults accept the peer's 60 s pings (Go: Time 1 min, Timeout 20 s)."""

    time_ms: int = 60_000
    timeout_ms: int = 20_000
    min_ping_interval_ms: int = 10_000  # well below the peer's 60 s
    permit_without_calls: bool = True
    max_ping_strikes: int = 2  # gRPC's default: pings closer than min_ping_interval_ms are bad


@dataclass(frozen=True)
class TLSConfig:
    """PEM material for the server; ``client_ca`` enables mutual TLS."""

    key: bytes
    cert: bytes
    client_ca: bytes | None = None


@dataclass(frozen=True)
class ServerConfig:
    """What :func:`serve` needs; built from the environment by :func:`config_from_env`."""

    chaincode_id: str
    address: str
    tls: TLSConfig | None = None
    #: server processes on ``address`` (``CHAINCODE_WORKERS``; :mod:`qcchain_shim.workers`)
    workers: int = 1
    #: this process is one of several workers: listen with SO_REUSEPORT
    reuse_port: bool = False


def server_options(policy: KeepalivePolicy = KeepalivePolicy(), reuse_port: bool = False) -> list[tuple[str, Any]]:
    """gRPC server options: keepalive enforcement that accepts the peer's pings, message sizes, and
    ``SO_REUSEPORT`` for one of several worker processes on one address."""
    return [*([("grpc.so_reuseport", 1)] if reuse_port else []),
        ("grpc.keepalive_time_ms", policy.time_ms),
        ("grpc.keepalive_timeout_ms", policy.timeout_ms),
        ("grpc.keepalive_permit_without_calls", 1 if policy.permit_without_calls else 0),
        ("grpc.http2.min_ping_interval_without_data_ms", policy.min_ping_interval_ms),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", policy.min_ping_interval_ms),
        ("grpc.http2.max_ping_strikes", policy.max_ping_strikes),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]


def _read(env: Mapping[str, str], name: str) -> bytes | None:
    path = env.get(name, "")
    if not path:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from exc


def config_from_env(env: Mapping[str, str] | None = None) -> ServerConfig:
    """Read the CCaaS configuration from environment variables.

    Raises:
        ConfigError: a required variable is missing or a TLS file cannot be read or is incomplete;
            the message names the variable.
    """
    env = os.environ if env is None else env
    ccid = env.get("CHAINCODE_ID", "")
    address = env.get("CHAINCODE_SERVER_ADDRESS", "")
    if not ccid:
        raise ConfigError("CHAINCODE_ID must be set (the chaincode package id)")
    if not address or ":" not in address:
        raise ConfigError("CHAINCODE_SERVER_ADDRESS must be set as host:port")
    key, cert = _read(env, "CHAINCODE_TLS_KEY_FILE"), _read(env, "CHAINCODE_TLS_CERT_FILE")
    client_ca = _read(env, "CHAINCODE_TLS_CLIENT_CA_FILE")
    if (key is None) != (cert is None):
        missing = "CHAINCODE_TLS_CERT_FILE" if cert is None else "CHAINCODE_TLS_KEY_FILE"
        raise ConfigError(f"{missing} must be set when TLS is enabled (key and cert go together)")
    if client_ca is not None and key is None:
        raise ConfigError("CHAINCODE_TLS_CLIENT_CA_FILE needs CHAINCODE_TLS_KEY_FILE and CHAINCODE_TLS_CERT_FILE")
    tls = TLSConfig(key, cert, client_ca) if key is not None and cert is not None else None
    count = workers.worker_count(env)
    is_worker = workers.worker_index(env) is not None
    if count > 1 and address.rpartition(":")[2] == "0":
        raise ConfigError(f"{workers.WORKERS_ENV}={count} needs a fixed port in CHAINCODE_SERVER_ADDRESS, not :0")
    return ServerConfig(ccid, address, tls, 1 if is_worker else count, reuse_port=is_worker)


class _Servicer(chaincode_shim_pb2_grpc.ChaincodeServicer):
    def __init__(self, router: Router, chaincode_id: str) -> None:
        self._router = router
        self._chaincode_id = chaincode_id

    async def Connect(self, request_iterator: Any, context: grpc.aio.ServicerContext) -> None:  # noqa: N802
        loop = asyncio.get_running_loop()
        writer = _Writer(context, loop)
        handler = Handler(self._router, self._chaincode_id, writer.send, loop.call_soon)
        writing = asyncio.create_task(writer.run())
        handler.start()
        read, eof, handle = context.read, grpc.aio.EOF, handler.handle  # the per-message loop: no lookups
        try:
            while True:  # context.read() rather than the request iterator: one coroutine less per message
                msg = await read()
                if msg is eof:
                    break
                handle(msg)
        except ChaincodeProtocolError as exc:
            logger.warning("chaincode stream ended: %s", exc)
        finally:
            handler.close()
            writer.close()
            await writing
        logger.debug("chaincode stream closed")


class _Writer:
    """The stream's single writer: messages go out in the order :meth:`send` got them, one write at a
    time (gRPC allows one outstanding write per stream). A deque and one wake-up future while idle: no
    queue machinery per message."""

    def __init__(self, context: grpc.aio.ServicerContext, loop: asyncio.AbstractEventLoop) -> None:
        self._context, self._loop = context, loop
        self._pending: deque[ChaincodeMessage] = deque()
        self._wake: asyncio.Future[None] | None = None
        self._closed = False

    def send(self, msg: ChaincodeMessage) -> None:
        """Queue ``msg`` for writing (on the event loop's thread)."""
        self._pending.append(msg)
        if self._wake is not None:
            self._wake_up()

    def close(self) -> None:
        """Write what is queued, then stop."""
        self._closed = True
        self._wake_up()

    def _wake_up(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.set_result(None)

    async def run(self) -> None:
        pending, write = self._pending, self._context.write
        while True:
            while pending:
                try:
                    await write(pending.popleft())
                except Exception as exc:  # noqa: BLE001 - a dead stream: stop writing, the reader ends too
                    logger.debug("write to the peer stream failed: %s", type(exc).__name__)
                    return
            if self._closed:
                return
            self._wake = self._loop.create_future()
            await self._wake


class ChaincodeServer:
    """The gRPC server for a set of contracts (asyncio)."""

    def __init__(
        self,
        contracts: Router | Sequence[Contract | type[Contract]],
        chaincode_id: str,
        address: str,
        tls: TLSConfig | None = None,
        keepalive: KeepalivePolicy = KeepalivePolicy(),
        reuse_port: bool = False,
    ) -> None:
        self.router = contracts if isinstance(contracts, Router) else Router(contracts)
        self.chaincode_id, self.address, self.tls, self.keepalive = chaincode_id, address, tls, keepalive
        self.reuse_port = reuse_port
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        """Bind and start serving; returns the bound port.

        Raises:
            ConfigError: the address cannot be bound or the TLS material is invalid.
        """
        server = grpc.aio.server(options=server_options(self.keepalive, self.reuse_port))
        chaincode_shim_pb2_grpc.add_ChaincodeServicer_to_server(_Servicer(self.router, self.chaincode_id), server)
        try:
            if self.tls is None:
                self.port = server.add_insecure_port(self.address)
            else:
                creds = grpc.ssl_server_credentials(
                    [(self.tls.key, self.tls.cert)],
                    root_certificates=self.tls.client_ca,
                    require_client_auth=self.tls.client_ca is not None,
                )
                self.port = server.add_secure_port(self.address, creds)
        except RuntimeError as exc:
            raise ConfigError(f"CHAINCODE_SERVER_ADDRESS: cannot listen on {self.address}: {exc}") from exc
        if not self.port:
            raise ConfigError(f"CHAINCODE_SERVER_ADDRESS: cannot listen on {self.address}")
        await server.start()
        self._server = server
        logger.info("chaincode server listening on port %d", self.port)
        return self.port

    async def stop(self, grace: float | None = 2.0) -> None:
        """Stop serving, letting streams finish for ``grace`` seconds."""
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    async def wait(self) -> None:
        """Block until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()


def _credentials(tls: TLSConfig | None) -> grpc.ServerCredentials | None:
    if tls is None:
        return None
    return grpc.ssl_server_credentials([(tls.key, tls.cert)], root_certificates=tls.client_ca,
                                       require_client_auth=tls.client_ca is not None)


def _serve_until_signal(server: ChaincodeServer) -> None:
    """Serve ``server``'s contracts on a :class:`~qcchain_shim.cqserver.CQServer` polled by this (the main)
    thread until SIGTERM or SIGINT.

    Raises:
        ConfigError: the address cannot be bound or the TLS material is invalid.
    """
    options = server_options(server.keepalive, server.reuse_port)
    try:
        credentials = _credentials(server.tls)
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"CHAINCODE_TLS_*: invalid TLS material: {exc}") from exc
    cq_server = CQServer(server.router, server.chaincode_id, server.address, options, credentials)
    server.port = cq_server.start()

    def stop(_signum: int, _frame: object) -> None:
        logger.info("signal received, stopping the chaincode server")
        cq_server.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        cq_server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.debug("chaincode server stopped")


def serve(
    contracts: Router | Sequence[Contract | type[Contract]],
    config: ServerConfig | None = None,
    keepalive: KeepalivePolicy = KeepalivePolicy(),
    *,
    time_slice: float = timeslice.DEFAULT_SLICE_S,
    tune_gc: bool = True,
) -> None:
    """Serve ``contracts`` until SIGTERM/SIGINT (config from the environment unless given), as the Go
    shim's ``ChaincodeServer.Start``: a gRPC server the peer dials; each peer stream gets its own
    :class:`~qcchain_shim.handler.Handler`. This thread polls gRPC's completion queue and runs the
    transactions (:class:`~qcchain_shim.cqserver.CQServer`: no event loop, no poller thread).

    This is a program's serving loop, so it applies the process settings: the garbage collector's
    (:func:`qcchain_core.grpcenv.quiet_gc`, unless ``tune_gc`` is False) and, on the main thread,
    transaction time slicing every ``time_slice`` seconds of CPU (0: off; :mod:`qcchain_shim.timeslice`).
    With ``workers`` > 1 in the configuration (``CHAINCODE_WORKERS``) it serves nothing itself: it runs
    that many copies of this program on the same address and supervises them (:mod:`qcchain_shim.workers`).
    (:func:`qcchain_shim.serve` also applies the gRPC settings before importing ``grpc``.)

    Raises:
        ConfigError: configuration missing or invalid (names the variable), or the address cannot be bound.
        InvalidArgumentError: a contract is not usable (e.g. two contracts with one name).
        ValueError: ``time_slice`` is negative.
    """
    cfg = config or config_from_env()
    server = ChaincodeServer(contracts, cfg.chaincode_id, cfg.address, cfg.tls, keepalive, cfg.reuse_port)
    if cfg.workers > 1:  # this process only supervises copies of the program that serve
        workers.run_workers(cfg.workers)
        return
    if tune_gc:
        quiet_gc()
    slicing = timeslice.enable(time_slice)
    try:
        _serve_until_signal(server)
    finally:
        if slicing:
            timeslice.disable()
