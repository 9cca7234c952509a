"""Trend extrapolation: a least-squares line over recent readings and the expected time until it crosses
a limit; plus the replay measurement of that prediction's error on a recorded series.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["fit_line", "eta_to_limit", "TrendWindow", "PredictionError", "replay_prediction_error"]


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """``(slope, intercept)`` of the least-squares line through ``(t, v)`` points, or None (fewer than two
    distinct times)."""
    n = len(points)
    if n < 2:
        return None
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    stt = sum((t - mt) ** 2 for t, _ in points)
    if stt == 0:
        return None
    slope = sum((t - mt) * (v - mv) for t, v in points) / stt
    return slope, mv - slope * mt


def eta_to_limit(line: tuple[float, float], now: float, limit: float, above: bool) -> float | None:
    """Seconds from ``now`` until the line reaches ``limit`` going up (``above``) or down; None if it moves
    away from it or never reaches it. 0 if it is already past it."""
    slope, intercept = line
    current = slope * now + intercept
    if (above and current >= limit) or (not above and current <= limit):
        return 0.0
    if (above and slope <= 0) or (not above and slope >= 0):
        return None
    return (limit - current) / slope


class TrendWindow:
    """The ``(t seconds, value)`` points of the last ``window_s`` seconds, with running sums so the
    least-squares line costs O(1) per reading (times kept relative to an origin for precision)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.points: deque[tuple[float, float]] = deque()
        self._origin = 0.0
        self._st = self._sv = self._stt = self._stv = 0.0

    def _acc(self, t: float, v: float, sign: float) -> None:
        self._st += sign * t
        self._sv += sign * v
        self._stt += sign * t * t
        self._stv += sign * t * v

    def add(self, t: float, value: float) -> None:
        if not self.points:
            self._origin, self._st, self._sv, self._stt, self._stv = t, 0.0, 0.0, 0.0, 0.0
        rel = t - self._origin
        self.points.append((rel, value))
        self._acc(rel, value, 1.0)
        while self.points and self.points[0][0] < rel - self.window_s:
            old_t, old_v = self.points.popleft()
            self._acc(old_t, old_v, -1.0)

    def __len__(self) -> int:
        return len(self.points)

    def line(self) -> tuple[float, float] | None:
        """``(slope per second, intercept)`` in absolute time, or None (fewer than two distinct times)."""
        n = len(self.points)
        if n < 2:
            return None
        denom = n * self._stt - self._st * self._st
        if denom <= 1e-12 * max(1.0, n * self._stt):
            return None
        slope = (n * self._stv - self._st * self._sv) / denom
        intercept_rel = (self._sv - slope * self._st) / n
        return slope, intercept_rel - slope * self._origin


@dataclass(frozen=True)
class PredictionError:
    predictions: int          # how many predictions were made before the crossing
    mae_s: float              # mean absolute error of the predicted crossing time, seconds
    max_s: float              # largest absolute error, seconds
    first_warning_lead_s: float  # how long before the actual crossing the first prediction came


def replay_prediction_error(series: Iterable[tuple[float, float]], limit: float, window_s: float,
                            min_points: int, horizon_s: float) -> PredictionError:
    """Replay a recorded ``(t seconds, value)`` series that crosses ``limit`` upwards; at each point before
    the crossing predict the crossing time from the trend window and compare with the actual one.

    Raises:
        ValueError: the series never crosses the limit, or no prediction could be made before it.
    """
    points = list(series)
    crossing = next((t for t, v in points if v > limit), None)
    if crossing is None:
        raise ValueError("the series never crosses the limit")
    window, errors, first = TrendWindow(window_s), [], None
    for t, v in points:
        if t >= crossing:
            break
        window.add(t, v)
        if len(window) < min_points:
            continue
        line = window.line()
        eta = eta_to_limit(line, t, limit, True) if line else None
        if eta is None or eta > horizon_s:
            continue
        errors.append(abs(t + eta - crossing))
        first = t if first is None else first
    if not errors or first is None:
        raise ValueError("no prediction was made before the crossing")
    return PredictionError(len(errors), sum(errors) / len(errors), max(errors), crossing - first)
