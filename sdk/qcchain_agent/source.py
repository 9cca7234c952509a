"""The using unit's source database, read through SQLAlchemy (SQLite, PostgreSQL, MySQL/MariaDB...).

Only SELECTs are issued: a mapped ``table`` is read as ``SELECT <mapped columns> FROM table``, a mapped
``query`` is run as written. Rows are streamed in chunks of ``fetch_size`` (server-side cursors where the
driver has them). Errors name the txcode, table or column and never the password.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from .errors import SourceError
from .mapping import SourceConfig, TxMapping

log = logging.getLogger(__name__)

__all__ = ["Source"]


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return f"{orig.__class__.__name__}: {text[0] if text else ''}".rstrip(": ")


class Source:
    """Read-only access to the source database of a mapping.

    Raises (constructor):
        SourceError: the URL names a driver that is not installed.
    """

    def __init__(self, config: SourceConfig, password: str | None = None, engine: Engine | None = None) -> None:
        url = make_url(config.url)
        if password is not None:
            url = url.set(password=password)
        self.display = url.render_as_string(hide_password=True)
        self.fetch_size = config.fetch_size
        try:
            self.engine = engine or sa.create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise SourceError(f"source {self.display}: {_first_line(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()

    def _statement(self, txmap: TxMapping) -> Any:
        if txmap.query is not None:
            return sa.text(txmap.query)
        schema, _, name = (txmap.table or "").rpartition(".")
        table = sa.table(name, *[sa.column(c) for c in txmap.columns], schema=schema or None)
        return sa.select(*table.c)

    def chunks(self, txmap: TxMapping) -> Iterator[list[Mapping[str, Any]]]:
        """The rows of ``txmap`` as dicts, in chunks of ``fetch_size``.

        Raises:
            SourceError: the database cannot be reached or the table/query/columns are wrong.
        """
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=self.fetch_size).execute(
                    self._statement(txmap))
                missing = [c for c in txmap.columns if c not in result.keys()]
                if missing:
                    raise SourceError(f"txcodes.{txmap.txcode}: the query returns no column {', '.join(missing)}")
                for part in result.mappings().partitions(self.fetch_size):
                    yield [dict(r) for r in part]
        except SQLAlchemyError as exc:
            where = f"table {txmap.table}" if txmap.table else "query"
            raise SourceError(f"txcodes.{txmap.txcode} ({where}) on {self.display}: {_first_line(exc)}") from None

    def check(self, txmap: TxMapping) -> list[str]:
        """Problems reading ``txmap`` (unreachable database, unknown table, missing columns), one line each."""
        where = f"txcodes.{txmap.txcode}"
        try:
            with self.engine.connect() as conn:
                if txmap.table is not None:
                    schema, _, name = txmap.table.rpartition(".")
                    inspector = sa.inspect(conn)
                    if not inspector.has_table(name, schema=schema or None):
                        return [f"{where}.table: no table {txmap.table} in {self.display}"]
                    have = {c["name"] for c in inspector.get_columns(name, schema=schema or None)}
                    keys = list(have)
                else:
                    result = conn.execute(sa.text(f"SELECT * FROM ({txmap.query}) q WHERE 1=0"))
                    keys = list(result.keys())
        except SQLAlchemyError as exc:
            part = "table" if txmap.table else "query"
            return [f"{where}.{part}: {_first_line(exc)} ({self.display})"]
        problems = [f"{where}.id: no column {c} in the source" for c in txmap.id_columns if c not in keys]
        problems += [f"{where}.fields.{f.name}.column: no column {f.column} in the source"
                     for f in txmap.fields if f.column is not None and f.column not in keys]
        return problems

    def ping(self) -> None:
        """Raises SourceError: the database cannot be reached (message without the password)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise SourceError(f"cannot reach source {self.display}: {_first_line(exc)}") from None
