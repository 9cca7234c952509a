"""The service's own state in SQLAlchemy: SQLite by default, PostgreSQL for several replicas.

Tables: ``credentials`` (appid -> using unit, salted scrypt hashes, status, lock-out counters),
``token_keys`` (HMAC keys of access tokens, shared by replicas), ``batches`` (batch index + outbox:
content digest, canonical records, status ``anchoring`` | ``anchored``, the signed receipt),
``record_index`` (record ID -> latest batch and leaf, for inclusion proofs), ``media_grants`` (M-field
grants used), ``refusals`` (batches answered ``rescode "0"``: appid, batchNo, txcode, time, message and
the violations' paths and reasons — never a submitted value) and ``admin_keys`` (SHA-256 of the admin API
keys, :mod:`.adminapi`). The chain stays the source of truth: this state only says what was received and
where it was anchored.
"""

from __future__ import annotations

import logging

from sqlalchemy import (BigInteger, Column, Index, Integer, MetaData, String, Table, Text, create_engine, event)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .errors import StateError

log = logging.getLogger(__name__)

__all__ = ["metadata", "credentials", "token_keys", "batches", "record_index", "media_grants", "refusals", "admin_keys",
           "open_engine", "sqlite_url"]

metadata = MetaData()

credentials = Table(
    "credentials", metadata,
    Column("appid", String(40), primary_key=True),
    Column("org_no", String(18), nullable=False),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(200), nullable=False),
    Column("prev_hash", String(200), nullable=False, default=""),
    Column("prev_until", BigInteger, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("generation", Integer, nullable=False, default=1),
    Column("created_at", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("window_start", BigInteger, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("locked_until", BigInteger, nullable=False, default=0),
)

token_keys = Table(
    "token_keys", metadata,
    Column("kid", String(16), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

batches = Table(
    "batches", metadata,
    Column("appid", String(40), primary_key=True),
    Column("batch_no", String(16), primary_key=True),
    Column("org_no", String(18), nullable=False),
    Column("content_digest", String(64), nullable=False),
    Column("txcode", String(2), nullable=False),
    Column("bus_type", String(1), nullable=False),
    Column("count", Integer, nullable=False),
    Column("merkle_root", String(64), nullable=False),
    Column("leaves", Text, nullable=False),  # JSON list of the records' canonical texts (the outbox)
    Column("status", String(16), nullable=False),
    Column("receipt", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

record_index = Table(
    "record_index", metadata,
    Column("record_id", String(64), primary_key=True),
    Column("appid", String(40), nullable=False),
    Column("batch_no", String(16), nullable=False),
    Column("leaf_index", Integer, nullable=False),
)

media_grants = Table(  # M-field files served: each on-chain grant (tx id) is used once
    "media_grants", metadata,
    Column("grant", String(64), primary_key=True),
    Column("sm3", String(64), nullable=False),
    Column("used_at", BigInteger, nullable=False),
)

refusals = Table(  # refused syndata batches of authenticated appids (:mod:`.refusals`); no submitted values
    "refusals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("appid", String(40), nullable=False),
    Column("batch_no", String(16), nullable=False),  # "" when the request had no well-formed batchNo
    Column("txcode", String(2), nullable=False),  # "" when the request had no valid txcode
    Column("at", BigInteger, nullable=False),
    Column("msg", String(400), nullable=False),
    Column("violations", Text, nullable=False),  # JSON list of {index, field, reason}
    Index("ix_refusals_appid_at", "appid", "at"),
)

admin_keys = Table(  # keys of the admin API (:mod:`.adminapi`): only their SHA-256 is kept
    "admin_keys", metadata,
    Column("key_id", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=False, default=0),
)


def sqlite_url(path: str) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def _normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_engine(url: str) -> Engine:
    """Connect and create the tables if needed (``postgresql://`` uses psycopg 3).

    Raises:
        StateError: the database cannot be reached or the tables cannot be created.
    """
    url = _normalise(url)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
        else:
            engine = create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
        metadata.create_all(engine)
    except SQLAlchemyError as exc:
        raise StateError(f"the ingestion database is unusable: {type(exc).__name__}") from exc
    return engine
