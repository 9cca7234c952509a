"""A read-only look into the ingestion service's database (any SQLAlchemy URL), when configured.

The console does not depend on the ingestion service's code: it reflects the tables it finds, counts
their rows, shows the newest rows, and hides every column whose name suggests a secret or a person.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from .errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["IngestView", "TableView", "HIDDEN_COLUMN"]

HIDDEN_COLUMN = re.compile(r"secret|password|passwd|token|hash|salt|key|cred|phone|tel|idcard|id_card|mobile", re.I)
_TIME_COLUMN = re.compile(r"(^|_)(at|time|created|received|ts)($|_)", re.I)


@dataclass
class TableView:
    name: str
    rows: int
    columns: list[str]
    newest: list[list[Any]]
    last_24h: int | None


class IngestView:
    """Tables of the ingestion database. Raises ConfigError when the URL cannot be opened."""

    def __init__(self, url: str) -> None:
        try:
            self.engine = create_engine(url, future=True)
            with self.engine.connect():
                pass
        except (SQLAlchemyError, ValueError) as exc:
            raise ConfigError(f"ingestion database: {type(exc).__name__}") from exc
        self.url_shown = self.engine.url.render_as_string(hide_password=True)

    def tables(self, now: int, newest: int = 20) -> list[TableView]:
        """Every table: row count, rows in the last 24 h (if it has a numeric time column), newest rows."""
        meta = MetaData()
        out = []
        try:
            meta.reflect(self.engine)
            with self.engine.connect() as conn:
                for table in meta.sorted_tables:
                    shown = [c for c in table.columns if not HIDDEN_COLUMN.search(c.name)]
                    count = conn.execute(select(func.count()).select_from(table)).scalar_one()
                    order = list(table.primary_key.columns) or shown[:1]
                    rows = conn.execute(select(*shown).order_by(*[c.desc() for c in order]).limit(newest)).all()
                    recent = None
                    time_cols = [c for c in table.columns if _TIME_COLUMN.search(c.name)]
                    if time_cols:
                        try:
                            recent = conn.execute(select(func.count()).select_from(table)
                                                  .where(time_cols[0] >= now - 86400)).scalar_one()
                        except SQLAlchemyError:
                            recent = None
                    out.append(TableView(table.name, int(count), [c.name for c in shown],
                                         [[str(v)[:80] for v in row] for row in rows], recent))
        except SQLAlchemyError as exc:
            raise ConfigError(f"ingestion database: {type(exc).__name__}") from exc
        return out
