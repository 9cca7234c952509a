"""The mapping file: YAML, checked against ``mapping_schema.json`` and the D-A tables, every problem at once.

A problem is reported as one line naming its mapping path (``txcodes.03.fields.psnName.codes: ...``).
:func:`load_mapping` reads the file and returns a :class:`Mapping`; nothing else is read or written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping as TMapping

import yaml
from jsonschema import Draft202012Validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .errors import MappingError
from .tables import DEFAULT_CYCLE, ENVELOPE, TABLES

__all__ = ["FieldSpec", "TxMapping", "SourceConfig", "ServerConfig", "Mapping", "load_mapping", "parse_mapping",
           "CYCLE_SECONDS"]

#: seconds between two scans of a txcode for the daily and weekly cycles (realtime uses ``interval``).
CYCLE_SECONDS: TMapping[str, int] = MappingProxyType({"daily": 86400, "weekly": 7 * 86400})
DEFAULT_INTERVAL = 60
DEFAULT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y年%m月%d日")

_SCHEMA = json.loads((resources.files("qcchain_agent") / "mapping_schema.json").read_text(encoding="utf-8"))
Draft202012Validator.check_schema(_SCHEMA)
_VALIDATOR = Draft202012Validator(_SCHEMA)


@dataclass(frozen=True)
class FieldSpec:
    """How one D-A field is produced: from ``column`` (or the constant ``value``), then the transforms."""

    name: str
    kind: str  # C, N, D or M (D-A.1)
    column: str | None
    value: str | int | None
    trim: bool
    upper: bool
    date_formats: tuple[str, ...]
    codes: TMapping[str, str | int] | None
    default: str | int | None


@dataclass(frozen=True)
class TxMapping:
    """One txcode: where its rows come from, how the record ID is built, its fields and update cycle."""

    txcode: str
    table: str | None
    query: str | None
    id_columns: tuple[str, ...]
    id_prefix: str
    cycle: str
    interval: int  # seconds between scans
    dedup: str
    fields: tuple[FieldSpec, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every source column this txcode reads (ID columns first)."""
        cols = list(self.id_columns)
        for spec in self.fields:
            if spec.column is not None and spec.column not in cols:
                cols.append(spec.column)
        return tuple(cols)


@dataclass(frozen=True)
class SourceConfig:
    """The source database (SQLAlchemy URL without password) and where media files live."""

    url: str
    password_env: str | None
    password_file: Path | None
    media_root: Path | None
    fetch_size: int


@dataclass(frozen=True)
class ServerConfig:
    """The ingestion server (Appendix B), this unit's appid and where its secret comes from."""

    url: str
    appid: str
    secret_env: str | None
    secret_file: Path | None
    ca_file: Path | None
    receipt_key: Path | None
    timeout: float
    retries: int
    backoff: float
    backoff_max: float


@dataclass(frozen=True)
class Mapping:
    """A validated mapping file."""

    path: Path
    state_dir: Path
    batch_size: int
    source: SourceConfig
    server: ServerConfig
    txcodes: TMapping[str, TxMapping]


def _path_of(parts: Any) -> str:
    return ".".join(str(p) for p in parts) or "(mapping)"


def _schema_problems(doc: Any) -> list[str]:
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        where = _path_of(error.absolute_path)
        parent = error.absolute_path[-2] if len(error.absolute_path) >= 2 else None
        if error.validator == "oneOf" and parent == "txcodes":
            problems.append(f"{where}: give exactly one of 'table' or 'query'")
        elif error.validator == "oneOf" and parent == "fields":
            problems.append(f"{where}: give exactly one of 'column' or 'value'")
        elif error.validator == "oneOf" and error.absolute_path and error.absolute_path[-1] == "id":
            problems.append(f"{where}: must be a column name or a list of column names")
        elif error.validator == "oneOf" and error.absolute_path and error.absolute_path[-1] == "codes":
            problems.append(f"{where}: must name a code table or map source codes to values")
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            problems.append(f"{where}: unknown key(s) {', '.join(map(str, extra))}")
        elif error.validator == "propertyNames":
            problems.append(f"{where}: key {error.instance!r} is not allowed ({error.message.split(' is ')[-1]})")
        else:
            problems.append(f"{where}: {error.message}")
    return problems


