"""The warnings policy (``policies/warnings.yaml``): structure checked by a JSON Schema, then the
semantics (units known, bands inside plausible ranges...), every problem reported at once.

Pure: callers read the file (or the on-chain copy) and pass the parsed document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qcchain_contracts.warning_rules import POLICY_SCHEMA as SCHEMA, policy_problems

from .errors import PolicyError

__all__ = ["COLOURS", "SEVERITY", "Band", "QuantityRule", "WarningsPolicy", "parse_policy", "colour_up"]

COLOURS = ("blue", "yellow", "orange", "red")          # low -> major (seed 003)
SEVERITY = {c: i + 1 for i, c in enumerate(COLOURS)}


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

    def __post_init__(self) -> None:
        # the plain sections as instance attributes: per-reading lookups never reach __getattr__ (slow path)
        for name, value in self.doc.items():
            if isinstance(name, str) and name.isidentifier() and name not in self.__dataclass_fields__:
                object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:             # flat access to the plain sections
        try:
            return self.doc[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def colour_up(colour: str) -> str:
    """The next more severe colour (red stays red). Raises ValueError: not a colour."""
    return COLOURS[min(COLOURS.index(colour) + 1, len(COLOURS) - 1)]


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
    problems = policy_problems(doc)
    if problems:
        raise PolicyError(f"invalid warnings policy: {problems[0]}" + (f" (+{len(problems) - 1} more)"
                                                                      if len(problems) > 1 else ""), problems)
    units = {q: (s["unit"], float(s["min"]), float(s["max"])) for q, s in doc["quantities"].items()}
    rules = {(d, q): _rule(spec) for d, qs in doc["device_types"].items() for q, spec in qs.items()}
    return WarningsPolicy(doc, units, rules)
