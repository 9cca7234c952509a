"""Graded log storage for the project's processes (T-8.2a/e), configured once by each entry point.

``configure(log_dir)`` installs on the root logger:

- a stream handler (text or JSON lines) at ``level`` on stderr (``stream=True``), a given stream, or none;
- with ``log_dir``: ``<log_dir>/<process>.log`` — every record as one JSON line
  ``{"time", "level", "category", "logger", "process", "message"}``, rotated at ``max_bytes`` keeping
  ``backups`` files — and ``security.log`` / ``audit.log`` holding only those categories, rotated the same
  way but keeping ``long_backups`` files (kept longer).

The category of a record is its ``extra={"category": ...}`` (security, audit, operations, business,
debug), else derived from the logger name (a ``.security``/``.audit``/``.operations``/``.business`` part),
else ``debug`` for DEBUG records and ``operations`` otherwise.

:class:`RedactFilter` is the last line of defence on every handler: PEM private keys, ``password=``,
``secret=``, ``token=``, ``pin=``, ``AppSecret``, ``Authorization``/``Bearer`` values and any string the
entry point registers (``sensitive=``) are replaced by ``[REDACTED]`` before a record is written. Code
must still never log them. Libraries call nothing here; only entry points do.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

__all__ = ["CATEGORIES", "CategoryFilter", "JsonFormatter", "RedactFilter", "configure", "redact"]

CATEGORIES = ("security", "audit", "operations", "business", "debug")
REDACTED = "[REDACTED]"
_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)", re.S),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:app_?secret|secret|password|passwd|pass_?phrase|token|api_?key|pin|authorization|"
               r"private_?key|sk)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}&]+)"),
]
_MARKED = ("security", "audit", "operations", "business")


def redact(text: str, sensitive: Iterable[str] = ()) -> str:
    """``text`` with secrets replaced by ``[REDACTED]`` (see the module docstring)."""
    for value in sensitive:
        if value:
            text = text.replace(value, REDACTED)
    text = _PATTERNS[0].sub(REDACTED, text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _PATTERNS[2].sub(lambda m: m.group(1) + REDACTED, text)


def _category(record: logging.LogRecord) -> str:
    given = getattr(record, "category", None)
    if given in CATEGORIES:
        return str(given)
    parts = record.name.split(".")
    for name in _MARKED:
        if name in parts:
            return name
    return "debug" if record.levelno <= logging.DEBUG else "operations"


class RedactFilter(logging.Filter):
    """Renders each record's message once, redacted, and drops its arguments and exception text secrets."""

    def __init__(self, sensitive: Iterable[str] = ()) -> None:
        super().__init__()
        self.sensitive = tuple(s for s in sensitive if s)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = redact(message, self.sensitive), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.sensitive)
        record.category = _category(record)
        return True


class CategoryFilter(logging.Filter):
    """Passes only records of the given categories."""

    def __init__(self, *categories: str) -> None:
        super().__init__()
        self.categories = set(categories)

    def filter(self, record: logging.LogRecord) -> bool:
        return _category(record) in self.categories


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC ISO-8601), level, category, logger, process, message[, exc]."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "category": _category(record), "logger": record.name,
               "process": self.process, "message": record.getMessage()}
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


#: HTTP client libraries whose INFO lines are request URLs (Appendix B's token request carries ``secret=`` in its
#: query): raised to WARNING by :func:`configure`, on top of the redaction every handler applies.
QUIET_LIBRARIES = ("httpx", "httpcore", "urllib3")


def _rotating(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    return logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")


def configure(log_dir: Path | str | None = None, *, process: str = "qcchain", level: int | str = logging.INFO,
              stream: TextIO | bool | None = True, stream_json: bool = False, file_level: int | str = logging.INFO, max_bytes: int = 10 << 20,
              backups: int = 5, long_backups: int = 30, sensitive: Iterable[str] = ()) -> None:
    """Install the graded handlers on the root logger (replacing handlers a previous call installed).

    Raises:
        OSError: ``log_dir`` cannot be created.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_qcchain", False)]:
        root.removeHandler(handler)
        handler.close()
    redactor = RedactFilter(sensitive)
    handlers: list[logging.Handler] = []
    if stream is not None and stream is not False:
        h = _StderrHandler() if stream is True else logging.StreamHandler(stream)
        h.setFormatter(JsonFormatter(process) if stream_json else
                       logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        h.setLevel(level)
        handlers.append(h)
    if log_dir is not None:
        d = Path(log_dir)
        d.mkdir(parents=True, exist_ok=True)
        main = _rotating(d / f"{process}.log", max_bytes, backups)
        main.setLevel(file_level)
        handlers.append(main)
        for category in ("security", "audit"):
            h = _rotating(d / f"{category}.log", max_bytes, long_backups)
            h.setLevel(logging.INFO)
            h.addFilter(CategoryFilter(category))
            handlers.append(h)
        for h in handlers[-3:]:
            h.setFormatter(JsonFormatter(process))
    for h in handlers:
        h.addFilter(redactor)
        h._qcchain = True  # type: ignore[attr-defined]
        root.addHandler(h)
    root.setLevel(min(logging._checkLevel(h.level) for h in handlers) if handlers else level)  # noqa: SLF001
    for chatty in QUIET_LIBRARIES:  # request lines carry query strings (the token GET's secret): keep them out
        logging.getLogger(chatty).setLevel(logging.WARNING)
