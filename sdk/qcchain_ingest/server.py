"""Running the service: connect to the chain as the ingesting org, open the state database, serve HTTPS.

:func:`build_service` is what entry points (``qcchain ingest serve``, tests, the benchmark) call; they pass
every setting (no environment or file is read here beyond the paths given).
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from qcchain_core.gm import SM2PrivateKey

from .anchor import MAX_ENDORSING, ChainLink
from .app import MAX_BODY, create_app
from .blobs import BlobStore
from .db import open_engine
from .service import IngestService
from .tlsfiles import self_signed

log = logging.getLogger(__name__)

__all__ = ["ServeOptions", "build_service", "serve", "serving_in_thread"]


@dataclass
class ServeOptions:
    """Settings of one server process."""

    state_dir: Path
    db_url: str
    host: str = "127.0.0.1"
    port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    max_body: int = MAX_BODY
    log_level: str = "warning"


def build_service(network: Any, msp_id: str, key: SM2PrivateKey, db_url: str, chaincode: str = "qcchain",
                  blob_dir: Path | None = None, max_endorsing: int = MAX_ENDORSING) -> IngestService:
    """The service over a Gateway ``Network`` of the ingesting org (M-field files in ``blob_dir``).

    Raises StateError: database unusable."""
    return IngestService(open_engine(db_url), ChainLink(network, msp_id, chaincode, max_endorsing), key, time.time,
                         blobs=BlobStore(blob_dir) if blob_dir is not None else None)


def _config(service: IngestService, options: ServeOptions) -> Any:
    import uvicorn

    cert, key = options.tls_cert, options.tls_key
    if not options.insecure_http and (cert is None or key is None):
        cert, key = self_signed(options.state_dir, options.host)
    return uvicorn.Config(create_app(service, options.max_body), host=options.host, port=options.port,
                          ssl_certfile=None if options.insecure_http else str(cert),
                          ssl_keyfile=None if options.insecure_http else str(key),
                          log_level=options.log_level, access_log=False, http="httptools", loop="uvloop",
                          lifespan="off", server_header=False)


def serve(service: IngestService, options: ServeOptions, ready: Any = None) -> None:
    """Serve until interrupted (uvicorn; HTTPS unless ``insecure_http``). ``ready(port)`` is called once
    listening. Raises OSError: the port is taken or the TLS files are unreadable."""
    import asyncio

    import uvicorn

    server = uvicorn.Server(_config(service, options))

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                await task
                return
            await asyncio.sleep(0.05)
        if ready is not None:
            sockets = [s for srv in server.servers for s in srv.sockets]
            ready(sockets[0].getsockname()[1] if sockets else options.port)
        await task

    asyncio.run(main())


@contextmanager
def serving_in_thread(service: IngestService, options: ServeOptions, timeout: float = 30.0) -> Iterator[tuple[str, str]]:
    """Serve from a background thread of this process (the demo, tests); yields ``(base URL, TLS certificate
    path or "")`` once listening and stops the server on exit.

    Raises:
        OSError: the server did not start within ``timeout`` seconds.
    """
    import uvicorn

    server = uvicorn.Server(_config(service, options))
    thread = threading.Thread(target=server.run, name="qcchain-ingest-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise OSError(f"the ingestion server did not start on {options.host}:{options.port}")
        time.sleep(0.02)
    port = [s for srv in server.servers for s in srv.sockets][0].getsockname()[1]
    scheme = "http" if options.insecure_http else "https"
    cert = "" if options.insecure_http else str(options.tls_cert or options.state_dir / "tls-cert.pem")
    try:
        yield f"{scheme}://{options.host}:{port}", cert
    finally:
        server.should_exit = True
        thread.join(timeout)
