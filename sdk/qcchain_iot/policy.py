"""The warnings policy (``policies/warnings.yaml``): structure checked by a JSON Schema, then the
semantics (units known, bands inside plausible ranges...), every problem reported at once.

Pure: callers read the file (or the on-chain copy) and pass the parsed document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from .errors import PolicyError

__all__ = ["COLOURS", "SEVERITY", "Band", "QuantityRule", "WarningsPolicy", "parse_policy", "colour_up"]

COLOURS = ("blue", "yellow", "orange", "red")          # low -> major (seed 003)
SEVERITY = {c: i + 1 for i, c in enumerate(COLOURS)}
EXPIRY_KINDS = ("personnel_certificate", "inspection_due", "safety_valve", "bursting_disc", "node_certificate")

_NUM = {"type": "number"}
_POS = {"type": "number", "exclusiveMinimum": 0}
_COLOUR = {"enum": list(COLOURS)}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}
_BAND = {"type": "object", "required": ["colour"], "additionalProperties": False, "minProperties": 2,
         "maxProperties": 2, "properties": {"colour": _COLOUR, "above": _NUM, "below": _NUM}}
_QRULE = {"type": "object", "required": ["bands"], "additionalProperties": False, "properties": {
    "bands": {"type": "array", "minItems": 1, "maxItems": 16, "items": _BAND},
    "rate": {"type": "object", "required": ["max_per_min", "colour"], "additionalProperties": False,
             "properties": {"max_per_min": _POS, "colour": _COLOUR}},
    "predict": {"type": "boolean"}}}
SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["version", "quantities", "clock_skew_s", "max_delay_s", "max_message_bytes", "window_s", "seal_after_s", "device_types",
                 "clear_after", "heartbeat", "anomaly", "prediction", "deadlines", "rectification", "expiry"],
    "properties": {
        "version": {"const": 1},
        "quantities": {"type": "object", "minProperties": 1, "propertyNames": _NAME, "additionalProperties": {
            "type": "object", "required": ["unit", "min", "max"], "additionalProperties": False,
            "properties": {"unit": {"type": "string", "minLength": 1, "maxLength": 16}, "min": _NUM, "max": _NUM}}},
        "clock_skew_s": _POS, "max_delay_s": _POS, "seal_after_s": {"type": "integer", "minimum": 0, "maximum": 86400},
        "max_message_bytes": {"type": "integer", "minimum": 64, "maximum": 65536},
        "window_s": {"type": "integer", "minimum": 1, "maximum": 86400},
        "device_types": {"type": "object", "minProperties": 1, "propertyNames": _NAME, "additionalProperties": {
            "type": "object", "minProperties": 1, "propertyNames": _NAME, "additionalProperties": _QRULE}},
        "clear_after": {"type": "integer", "minimum": 1, "maximum": 1000},
        "heartbeat": {"type": "object", "required": ["offline_after_s", "colour"], "additionalProperties": False,
                      "properties": {"offline_after_s": _POS, "colour": _COLOUR}},
        "anomaly": {"type": "object", "required": ["alpha", "z", "warmup", "min_std", "colour"],
                    "additionalProperties": False, "properties": {
                        "alpha": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, "z": _POS,
                        "warmup": {"type": "integer", "minimum": 2}, "min_std": _POS, "colour": _COLOUR}},
        "prediction": {"type": "object", "required": ["window_s", "min_points", "horizon_s", "colour"],
                       "additionalProperties": False, "properties": {
                           "window_s": _POS, "min_points": {"type": "integer", "minimum": 3}, "horizon_s": _POS,
                           "colour": {"enum": ["blue", "yellow"]}}},
        "deadlines": {"type": "object", "required": list(COLOURS), "additionalProperties": False,
                      "properties": {c: {"type": "object", "required": ["ack_h", "dispose_h"],
                                         "additionalProperties": False,
                                         "properties": {"ack_h": _POS, "dispose_h": _POS}} for c in COLOURS}},
        "rectification": {"type": "object", "required": ["general", "larger", "serious"],
                          "additionalProperties": False,
                          "properties": {k: _COLOUR for k in ("general", "larger", "serious")}},
        "expiry": {"type": "object", "required": list(EXPIRY_KINDS), "additionalProperties": False,
                   "properties": {k: {"type": "object", "required": ["blue_days", "yellow_days"],
                                      "additionalProperties": False,
                                      "properties": {"blue_days": {"type": "integer", "minimum": 1},
                                                     "yellow_days": {"type": "integer", "minimum": 1}}}
                                  for k in EXPIRY_KINDS}},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class Band:
    colour: str
    above: float | None
    below: float | None

    def hit(self, value: float) -> bool:
        return (self.above is not None and value > self.above) or (self.below is not None and value < self.below)


@dataclass(frozen=True)
class QuantityRule:
    bands: tuple[Band, ...]          # most severe first
    rate_per_min: float | None
    rate_colour: str
    predict: bool

    def band_colour(self, value: float) -> str | None:
        """The most severe colour whose band ``value`` is in, or None."""
        for band in self.bands:
            if band.hit(value):
                return band.colour
        return None


@dataclass(frozen=True)
class WarningsPolicy:
    doc: dict[str, Any]
    units: dict[str, tuple[str, float, float]]           # quantity -> (unit, min, max)
    rules: dict[tuple[str, str], QuantityRule]            # (device type, quantity) -> rule

    def __getattr__(self, name: str) -> Any:             # flat access to the plain sections
        try:
            return self.doc[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def colour_up(colour: str) -> str:
    """The next more severe colour (red stays red). Raises ValueError: not a colour."""
    return COLOURS[min(COLOURS.index(colour) + 1, len(COLOURS) - 1)]


def _semantics(doc: dict[str, Any]) -> list[str]:
    problems = []
    for q, spec in doc["quantities"].items():
        if spec["min"] >= spec["max"]:
            problems.append(f"$.quantities.{q}: min must be below max")
    for dtype, qs in doc["device_types"].items():
        for q, rule in qs.items():
            path = f"$.device_types.{dtype}.{q}"
            if q not in doc["quantities"]:
                problems.append(f"{path}: quantity {q!r} is not declared under quantities")
                continue
            lo, hi = doc["quantities"][q]["min"], doc["quantities"][q]["max"]
            for i, band in enumerate(rule["bands"]):
                limit = band.get("above", band.get("below"))
                if limit is None:
                    problems.append(f"{path}.bands[{i}]: a band needs above or below")
                elif not lo <= limit <= hi:
                    problems.append(f"{path}.bands[{i}]: limit {limit} is outside the plausible range [{lo}, {hi}]")
    for colour, d in doc["deadlines"].items():
        if d["dispose_h"] < d["ack_h"]:
            problems.append(f"$.deadlines.{colour}: dispose_h must not be before ack_h")
    for kind, w in doc["expiry"].items():
        if w["yellow_days"] > w["blue_days"]:
            problems.append(f"$.expiry.{kind}: yellow_days must not exceed blue_days")
    return problems


def _rule(spec: dict[str, Any]) -> QuantityRule:
    bands = [Band(b["colour"], b.get("above"), b.get("below")) for b in spec["bands"]]
    bands.sort(key=lambda b: -SEVERITY[b.colour])           # stable: declaration order within a colour
    rate = spec.get("rate")
    return QuantityRule(tuple(bands), rate["max_per_min"] if rate else None,
                        rate["colour"] if rate else "yellow", bool(spec.get("predict", False)))


def parse_policy(doc: Any) -> WarningsPolicy:
    """Validate a parsed warnings policy document.

    Raises:
        PolicyError: every structural and semantic problem, each with its JSON path.
    """
    if not isinstance(doc, dict):
        raise PolicyError("the warnings policy must be a mapping", ["$: not a mapping"])
    problems = [f"${''.join(f'.{p}' for p in e.absolute_path)}: {e.message}"
                for e in sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    if not problems:
        problems = _semantics(doc)
    if problems:
        raise PolicyError(f"invalid warnings policy: {problems[0]}" + (f" (+{len(problems) - 1} more)"
                                                                      if len(problems) > 1 else ""), problems)
    units = {q: (s["unit"], float(s["min"]), float(s["max"])) for q, s in doc["quantities"].items()}
    rules = {(d, q): _rule(spec) for d, qs in doc["device_types"].items() for q, spec in qs.items()}
    return WarningsPolicy(doc, units, rules)
