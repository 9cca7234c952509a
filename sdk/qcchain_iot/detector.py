"""Detection over the reading stream: threshold bands with colours, rate of change, EWMA z-score
anomaly, trend prediction (time to the first band) and the offline heartbeat.

Each condition is an *episode* per ``(device, rule, quantity)``: it raises ONE warning when it starts,
a new one only if it gets more severe, and ends after ``clear_after`` clean readings. Episodes are state
the pipeline persists with the readings in one transaction, and :meth:`Detector.load_episodes` restores
them after a restart — so a redelivered or replayed reading never raises a warning twice. Warning ids are
deterministic (SM3 of device, rule, quantity, colour and the triggering reading's seq).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from .policy import SEVERITY, QuantityRule, WarningsPolicy
from .reading import Reading
from .trend import TrendWindow, eta_to_limit

__all__ = ["Alert", "Episode", "Detector", "warning_id", "RATE_WINDOW_S"]

RATE_WINDOW_S = 60.0   # rate of change = least-squares slope over the last minute (robust to noise)
RATE_MIN_POINTS = 5


@dataclass(frozen=True)
class Alert:
    warning_id: str
    org: str
    device_id: str
    rule: str                 # band | rate | anomaly | predict | offline
    quantity: str
    colour: str
    reading_seq: int
    reading_ts_ms: int
    detail: dict[str, Any]


@dataclass
class Episode:
    device_id: str
    rule: str
    quantity: str
    colour: str
    warning_id: str
    clear_count: int = 0
    open: bool = True


@dataclass
class _Series:
    last_seq: int = -1
    last_ts: int = 0
    last_value: float = math.nan
    n: int = 0
    mean: float = 0.0
    var: float = 0.0
    trend: TrendWindow | None = None
    rate: TrendWindow = field(default_factory=lambda: TrendWindow(RATE_WINDOW_S))


def warning_id(device_id: str, rule: str, quantity: str, colour: str, seq: int) -> str:
    """Deterministic hex id of the warning a trigger raises."""
    return sm3(canonical_json([device_id, rule, quantity, colour, seq])).hex()


@dataclass
class Detector:
    policy: WarningsPolicy
    device_types: Mapping[str, str]                        # device id -> device type in the policy
    episodes: dict[tuple[str, str, str], Episode] = field(default_factory=dict)
    dirty: dict[tuple[str, str, str], Episode] = field(default_factory=dict)
    _series: dict[tuple[str, str], _Series] = field(default_factory=dict)

    def load_episodes(self, rows: Iterable[Episode]) -> None:
        """Restore persisted episodes (after a restart)."""
        for ep in rows:
            self.episodes[(ep.device_id, ep.rule, ep.quantity)] = ep

    def take_dirty(self) -> list[Episode]:
        """Episodes changed since the last call (to persist with the batch)."""
        out = list(self.dirty.values())
        self.dirty.clear()
        return out

    # -- episodes -----------------------------------------------------------------------------------
    def _hit(self, r: Reading, rule: str, colour: str, detail: dict[str, Any]) -> Alert | None:
        key = (r.device_id, rule, r.quantity)
        ep = self.episodes.get(key)
        if ep is not None and ep.open:
            ep.clear_count = 0
            self.dirty[key] = ep
            if SEVERITY[colour] <= SEVERITY[ep.colour]:
                return None
        wid = warning_id(r.device_id, rule, r.quantity, colour, r.seq)
        ep = Episode(r.device_id, rule, r.quantity, colour, wid)
        self.episodes[key] = self.dirty[key] = ep
        return Alert(wid, r.org, r.device_id, rule, r.quantity, colour, r.seq, r.ts_ms, detail)

    def _clean(self, device_id: str, rule: str, quantity: str, needed: int) -> None:
        key = (device_id, rule, quantity)
        ep = self.episodes.get(key)
        if ep is None or not ep.open:
            return
        ep.clear_count += 1
        if ep.clear_count >= needed:
            ep.open = False
        self.dirty[key] = ep

    # -- readings -----------------------------------------------------------------------------------
    def observe(self, r: Reading) -> list[Alert]:
        """Run every rule on a new reading; the warnings it starts (none for an out-of-order reading)."""
        s = self._series.setdefault((r.device_id, r.quantity), _Series())
        if r.seq <= s.last_seq:
            return []
        out: list[Alert] = []
        self._clean(r.device_id, "offline", "", 1)
        rule = self.policy.rules.get((self.device_types.get(r.device_id, ""), r.quantity))
        clear = self.policy.clear_after
        band = rule.band_colour(r.value) if rule else None
        if band:
            out.append(self._hit(r, "band", band, {"value": r.value}))
        else:
            self._clean(r.device_id, "band", r.quantity, clear)
        s.rate.add(r.ts_ms / 1000.0, r.value)
        line = s.rate.line() if len(s.rate) >= RATE_MIN_POINTS else None
        if rule and rule.rate_per_min is not None and line is not None:
            rate = line[0] * 60.0
            if abs(rate) > rule.rate_per_min:
                out.append(self._hit(r, "rate", rule.rate_colour, {"value": r.value, "per_min": round(rate, 6)}))
            else:
                self._clean(r.device_id, "rate", r.quantity, clear)
        out.append(self._anomaly(r, s))
        if rule and rule.predict:
            out.append(self._predict(r, s, rule, band))
        s.last_seq, s.last_ts, s.last_value = r.seq, r.ts_ms, r.value
        return [a for a in out if a is not None]

    def _anomaly(self, r: Reading, s: _Series) -> Alert | None:
        cfg = self.policy.anomaly
        alert = None
        if s.n >= cfg["warmup"]:
            std = max(math.sqrt(s.var), cfg["min_std"])
            z = abs(r.value - s.mean) / std
            if z > cfg["z"]:
                alert = self._hit(r, "anomaly", cfg["colour"], {"value": r.value, "z": round(z, 3)})
            else:
                self._clean(r.device_id, "anomaly", r.quantity, self.policy.clear_after)
        a = cfg["alpha"]
        if s.n == 0:
            s.mean = r.value
        else:
            diff = r.value - s.mean
            s.mean += a * diff
            s.var = (1 - a) * (s.var + a * diff * diff)
        s.n += 1
        return alert

    def _predict(self, r: Reading, s: _Series, rule: QuantityRule, band: str | None) -> Alert | None:
        cfg = self.policy.prediction
        if s.trend is None:
            s.trend = TrendWindow(cfg["window_s"])
        t = r.ts_ms / 1000.0
        s.trend.add(t, r.value)
        if band or len(s.trend) < cfg["min_points"]:
            return None
        line = s.trend.line()
        best: tuple[float, float, bool] | None = None
        for b in rule.bands:
            limit, above = (b.above, True) if b.above is not None else (b.below, False)
            eta = eta_to_limit(line, t, float(limit), above) if line else None
            if eta is not None and (best is None or eta < best[0]):
                best = (eta, float(limit), above)
        if best is not None and 0 < best[0] <= cfg["horizon_s"]:
            return self._hit(r, "predict", cfg["colour"], {"value": r.value, "limit": best[1],
                                                          "eta_s": round(best[0], 1)})
        self._clean(r.device_id, "predict", r.quantity, self.policy.clear_after)
        return None

    # -- heartbeat ----------------------------------------------------------------------------------
    def offline(self, now_ms: int, seen: Iterable[tuple[str, str, int, int]]) -> list[Alert]:
        """Offline warnings for devices ``(org, device_id, outage_key, last_ts_ms)`` silent for longer than the
        heartbeat allows (one per outage)."""
        cfg = self.policy.heartbeat
        out = []
        for org, device_id, last_seq, last_ts in seen:
            if now_ms - last_ts <= cfg["offline_after_s"] * 1000:
                continue
            r = Reading(org, device_id, last_seq, last_ts, "", math.nan, "")
            alert = self._hit(r, "offline", cfg["colour"], {"silent_s": round((now_ms - last_ts) / 1000.0, 1)})
            if alert:
                out.append(alert)
        return out
