"""Bounded model check of the warnings closed loop (``qcchain_contracts.warning_rules``) and of expiry
reminders closed by their renewal (``qcchain_contracts.warning_reminders.resolve``, ``warnings:resolve_reminder``).

One warning raised ``blue`` for a responsible org — of source ``rectification`` or ``expiry`` (a reminder
whose evidence note records ``due 2027-01-10``; both carry that note, so only the source tells them apart);
``n`` orgs (roles as :data:`.machine.ROLES`) try every step (acknowledge, start, dispose, verify, close)
through :func:`warning_rules.apply_step` and ``resolve_reminder`` with every renewal of :data:`RENEWALS`
(earlier, same, later due date, malformed) through :func:`warning_reminders.resolve`, time jumps past the next
deadline, and :func:`warning_rules.overdue` / :func:`warning_rules.escalate` escalate it — every interleaving
up to ``depth``. Oracles, written independently of the contract code:

* ``warning-order`` — a step is served only from the status just before it in raised → acknowledged →
  disposing → disposed → verified → closed, and moves exactly one status on;
* ``warning-roles`` — acknowledge / start / dispose only by the responsible org; verify / close /
  resolve_reminder only by a regulator or inspection body other than the responsible org;
* ``warning-closed-terminal`` — nothing changes a closed warning (no step, no renewal, no escalation);
* ``warning-escalation`` — escalation happens only past a deadline the status still owes (acknowledgement
  while raised, disposal until disposed), raises the colour by one (red stays red) and never lowers it;
* ``reminder-resolve`` — ``resolve_reminder`` is served only on an ``expiry`` warning, from an open status,
  with a well-formed renewal whose due date is later than the reminder's; it then closes the warning,
  records the renewed due date and changes neither colour nor deadlines;
* ``warning-nothing-deleted`` — a served transition keeps every field and the whole history, adding exactly
  one history entry;
* ``warning-refusal-writes-nothing`` — a refused transition leaves the warning exactly as it was.

A batch raise (``raise_warnings``) is not a transition of this machine: it is N single raises, each checked
as ``raise_warning`` before anything is written and the whole transaction refused if one is refused, so each
warning it raises starts this machine at ``raised`` exactly as a single raise does.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Iterator

from qcchain_contracts import warning_reminders, warning_rules
from qcchain_contracts.errors import ContractError

from .machine import ROLES, Ctx, Result, Stub, bfs

__all__ = ["ORDER", "RESPONSIBLE_ROLES", "SOURCES", "RENEWALS", "check_warnings"]

ORDER = ("raised", "acknowledged", "disposing", "disposed", "verified", "closed")
COLOURS = ("blue", "yellow", "orange", "red")
OWED_ACK, OWED_DISPOSAL = ("raised",), ("raised", "acknowledged", "disposing")
#: The model runs once with a using unit responsible and once with an inspection body responsible (which
#: must then not verify its own disposal).
RESPONSIBLE_ROLES = ("using_unit", "inspection_body")
#: The model runs once for a closed-loop warning and once for an expiry reminder.
SOURCES = ("rectification", "expiry")
EVIDENCE = {"note": "done", "digests": ["ab" * 32]}
DUE = "2027-01-10"
RAISE_EVIDENCE = {"note": f"due {DUE} certificate C-1", "digests": ["cd" * 32]}
#: label -> renewal offered to ``resolve_reminder``; only ``later`` may be served.
RENEWALS: dict[str, dict[str, Any]] = {
    "earlier": {"due": "2027-01-09", "note": "renewed", "digests": ["ef" * 32]},
    "same": {"due": DUE, "note": "renewed", "digests": ["ef" * 32]},
    "later": {"due": "2028-01-10", "note": "renewed", "digests": ["ef" * 32]},
    "malformed": {"due": "2028-13-40", "note": "renewed", "digests": ["ef" * 32]},
}
# state: (status, colour, ack_deadline, dispose_deadline, now)


def _stub(n: int, now: int) -> Stub:
    stub = Stub(now=now, tx_id="w")
    for i in range(n):
        member = {"msp_id": f"Org{i}", "role": ROLES[i % len(ROLES)], "status": "active"}
        stub.put_state(stub.create_composite_key("gov.member", [member["msp_id"]]), json.dumps(member).encode())
    return stub


def _warning(state: tuple[Any, ...], responsible: str, source: str) -> dict[str, Any]:
    status, colour, ack, dispose, _now = state
    return {"warning_id": "ab" * 32, "status": status, "colour": colour, "responsible_msp": responsible,
            "source": source, "evidence": copy.deepcopy(RAISE_EVIDENCE), "ack_deadline": ack,
            "dispose_deadline": dispose, "escalations": 0, "history": [{"step": "raised"}]}


def _state(warning: dict[str, Any], now: int) -> tuple[Any, ...]:
    return (warning["status"], warning["colour"], warning["ack_deadline"], warning["dispose_deadline"], now)


def _oracle_may(step_index: int, org: str, role: str, responsible: str) -> bool:
    """Index 0..2: acknowledge, start, dispose; 3, 4: verify, close; 5: resolve_reminder."""
    if step_index < 3:
        return org == responsible
    return role in ("regulator", "inspection_body") and org != responsible


def _kept(before: dict[str, Any], after: dict[str, Any], what: str) -> list[tuple[str, str]]:
    """``warning-nothing-deleted``: every field kept, the history kept with exactly one entry added."""
    lost = sorted(set(before) - set(after))
    history = after.get("history", [])
    if lost or len(history) != len(before["history"]) + 1 or history[:len(before["history"])] != before["history"]:
        return [("warning-nothing-deleted", f"{what} dropped fields {lost} or rewrote the history "
                                            f"({len(before['history'])} -> {len(history)} entries)")]
    return []


def _attempt(fn: Any, warning: dict[str, Any]) -> tuple[bool, list[tuple[str, str]]]:
    """Run ``fn(warning)``; (served, [``warning-refusal-writes-nothing`` if refused and the warning changed])."""
    before = copy.deepcopy(warning)
    try:
        fn(warning)
    except ContractError as exc:
        if warning != before:
            return False, [("warning-refusal-writes-nothing", f"refused ({exc.message}) but changed the warning")]
        return False, []
    return True, []


def _steps(state: tuple[Any, ...], n: int, responsible: str, source: str
           ) -> Iterator[tuple[str, Any, list[tuple[str, str]]]]:
    status, colour, ack, dispose, now = state
    for org_index, (step, spec) in ((i, s) for i in range(n) for s in warning_rules.STEPS.items()):
        org, role = f"Org{org_index}", ROLES[org_index % len(ROLES)]
        warning = _warning(state, responsible, source)
        before = copy.deepcopy(warning)
        ctx = Ctx(_stub(n, now), org)
        served, bad = _attempt(lambda w: warning_rules.apply_step(ctx, w, step, EVIDENCE), warning)
        if not served:
            if bad:
                yield f"{org} {step} (refused)", state, bad
            continue
        after = warning["status"]
        if status == "closed":
            bad.append(("warning-closed-terminal", f"{org} took {step} on a closed warning"))
        elif status not in ORDER[:-1] or after != ORDER[ORDER.index(status) + 1]:
            bad.append(("warning-order", f"{step} moved a {status} warning to {after}"))
        index = list(warning_rules.STEPS).index(step)
        if not _oracle_may(index, org, role, responsible):
            bad.append(("warning-roles", f"{org} ({role}) took {step} on a warning of {responsible}"))
        yield f"{org} {step} -> {after}", _state(warning, now), bad + _kept(before, warning, step)
    yield from _resolves(state, n, responsible, source)
    later = sorted(t for t in (ack, dispose) if t >= now)
    if later and status != "closed":
        yield f"time passes to {later[0] + 1}", (status, colour, ack, dispose, later[0] + 1), []
    warning = _warning(state, responsible, source)
    missed = warning_rules.overdue(warning, now)
    if missed is None:
        return
    before = copy.deepcopy(warning)
    served, bad = _attempt(lambda w: warning_rules.escalate(Ctx(_stub(n, now), "Org0"), w, missed), warning)
    if not served:
        if bad:
            yield "escalate (refused)", state, bad
        return
    owed = (status in OWED_ACK and now > ack) or (status in OWED_DISPOSAL and now > dispose)
    if status == "closed" or not owed:
        bad.append(("warning-escalation", f"a {status} warning escalated at {now} (deadlines {ack}/{dispose})"))
    if COLOURS.index(warning["colour"]) != min(COLOURS.index(colour) + 1, len(COLOURS) - 1):
        bad.append(("warning-escalation", f"escalation moved {colour} to {warning['colour']}"))
    yield f"escalate ({missed}) -> {warning['colour']}", _state(warning, now), bad + _kept(before, warning, "escalate")


def _resolves(state: tuple[Any, ...], n: int, responsible: str, source: str
              ) -> Iterator[tuple[str, Any, list[tuple[str, str]]]]:
    """``resolve_reminder`` by every org with every renewal of :data:`RENEWALS`."""
    status, colour, ack, dispose, now = state
    for org_index, label in ((i, r) for i in range(n) for r in RENEWALS):
        org, role = f"Org{org_index}", ROLES[org_index % len(ROLES)]
        warning = _warning(state, responsible, source)
        before = copy.deepcopy(warning)
        ctx = Ctx(_stub(n, now), org)
        renewal = copy.deepcopy(RENEWALS[label])
        served, bad = _attempt(lambda w: warning_reminders.resolve(ctx, w, renewal), warning)
        if not served:
            if bad:
                yield f"{org} resolve_reminder {label} (refused)", state, bad
            continue
        if status == "closed":
            bad.append(("warning-closed-terminal", f"{org} resolved a closed reminder"))
        if source != "expiry" or status not in ORDER[:-1] or label != "later":
            bad.append(("reminder-resolve", f"{org} resolved a {status} {source} warning with the {label} renewal"))
        if (warning["status"], warning.get("renewed_due")) != ("closed", RENEWALS["later"]["due"]) or \
                (warning["colour"], warning["ack_deadline"], warning["dispose_deadline"]) != (colour, ack, dispose):
            bad.append(("reminder-resolve", f"resolve_reminder left {warning['status']}, renewed_due "
                                            f"{warning.get('renewed_due')}, colour {warning['colour']}"))
        if not _oracle_may(5, org, role, responsible):
            bad.append(("warning-roles", f"{org} ({role}) resolved a reminder of {responsible}"))
        yield (f"{org} resolve_reminder {label} -> {warning['status']}", _state(warning, now),
               bad + _kept(before, warning, "resolve_reminder"))


def check_warnings(n: int, depth: int, responsible_role: str = "using_unit", source: str = "rectification"
                   ) -> Result:
    """The closed loop of one warning of ``source`` among ``n`` orgs (≥ 3), the responsible org of
    ``responsible_role``; machine ``warnings (...)`` or, for ``expiry``, ``expiry reminders (...)``.

    Raises:
        ValueError: no org of that role among ``n`` orgs, or a source not in :data:`SOURCES`.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    roles = [ROLES[i % len(ROLES)] for i in range(n)]
    if responsible_role not in roles:
        raise ValueError(f"no {responsible_role} among {n} orgs")
    responsible = f"Org{roles.index(responsible_role)}"
    limits = warning_rules.DEFAULT_DEADLINES["blue"]
    start = ("raised", "blue", 3600 * limits["ack_h"], 3600 * limits["dispose_h"], 0)
    name = "expiry reminders" if source == "expiry" else "warnings"
    return bfs(f"{name} ({responsible_role} responsible)", start, lambda s: _steps(s, n, responsible, source), depth)