def _resolve(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _field(txcode: str, name: str, raw: TMapping[str, Any], code_tables: TMapping[str, Any],
           problems: list[str]) -> FieldSpec | None:
    where = f"txcodes.{txcode}.fields.{name}"
    table = TABLES[txcode]
    if name in ENVELOPE and name != "updateDate":
        problems.append(f"{where}: {name} is filled by the agent (use 'id' for the record ID)")
        return None
    kind = table.kinds.get(name)
    if kind is None:
        problems.append(f"{where}: no field {name} in D-A table {table.name} (txCode {txcode})")
        return None
    codes = raw.get("codes")
    if isinstance(codes, str):
        if codes not in code_tables:
            problems.append(f"{where}.codes: no code table {codes!r} under code_tables")
            codes = None
        else:
            codes = code_tables[codes]
    if "date_formats" in raw and kind != "D":
        problems.append(f"{where}.date_formats: {name} is not a date (D) field")
    if kind == "M" and "value" in raw:
        problems.append(f"{where}.value: a media (M) field must come from a column naming the file")
    for key in ("upper", "codes", "date_formats"):
        if key in raw and kind == "M":
            problems.append(f"{where}.{key}: not applicable to a media (M) field")
    return FieldSpec(
        name=name, kind=kind, column=raw.get("column"), value=raw.get("value"),
        trim=bool(raw.get("trim", True)), upper=bool(raw.get("upper", False)),
        date_formats=tuple(raw.get("date_formats", DEFAULT_DATE_FORMATS)),
        codes=MappingProxyType({str(k): v for k, v in codes.items()}) if isinstance(codes, dict) else None,
        default=raw.get("default"),
    )


def _txcode(txcode: str, raw: TMapping[str, Any], code_tables: TMapping[str, Any],
            problems: list[str]) -> TxMapping:
    where = f"txcodes.{txcode}"
    fields = [f for name, spec in raw["fields"].items()
              if (f := _field(txcode, name, spec, code_tables, problems)) is not None]
    mapped = {f.name for f in fields}
    missing = sorted(TABLES[txcode].required - set(ENVELOPE) - mapped)
    if missing:
        problems.append(f"{where}.fields: required D-A field(s) not mapped: {', '.join(missing)}")
    cycle = raw.get("cycle", DEFAULT_CYCLE[txcode])
    if "interval" in raw and cycle != "realtime":
        problems.append(f"{where}.interval: only a realtime cycle has an interval (cycle is {cycle})")
    interval = int(raw.get("interval", DEFAULT_INTERVAL)) if cycle == "realtime" else CYCLE_SECONDS[cycle]
    ids = raw["id"]
    return TxMapping(
        txcode=txcode, table=raw.get("table"), query=raw.get("query"),
        id_columns=(ids,) if isinstance(ids, str) else tuple(ids), id_prefix=raw.get("id_prefix", ""),
        cycle=cycle, interval=interval, dedup=raw.get("dedup", "identical"), fields=tuple(fields),
    )


def parse_mapping(doc: Any, path: Path) -> Mapping:
    """Check a parsed mapping document and build the :class:`Mapping`; relative paths are taken from ``path``'s folder.

    Raises:
        MappingError: with every problem found (schema, D-A tables, code tables, cycles, secrets).
    """
    problems = _schema_problems(doc)
    if problems:
        raise MappingError(problems)
    base = path.resolve().parent
    src, srv = doc["source"], doc["server"]
    try:
        url = make_url(src["url"])
        if url.password is not None:
            problems.append("source.url: put the password in password_env or password_file, not in the URL")
    except ArgumentError:
        problems.append("source.url: not a SQLAlchemy database URL (dialect+driver://user@host:port/db)")
    if "password_env" in src and "password_file" in src:
        problems.append("source: give at most one of password_env or password_file")
    if ("secret_env" in srv) == ("secret_file" in srv):
        problems.append("server: give exactly one of secret_env or secret_file (the AppSecret is never in the mapping)")
    code_tables = doc.get("code_tables", {})
    txcodes = {code: _txcode(code, raw, code_tables, problems) for code, raw in sorted(doc["txcodes"].items())}
    if any(f.kind == "M" for t in txcodes.values() for f in t.fields) and "media_root" not in src:
        problems.append("source.media_root: required when a media (M) field is mapped")
    if problems:
        raise MappingError(problems)
    return Mapping(
        path=path, state_dir=_resolve(base, doc.get("state_dir", ".qcchain-agent")) or base,
        batch_size=int(doc.get("batch_size", 500)),
        source=SourceConfig(url=src["url"], password_env=src.get("password_env"),
                            password_file=_resolve(base, src.get("password_file")),
                            media_root=_resolve(base, src.get("media_root")), fetch_size=int(src.get("fetch_size", 5000))),
        server=ServerConfig(url=srv["url"].rstrip("/"), appid=srv["appid"], secret_env=srv.get("secret_env"),
                            secret_file=_resolve(base, srv.get("secret_file")), ca_file=_resolve(base, srv.get("ca_file")),
                            receipt_key=_resolve(base, srv.get("receipt_key")), timeout=float(srv.get("timeout", 30)),
                            retries=int(srv.get("retries", 5)), backoff=float(srv.get("backoff", 0.5)),
                            backoff_max=float(srv.get("backoff_max", 30))),
        txcodes=MappingProxyType(txcodes),
    )


def load_mapping(path: str | Path) -> Mapping:
    """Read and check the mapping file at ``path``.

    Raises:
        MappingError: the file is unreadable, not YAML, or invalid (every problem listed).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError([f"{path}: cannot read the mapping file ({exc.__class__.__name__})"]) from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise MappingError([f"{path}: not valid YAML{where}"]) from exc
    return parse_mapping(doc, path)
