"""Assembling an :class:`Agent` from a mapping: secrets, source, state, client and receipt key.

Entry points pass ``os.environ``; tests may pass a fake :class:`Transport` (the HTTP boundary).
"""

from __future__ import annotations

import time
from typing import Callable, Mapping as TMapping

from .agent import Agent
from .client import HttpTransport, IngestClient, Transport
from .errors import MappingError
from .mapping import Mapping
from .receipts import load_receipt_key
from .secrets import read_secret
from .source import Source
from .state import Store

__all__ = ["open_agent"]


def open_agent(mapping: Mapping, environ: TMapping[str, str], *, transport: Transport | None = None,
               send: bool = True, now: Callable[[], float] = time.time,
               sleep: Callable[[float], None] = time.sleep) -> Agent:
    """An agent for ``mapping`` holding its state directory (call ``agent.store.close()`` when done).

    ``send=False`` builds a scan-only agent (no secret or receipt key needed).

    Raises:
        SecretError: a secret is not available. MappingError: ``server.receipt_key`` missing when sending.
        ReceiptError: the receipt key is unreadable. SourceError: the source driver is missing.
        StateError: the state directory is unusable or in use.
    """
    password = read_secret("source password", mapping.source.password_env, mapping.source.password_file, environ)
    client = key = None
    if send:
        server = mapping.server
        if server.receipt_key is None:
            raise MappingError(["server.receipt_key: required to verify receipts (the ingesting org's SM2 public key)"])
        key = load_receipt_key(server.receipt_key)
        secret = read_secret("server secret", server.secret_env, server.secret_file, environ)
        if secret is None:
            raise MappingError(["server: give exactly one of secret_env or secret_file"])
        transport = transport or HttpTransport(server.url, server.timeout, server.ca_file)
        client = IngestClient(transport, server.appid, secret, retries=server.retries, backoff=server.backoff,
                              backoff_max=server.backoff_max, sleep=sleep)
    source = Source(mapping.source, password)
    store = Store(mapping.state_dir)
    return Agent(mapping, store, source, client, key, now=now)
