"""State-database URLs for the ingest tests: a SQLite file, and a fresh PostgreSQL database per test on the
server at 127.0.0.1:5432 (trust auth, user postgres) — skipped, naming the service, when unreachable."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator

import pytest

PG = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{db}"


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(PG, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (user postgres, db test) is not reachable: {str(exc).strip()[:120]}")


def state_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """Yield a fresh state-database URL of ``kind`` ("sqlite" or "postgresql"); drop it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'ingest.db'}"
        return
    admin = _pg_admin()
    name = "qcchain_ingest_" + secrets.token_hex(6)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(db=name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
