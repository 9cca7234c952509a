"""``agent init``: a commented mapping skeleton for a source database, from what SQLAlchemy sees in it.

Each table becomes a commented-out candidate txcode block: its primary key as ``id`` and, for every D-A
field of the txcode whose name looks like a column, that column (else ``column: TODO``). The file is meant
to be edited and checked with ``agent check``; it never holds a secret.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from .errors import SourceError
from .tables import DEFAULT_CYCLE, TABLES

__all__ = ["mapping_skeleton"]


def _guess(field: str, columns: list[str]) -> str | None:
    lowered = {c.lower(): c for c in columns}
    for candidate in (field.lower(), field.lower().replace("_", "")):
        if candidate in lowered:
            return lowered[candidate]
    return None


def mapping_skeleton(url: str, password: str | None, server_url: str, appid: str) -> str:
    """YAML text of a mapping for the source at ``url`` (the password is used to connect, never written).

    Raises:
        SourceError: the source cannot be inspected.
    """
    engine_url = sa.engine.make_url(url)
    display = engine_url.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(engine_url.set(password=password) if password else engine_url)
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables = {name: ([c["name"] for c in inspector.get_columns(name)],
                             inspector.get_pk_constraint(name).get("constrained_columns") or [])
                      for name in inspector.get_table_names()}
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        raise SourceError(f"cannot inspect source {display}: {exc.__class__.__name__}") from None
    lines = [
        "# qcchain agent mapping (docs/AGENT.md). Check it with: qcchain agent check MAPPING",
        "version: 1",
        "state_dir: .qcchain-agent        # fingerprints, outbox, batchNo sequence, quarantine (SQLite)",
        "batch_size: 500",
        "source:",
        f"  url: {display}",
        "  password_env: QCCHAIN_AGENT_DB_PASSWORD   # or password_file: PATH; never in the URL",
        "  # media_root: /path/to/files           # needed when an M (media) field is mapped",
        "server:",
        f"  url: {server_url}",
        f"  appid: {appid}",
        "  secret_env: QCCHAIN_AGENT_SECRET       # or secret_file: PATH (the AppSecret)",
        "  receipt_key: ingest-org.pem             # the ingesting org's SM2 public key: receipts are verified with it",
        "  # ca_file: ingest-ca.pem                # TLS CA of the ingestion server",
        "code_tables:",
        "  yesno: {'Y': 1, 'N': 0, '是': 1, '否': 0}",
        "txcodes:",
    ]
    for txcode, table in sorted(TABLES.items()):
        lines.append(f"  # --- {txcode} {table.title} (default cycle: {DEFAULT_CYCLE[txcode]}) ---")
        lines.append(f"  # '{txcode}':")
        lines.append(f"  #   table: TABLE            # candidates: {', '.join(sorted(tables)) or '(no tables)'}")
        lines.append("  #   id: KEY_COLUMN")
        lines.append(f"  #   id_prefix: '{appid}-{txcode}-'   # IDs are global to the service: unique per unit and txcode")
        lines.append(f"  #   cycle: {DEFAULT_CYCLE[txcode]}            # realtime (with interval: SECONDS) | daily | weekly")
        lines.append("  #   fields:")
        for field in sorted(table.kinds):
            if field == "updateDate":
                continue
            need = "required" if field in table.required else "optional"
            lines.append(f"  #     {field}: {{column: TODO}}   # {table.kinds[field]}, {need}")
    for name, (columns, pk) in sorted(tables.items()):
        lines.append(f"# table {name}: key {', '.join(pk) or '(none)'}; columns {', '.join(columns)}")
    return "\n".join(lines) + "\n"
