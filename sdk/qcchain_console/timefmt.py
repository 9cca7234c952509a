"""Dates as the console shows them: Asia/Shanghai."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

try:
    ZONE: datetime.tzinfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # no tz database: China has no DST, a fixed offset is exact
    ZONE = datetime.timezone(datetime.timedelta(hours=8), "CST")

__all__ = ["ZONE", "fmt_time", "parse_date"]


def fmt_time(epoch: int | float | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Asia/Shanghai; "-" for None/0."""
    if not epoch:
        return "-"
    return datetime.datetime.fromtimestamp(float(epoch), ZONE).strftime("%Y-%m-%d %H:%M:%S")


def parse_date(text: str, end: bool = False) -> int | None:
    """Epoch seconds of a ``YYYY-MM-DD`` date at 00:00 (or the next day's 00:00 with ``end``) in
    Asia/Shanghai; None for an empty string.

    Raises:
        ValueError: not a date.
    """
    if not text:
        return None
    day = datetime.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=ZONE)
    if end:
        day += datetime.timedelta(days=1)
    return int(day.timestamp())
