"""Running the console: open the state directory (database, session secret, keystore, TLS), connect to the
chain, serve HTTPS with uvicorn."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from .app import build_app
from .certscan import scan_crypto_dir
from .chain import ChainSettings, OrgChain, secret_file
from .errors import ConfigError
from .ingestadmin import IngestAdmin
from .pages import ingestion
from .store import Store
from .tlscert import ensure_self_signed
from .web import Console

log = logging.getLogger(__name__)

__all__ = ["ServeSettings", "open_state", "open_console", "serve"]


@dataclass(frozen=True)
class ServeSettings:
    state: Path
    profile: Path
    user: str = "Admin"
    channel: str = "qcchannel"
    host: str = "127.0.0.1"
    port: int = 8443
    cert: Path | None = None
    key: Path | None = None
    ingest_url: str | None = None  # the ingestion server (its admin API) of this org, https://host:port
    ingest_key_file: Path | None = None  # the admin API key (qcchain ingest admin-key issue)
    ingest_ca: Path | None = None  # CA (or self-signed certificate) of the ingestion server's TLS
    crypto_dir: Path | None = None  # a crypto-config directory: the consortium's certificates on the Overview
    insecure_http: bool = False  # tests of the app object only; the CLI always serves HTTPS


def open_state(state: Path) -> Store:
    """Create (mode 0700) or open the state directory; returns its database.

    Raises:
        ConfigError: the directory cannot be created or used.
    """
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(state, 0o700)
        return Store(state / "console.db")
    except OSError as exc:
        raise ConfigError(f"console state directory {state}: {exc.strerror}") from exc


def _warm(console: Console) -> None:
    """Check the newest ingested batches on chain and verify the default report's events once at start-up
    (their first requests are then served from the caches)."""
    try:
        ingestion.warm(console)
    except Exception as exc:  # noqa: BLE001 - the page checks on demand instead; logged without payloads
        log.warning("ingestion batch check warm-up stopped: %s", type(exc).__name__)
    try:
        done = console.verifier.warm(console.chain.default)
        log.info("audit cache warm: %d items verified", done.items)
    except Exception as exc:  # noqa: BLE001 - the pages verify on demand instead; logged without payloads
        log.warning("audit cache warm-up stopped: %s", type(exc).__name__)


def open_console(settings: ServeSettings) -> tuple[Starlette, Console]:
    """The app and its context (the chain connection is open; close ``console.chain`` when done).

    Raises:
        ConfigError: state directory, connection profile, identity or ingestion admin settings unusable.
    """
    store = open_state(settings.state)
    chain = OrgChain(ChainSettings(settings.profile, settings.state, settings.user, settings.channel))
    try:
        ingest = None
        if settings.ingest_url or settings.ingest_key_file:
            if not (settings.ingest_url and settings.ingest_key_file):
                raise ConfigError("--ingest-url and --ingest-key-file go together")
            ingest = IngestAdmin(settings.ingest_url, settings.ingest_key_file, settings.ingest_ca)
        chain.ensure_key_registered()
        console = Console(chain, store, settings.state, ingest)
        if settings.crypto_dir is not None:
            console.certs = scan_crypto_dir(settings.crypto_dir)
        console.blocks.start()
        threading.Thread(target=_warm, args=(console,), name="console-audit-warm", daemon=True).start()
        secret = secret_file(settings.state / "session.key").decode("ascii")
    except Exception:
        chain.close()
        raise
    return build_app(console, secret, https=not settings.insecure_http), console


def serve(settings: ServeSettings) -> None:
    """Serve until interrupted (HTTPS; a self-signed certificate in the state directory when none is given).

    Raises:
        ConfigError: see :func:`open_console`; a certificate without its key.
    """
    if (settings.cert is None) != (settings.key is None):
        raise ConfigError("--cert and --key go together")
    app, console = open_console(settings)
    cert, key = (settings.cert, settings.key) if settings.cert else ensure_self_signed(settings.state, settings.host)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, ssl_certfile=str(cert), ssl_keyfile=str(key),
                    log_level="info", access_log=True, server_header=False, proxy_headers=False)
    finally:
        console.blocks.stop()
        console.verifier.close()
        console.chain.close()
        if console.ingest is not None:
            console.ingest.close()
