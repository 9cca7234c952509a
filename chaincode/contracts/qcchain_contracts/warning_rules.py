"""Four-colour early warnings and their closed loop (issue 15; seed 003 §四; REQUIREMENTS H-4).

Colours (seed 003): ``red`` major, ``orange`` larger, ``yellow`` general, ``blue`` low. Sources:
``device`` (a detection rule on a registered device's readings), ``prediction`` (trend extrapolation),
``rectification`` (a hidden danger, D-A.11, past its limitDate without acceptance) and ``expiry``
(a certificate, inspection, safety valve, bursting disc or node certificate due soon).

Closed loop, each step by the role allowed to take it, evidence attached::

    raised --acknowledge--> acknowledged --start--> disposing --dispose--> disposed --verify--> verified --close--> closed
              responsible                responsible          responsible       regulator / inspection body

A step out of order or by another org is refused and writes nothing. Deadlines by colour come from the
``deadlines`` of the installed ``warnings`` policy when governance has one, else from
:data:`DEFAULT_DEADLINES` (the values of ``policies/warnings.yaml``): acknowledge within ``ack_h``, dispose
within ``dispose_h`` hours of raising. :func:`escalate` (transaction ``warnings:escalate_overdue``) moves
every warning past its deadline one colour up (red stays red), restarts its deadlines from the transaction
time and emits a regulator-visible event. Nothing is deleted; every step is appended to ``history``.
Deterministic: the only clock is the transaction time.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from jsonschema import Draft202012Validator

from .common import caller_msp, require_hex64, require_int, tx_time
from .errors import Conflict, Forbidden, InvalidInput
from .store.members import member_of, role_of
from .store.policies import find_policy

log = logging.getLogger(__name__)

__all__ = ["POLICY_SCHEMA", "policy_problems", "validate_warnings_policy", "COLOURS", "SOURCES", "STEPS", "VERIFIER_ROLES", "DEFAULT_DEADLINES", "deadlines_of", "colour_up",
           "validate_raise", "new_warning", "check_step", "apply_step", "overdue", "escalate", "validate_evidence"]

COLOURS = ("blue", "yellow", "orange", "red")           # low -> major
SOURCES = ("device", "prediction", "rectification", "expiry")
VERIFIER_ROLES = ("regulator", "inspection_body")
RAISER_ROLES = ("regulator", "inspection_body")          # may raise for another org (rectification, expiry)
#: step -> (from status, to status, who: "responsible" | "verifier", evidence required)
STEPS: dict[str, tuple[str, str, str, bool]] = {
    "acknowledge": ("raised", "acknowledged", "responsible", False),
    "start": ("acknowledged", "disposing", "responsible", False),
    "dispose": ("disposing", "disposed", "responsible", True),
    "verify": ("disposed", "verified", "verifier", True),
    "close": ("verified", "closed", "verifier", False),
}
DEFAULT_DEADLINES: dict[str, dict[str, int]] = {
    "red": {"ack_h": 1, "dispose_h": 24}, "orange": {"ack_h": 4, "dispose_h": 72},
    "yellow": {"ack_h": 24, "dispose_h": 168}, "blue": {"ack_h": 72, "dispose_h": 720}}
MAX_HISTORY = 256
MAX_NOTE = 2000
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
_RULE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


EXPIRY_KINDS = ("personnel_certificate", "inspection_due", "safety_valve", "bursting_disc", "node_certificate")

_NUM = {"type": "number"}
_POS = {"type": "number", "exclusiveMinimum": 0}
_COLOUR = {"enum": list(COLOURS)}
_HOURS = {"type": "integer", "minimum": 1, "maximum": 8760}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}
_BAND = {"type": "object", "required": ["colour"], "additionalProperties": False, "minProperties": 2,
         "maxProperties": 2, "properties": {"colour": _COLOUR, "above": _NUM, "below": _NUM}}
_QRULE = {"type": "object", "required": ["bands"], "additionalProperties": False, "properties": {
    "bands": {"type": "array", "minItems": 1, "maxItems": 16, "items": _BAND},
    "rate": {"type": "object", "required": ["max_per_min", "colour"], "additionalProperties": False,
             "properties": {"max_per_min": _POS, "colour": _COLOUR}},
    "predict": {"type": "boolean"}}}
POLICY_SCHEMA: dict[str, Any] = {
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
                                         "properties": {"ack_h": _HOURS, "dispose_h": _HOURS}} for c in COLOURS}},
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

def _policy_semantics(doc: dict[str, Any]) -> list[str]:
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


_POLICY_VALIDATOR = Draft202012Validator(POLICY_SCHEMA)


def policy_problems(doc: Any) -> list[str]:
    """Every problem of a ``warnings`` policy document (``policies/warnings.yaml``), each with its JSON
    path: the structure by :data:`POLICY_SCHEMA` first, then the semantics (bands inside the declared
    quantities' plausible ranges, dispose after acknowledge, yellow before blue). Empty when valid."""
    if not isinstance(doc, dict):
        return ["$: not a mapping"]
    problems = [f"${''.join(f'.{p}' for p in e.absolute_path)}: {e.message}"
                for e in sorted(_POLICY_VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]
    return problems or _policy_semantics(doc)


def validate_warnings_policy(doc: Any) -> None:
    """Check a ``warnings`` policy document (bootstrap or a ``policy_update`` proposal).

    Raises:
        InvalidInput: the first problem found (and how many more there are).
    """
    problems = policy_problems(doc)
    if problems:
        raise InvalidInput(f"warnings policy invalid: {problems[0]}"
                           + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))


def deadlines_of(stub: Any) -> dict[str, dict[str, int]]:
    """Deadlines by colour: the installed ``warnings`` policy's, else :data:`DEFAULT_DEADLINES`.

    Raises:
        InvalidInput: the installed policy's deadlines are not positive hours for every colour.
    """
    policy = find_policy(stub, "warnings")
    if policy is None or "deadlines" not in policy:
        return DEFAULT_DEADLINES
    table = policy["deadlines"]
    for colour in COLOURS:
        spec = table.get(colour) if isinstance(table, dict) else None
        if not isinstance(spec, dict) or any(isinstance(spec.get(k), bool) or not isinstance(spec.get(k), int)
                                             or spec[k] <= 0 for k in ("ack_h", "dispose_h")):
            raise InvalidInput(f"warnings policy: deadlines.{colour} needs positive integer ack_h and dispose_h")
    return {c: {"ack_h": table[c]["ack_h"], "dispose_h": table[c]["dispose_h"]} for c in COLOURS}


def colour_up(colour: str) -> str:
    """The next colour up (red stays red)."""
    return COLOURS[min(COLOURS.index(colour) + 1, len(COLOURS) - 1)]


def _note(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NOTE or "\x00" in value:
        raise InvalidInput(f"{name} must be 1..{MAX_NOTE} characters")
    return value


def validate_evidence(value: Any, required: bool) -> dict[str, Any]:
    """Check step evidence ``{note, digests: [hex SM3/SHA-256, ...]}`` (``{}`` allowed if not required).

    Raises:
        InvalidInput: malformed, or missing when required (a note and at least one digest).
    """
    if value in (None, {}) and not required:
        return {}
    if not isinstance(value, dict) or sorted(value) != ["digests", "note"]:
        raise InvalidInput("evidence must be an object with exactly note and digests")
    _note(value["note"], "evidence.note")
    digests = value["digests"]
    if not isinstance(digests, list) or not (1 if required else 0) <= len(digests) <= 32:
        raise InvalidInput(f"evidence.digests must list {'1' if required else '0'}..32 digests")
    for i, digest in enumerate(digests):
        require_hex64(digest, f"evidence.digests[{i}]")
    return {"note": value["note"], "digests": list(digests)}


def _device_evidence(value: Any) -> dict[str, Any]:
    fields = ["reading", "reading_digest"]
    if not isinstance(value, dict) or sorted(value) != fields:
        raise InvalidInput("device evidence must be an object with exactly reading, reading_digest")
    reading = value["reading"]
    keys = ["device", "org", "quantity", "seq", "ts", "unit", "value"]
    if not isinstance(reading, dict) or sorted(reading) != keys:
        raise InvalidInput(f"evidence.reading must have exactly {', '.join(keys)}")
    require_hex64(value["reading_digest"], "evidence.reading_digest")
    return {"reading": dict(reading), "reading_digest": value["reading_digest"]}


def validate_raise(doc: Any) -> dict[str, Any]:
    """Check a warning to raise (pure). Fields: warning_id (hex64, deterministic — the relay's dedup key),
    colour, source, subject (device id, hidden-danger or certificate id), rule, responsible_msp, summary,
    evidence (device/prediction: ``{reading, reading_digest}``; others: ``{note, digests}``).

    Raises:
        InvalidInput: every malformed field (the first one found).
    """
    fields = ["colour", "evidence", "responsible_msp", "rule", "source", "subject", "summary", "warning_id"]
    if not isinstance(doc, dict) or sorted(doc) != fields:
        raise InvalidInput(f"a warning must be an object with exactly {', '.join(fields)}")
    require_hex64(doc["warning_id"], "warning_id")
    if doc["colour"] not in COLOURS:
        raise InvalidInput(f"colour must be one of {', '.join(COLOURS)}")
    if doc["source"] not in SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(SOURCES)}")
    if not isinstance(doc["subject"], str) or not _SUBJECT.match(doc["subject"]):
        raise InvalidInput("subject must be an id: letters, digits, '.', '_', ':', '/', '-'; at most 128")
    if not isinstance(doc["rule"], str) or not _RULE.match(doc["rule"]):
        raise InvalidInput("rule must be a lower-case name of at most 32 characters")
    if not isinstance(doc["responsible_msp"], str) or not doc["responsible_msp"]:
        raise InvalidInput("responsible_msp must be an MSP id")
    _note(doc["summary"], "summary")
    if doc["source"] in ("device", "prediction"):
        evidence = _device_evidence(doc["evidence"])
        if evidence["reading"]["device"] != doc["subject"]:
            raise InvalidInput("evidence.reading.device must be the warning's subject device")
    else:
        evidence = validate_evidence(doc["evidence"], True)
    return {**doc, "evidence": evidence}


def new_warning(ctx: Any, doc: dict[str, Any], raised_by: str) -> dict[str, Any]:
    """The stored form of a validated warning raised now (deadlines from its colour)."""
    now = tx_time(ctx)
    limits = deadlines_of(ctx.stub)[doc["colour"]]
    return {**doc, "status": "raised", "initial_colour": doc["colour"], "raised_by": raised_by, "raised_at": now,
            "ack_deadline": now + 3600 * limits["ack_h"], "dispose_deadline": now + 3600 * limits["dispose_h"],
            "escalations": 0, "tx_id": ctx.stub.get_tx_id(), "updated_at": now,
            "history": [{"step": "raised", "status": "raised", "by": raised_by, "at": now, "colour": doc["colour"],
                         "tx_id": ctx.stub.get_tx_id()}]}


def require_raiser(ctx: Any, doc: dict[str, Any], device_owner: str | None) -> str:
    """The caller's MSP if it may raise ``doc``: a device's owner (device/prediction sources, the owner is
    the responsible unit), the responsible unit itself, or a regulator / inspection body.

    Raises:
        Forbidden: the caller is not an active member, or may not raise for this responsible unit.
        InvalidInput: the responsible unit is not an active member or not the device's owner.
    """
    msp = caller_msp(ctx)
    role = role_of(ctx.stub, msp)
    if role is None:
        raise Forbidden(f"{msp} is not an active member")
    responsible = member_of(ctx.stub, doc["responsible_msp"])
    if responsible is None or responsible.get("status") != "active":
        raise InvalidInput(f"responsible_msp {doc['responsible_msp']} is not an active member")
    if device_owner is not None and device_owner != doc["responsible_msp"]:
        raise InvalidInput(f"the responsible unit of a device warning is the device's owner {device_owner}")
    if msp != doc["responsible_msp"] and role not in RAISER_ROLES:
        raise Forbidden(f"{msp} (role {role}) may raise warnings only for itself")
    return msp


def check_step(ctx: Any, warning: dict[str, Any], step: str) -> str:
    """The caller's MSP if it may take ``step`` on ``warning`` now.

    Raises:
        InvalidInput: unknown step. Conflict: the warning is not in the step's starting status.
        Forbidden: the caller is not the responsible unit (responsible steps) or not a regulator /
            inspection body other than the responsible unit (verifier steps).
    """
    if step not in STEPS:
        raise InvalidInput(f"step must be one of {', '.join(STEPS)}")
    source, _, who, _ = STEPS[step]
    if warning["status"] != source:
        raise Conflict(f"warning {warning['warning_id'][:16]} is {warning['status']}: {step} needs {source}")
    msp = caller_msp(ctx)
    if who == "responsible":
        if msp != warning["responsible_msp"]:
            raise Forbidden(f"only the responsible unit {warning['responsible_msp']} may {step} this warning")
    else:
        role = role_of(ctx.stub, msp)
        if role not in VERIFIER_ROLES or msp == warning["responsible_msp"]:
            raise Forbidden(f"{msp} may not {step}: only a regulator or inspection body other than the "
                            "responsible unit")
    if len(warning["history"]) >= MAX_HISTORY:
        raise Conflict(f"warning {warning['warning_id'][:16]} has {MAX_HISTORY} history entries")
    return msp


def apply_step(ctx: Any, warning: dict[str, Any], step: str, evidence: Any) -> dict[str, Any]:
    """Take ``step`` (checked by :func:`check_step`) with its evidence; returns the updated warning.

    Raises:
        InvalidInput, Conflict, Forbidden: as :func:`check_step` and :func:`validate_evidence`.
    """
    msp = check_step(ctx, warning, step)
    attached = validate_evidence(evidence, STEPS[step][3])
    now = tx_time(ctx)
    status = STEPS[step][1]
    warning["history"].append({"step": step, "status": status, "by": msp, "at": now, "evidence": attached,
                               "tx_id": ctx.stub.get_tx_id()})
    warning.update(status=status, updated_at=now)
    return warning


def overdue(warning: dict[str, Any], now: int) -> str | None:
    """Which deadline a warning has missed at ``now`` (``"ack"`` / ``"dispose"``), or None."""
    if warning["status"] == "raised" and now > warning["ack_deadline"]:
        return "ack"
    if warning["status"] in ("raised", "acknowledged", "disposing") and now > warning["dispose_deadline"]:
        return "dispose"
    return None


def escalate(ctx: Any, warning: dict[str, Any], missed: str) -> dict[str, Any]:
    """Escalate an overdue warning: one colour up, deadlines restarted from now by the new colour."""
    now = tx_time(ctx)
    colour = colour_up(warning["colour"])
    limits = deadlines_of(ctx.stub)[colour]
    if len(warning["history"]) >= MAX_HISTORY:
        raise Conflict(f"warning {warning['warning_id'][:16]} has {MAX_HISTORY} history entries")
    warning["history"].append({"step": "escalated", "status": warning["status"], "by": caller_msp(ctx), "at": now,
                               "missed": missed, "from": warning["colour"], "colour": colour,
                               "tx_id": ctx.stub.get_tx_id()})
    warning.update(colour=colour, escalations=require_int(warning["escalations"], "escalations") + 1,
                   ack_deadline=now + 3600 * limits["ack_h"], dispose_deadline=now + 3600 * limits["dispose_h"],
                   updated_at=now)
    return warning
