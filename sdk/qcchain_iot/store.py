"""The off-chain time-series store (SQLAlchemy Core): SQLite by default, PostgreSQL when configured.

Tables: ``readings`` (one row per accepted reading, primary key ``(device_id, seq)`` so a redelivered
message is recognised), ``windows`` (one sealed Merkle window: its readings, SM3 root, anchoring status),
``alerts`` (the warnings outbox: detected -> committed on chain), ``episodes`` (the open warning per
device, rule and quantity — what makes a condition raise ONE warning however often it is seen again),
``devices_seen`` (last reading per device, for the offline heartbeat).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import (BigInteger, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text,
                        create_engine, event, text)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .errors import StoreError

log = logging.getLogger(__name__)

__all__ = ["metadata", "readings", "windows", "alerts", "episodes", "devices_seen", "open_store", "sqlite_url"]

metadata = MetaData()

readings = Table(
    "iot_readings", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("org", String(64), nullable=False),
    Column("ts_ms", BigInteger, nullable=False),
    Column("quantity", String(32), nullable=False),
    Column("value", Float, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("received_ms", BigInteger, nullable=False),
    Column("window_id", BigInteger, nullable=True),        # set when sealed into a window
    Index("ix_iot_readings_unsealed", "window_id", "ts_ms"),
    Index("ix_iot_readings_device_ts", "device_id", "ts_ms"),
)

windows = Table(
    "iot_windows", metadata,
    Column("window_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("org", String(64), nullable=False),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
    Column("root", String(64), nullable=False),
    Column("status", String(16), nullable=False),          # sealed | anchored
    Column("tx_id", String(128), nullable=False, default=""),
    Column("sealed_ms", BigInteger, nullable=False),
    Index("ix_iot_windows_status", "status"),
)

alerts = Table(
    "iot_alerts", metadata,
    Column("warning_id", String(64), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("org", String(64), nullable=False),
    Column("rule", String(16), nullable=False),            # band | rate | anomaly | predict | offline
    Column("quantity", String(32), nullable=False),
    Column("colour", String(8), nullable=False),
    Column("reading_seq", BigInteger, nullable=False),
    Column("reading_ts_ms", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),                # canonical JSON: value, limit, eta...
    Column("created_ms", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),          # pending | committed
    Column("committed_ms", BigInteger, nullable=False, default=0),
    Index("ix_iot_alerts_status", "status"),
)

episodes = Table(
    "iot_episodes", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("rule", String(16), primary_key=True),
    Column("quantity", String(32), primary_key=True),
    Column("colour", String(8), nullable=False),
    Column("warning_id", String(64), nullable=False),
    Column("clear_count", Integer, nullable=False, default=0),
    Column("open", Boolean, nullable=False),
)

devices_seen = Table(
    "iot_devices_seen", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("org", String(64), nullable=False),
    Column("last_ts_ms", BigInteger, nullable=False),
    Column("last_received_ms", BigInteger, nullable=False),
)

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def sqlite_url(path: str) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def _normalise(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def open_store(url: str, schema: str | None = None) -> Engine:
    """Connect and create the tables if needed. ``schema`` (PostgreSQL only) is created and used.

    Raises:
        StoreError: bad schema name, or the database cannot be reached or the tables created.
    """
    url = _normalise(url)
    if schema is not None and not _SCHEMA_RE.match(schema):
        raise StoreError("schema must match [a-z_][a-z0-9_]{0,62}")
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

            @event.listens_for(engine, "connect")
            def _pragmas(conn: Any, _record: Any) -> None:
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")     # a commit is on disk before its readings are acknowledged
                cur.close()
        else:
            engine = create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)
            if schema:
                with engine.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

                @event.listens_for(engine, "connect")
                def _search_path(conn: Any, _record: Any) -> None:
                    cur = conn.cursor()
                    cur.execute(f'SET search_path TO "{schema}"')
                    cur.close()
                    conn.commit()
                engine.dispose()
        metadata.create_all(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"the telemetry database is unusable: {type(exc).__name__}") from exc
    return engine
