"""Times and durations as people write them: ``3d`` / ``12h`` / ``30m`` / ``900s`` durations, ISO-8601
times shown and accepted in the user's zone (``Asia/Shanghai`` unless ``QCCHAIN_TZ`` names another).

The chain stores seconds since the epoch; nothing here ever shows them raw.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

DEFAULT_ZONE = "Asia/Shanghai"
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

__all__ = ["Duration", "When", "DEFAULT_ZONE", "parse_duration", "parse_time", "show_time", "zone"]


def zone(name: str | None = None) -> dt.tzinfo:
    """The zone ``name`` (default Asia/Shanghai); a fixed +08:00 when the system has no zone database.

    Raises:
        ValueError: ``name`` is not a known zone.
    """
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if name in (None, DEFAULT_ZONE):
            return dt.timezone(dt.timedelta(hours=8), "CST")
        raise ValueError(f"unknown time zone {name!r} (QCCHAIN_TZ); e.g. Asia/Shanghai, UTC") from exc


def parse_duration(text: str) -> int:
    """Seconds of ``3d``, ``12h``, ``30m``, ``900s`` (a number and one unit).

    Raises:
        ValueError: anything else (a bare number is refused: say which unit).
    """
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration: write a number and a unit, e.g. 3d, 12h, 30m, 900s")
    return int(float(match[1]) * _UNITS[match[2]])


def parse_time(text: str, tz: dt.tzinfo | None = None) -> int:
    """Seconds since the epoch of an ISO-8601 date or date-time; without an offset it is in ``tz``
    (default Asia/Shanghai). ``2026-12-01`` is that day's midnight.

    Raises:
        ValueError: not ISO-8601.
    """
    try:
        when = dt.datetime.fromisoformat(str(text).strip())
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO-8601 time: e.g. 2026-12-01 or 2026-12-01T09:30 "
                         "or 2026-12-01T09:30:00+08:00") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz or zone())
    return int(when.timestamp())


def show_time(seconds: int | float | None, tz: dt.tzinfo | None = None) -> str:
    """ISO-8601 in ``tz`` (default Asia/Shanghai), to the second, e.g. ``2026-12-01T09:30:00+08:00``;
    ``-`` for None."""
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(int(seconds), tz or zone()).isoformat(timespec="seconds")


class Duration(click.ParamType):
    """A click parameter: ``3d``, ``12h``, ``30m``, ``900s`` → seconds, within [minimum, maximum]."""

    name = "duration"

    def __init__(self, minimum: int = 1, maximum: int | None = None, bare: str | None = None) -> None:
        self.minimum, self.maximum, self.bare = minimum, maximum, bare  # bare: unit of a bare number (legacy options)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if self.bare and re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
            text += self.bare
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds < self.minimum or (self.maximum is not None and seconds > self.maximum):
            most = f" and at most {_human(self.maximum)}" if self.maximum is not None else ""
            self.fail(f"{value!r}: must be at least {_human(self.minimum)}{most}", param, ctx)
        return seconds


class When(click.ParamType):
    """A click parameter: an ISO-8601 date or date-time (Asia/Shanghai unless it has an offset) → seconds."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_time(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _human(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
