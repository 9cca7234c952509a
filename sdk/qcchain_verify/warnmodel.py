"""Bounded model check of the warnings closed loop (``qcchain_contracts.warning_rules``).

One warning raised ``blue`` for a responsible org; ``n`` orgs (roles as :data:`.machine.ROLES`) try every
step (acknowledge, start, dispose, verify, close) through :func:`warning_rules.apply_step`, time jumps past
the next deadline, and :func:`warning_rules.overdue` / :func:`warning_rules.escalate` escalate it — every
interleaving up to ``depth``. Oracles, written independently of the contract code:

* ``warning-order`` — a step is served only from the status just before it in raised → acknowledged →
  disposing → disposed → verified → closed, and moves exactly one status on;
* ``warning-roles`` — acknowledge / start / dispose only by the responsible org; verify / close only by a
  regulator or inspection body other than the responsible org;
* ``warning-closed-terminal`` — nothing changes a closed warning;
* ``warning-escalation`` — escalation happens only past a deadline the status still owes (acknowledgement
  while raised, disposal until disposed), raises the colour by one (red stays red) and never lowers it.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from qcchain_contracts import warning_rules
from qcchain_contracts.errors import ContractError

from .machine import ROLES, Ctx, Result, Stub, bfs

__all__ = ["ORDER", "RESPONSIBLE_ROLES", "check_warnings"]

ORDER = ("raised", "acknowledged", "disposing", "disposed", "verified", "closed")
COLOURS = ("blue", "yellow", "orange", "red")
OWED_ACK, OWED_DISPOSAL = ("raised",), ("raised", "acknowledged", "disposing")
#: The model runs once with a using unit responsible and once with an inspection body responsible (which
#: must then not verify its own disposal).
RESPONSIBLE_ROLES = ("using_unit", "inspection_body")
EVIDENCE = {"note": "done", "digests": ["ab" * 32]}
# state: (status, colour, ack_deadline, dispose_deadline, now)


def _stub(n: int, now: int) -> Stub:
    stub = Stub(now=now, tx_id="w")
    for i in range(n):
        member = {"msp_id": f"Org{i}", "role": ROLES[i % len(ROLES)], "status": "active"}
        stub.put_state(stub.create_composite_key("gov.member", [member["msp_id"]]), json.dumps(member).encode())
    return stub


def _warning(state: tuple[Any, ...], responsible: str) -> dict[str, Any]:
    status, colour, ack, dispose, _now = state
    return {"warning_id": "ab" * 32, "status": status, "colour": colour, "responsible_msp": responsible,
            "ack_deadline": ack, "dispose_deadline": dispose, "escalations": 0, "history": [{"step": "raised"}]}


def _state(warning: dict[str, Any], now: int) -> tuple[Any, ...]:
    return (warning["status"], warning["colour"], warning["ack_deadline"], warning["dispose_deadline"], now)


def _oracle_may(step_index: int, org: str, role: str, responsible: str) -> bool:
    if step_index < 3:  # acknowledge, start, dispose
        return org == responsible
    return role in ("regulator", "inspection_body") and org != responsible


def _steps(state: tuple[Any, ...], n: int, responsible: str) -> Iterator[tuple[str, Any, list[tuple[str, str]]]]:
    status, colour, ack, dispose, now = state
    for org_index, (step, spec) in ((i, s) for i in range(n) for s in warning_rules.STEPS.items()):
        org, role = f"Org{org_index}", ROLES[org_index % len(ROLES)]
        warning = _warning(state, responsible)
        try:
            warning_rules.apply_step(Ctx(_stub(n, now), org), warning, step, EVIDENCE)  # type: ignore[arg-type]
        except ContractError:
            continue
        bad = []
        after = warning["status"]
        if status == "closed":
            bad.append(("warning-closed-terminal", f"{org} took {step} on a closed warning"))
        elif status not in ORDER[:-1] or after != ORDER[ORDER.index(status) + 1]:
            bad.append(("warning-order", f"{step} moved a {status} warning to {after}"))
        index = list(warning_rules.STEPS).index(step)
        if not _oracle_may(index, org, role, responsible):
            bad.append(("warning-roles", f"{org} ({role}) took {step} on a warning of {responsible}"))
        yield f"{org} {step} -> {after}", _state(warning, now), bad
    later = sorted(t for t in (ack, dispose) if t >= now)
    if later and status != "closed":
        yield f"time passes to {later[0] + 1}", (status, colour, ack, dispose, later[0] + 1), []
    warning = _warning(state, responsible)
    missed = warning_rules.overdue(warning, now)
    if missed is None:
        return
    try:
        warning_rules.escalate(Ctx(_stub(n, now), "Org0"), warning, missed)  # type: ignore[arg-type]
    except ContractError:
        return
    bad = []
    owed = (status in OWED_ACK and now > ack) or (status in OWED_DISPOSAL and now > dispose)
    if status == "closed" or not owed:
        bad.append(("warning-escalation", f"a {status} warning escalated at {now} (deadlines {ack}/{dispose})"))
    if COLOURS.index(warning["colour"]) != min(COLOURS.index(colour) + 1, len(COLOURS) - 1):
        bad.append(("warning-escalation", f"escalation moved {colour} to {warning['colour']}"))
    yield f"escalate ({missed}) -> {warning['colour']}", _state(warning, now), bad


def check_warnings(n: int, depth: int, responsible_role: str = "using_unit") -> Result:
    """The closed loop of one warning among ``n`` orgs (≥ 3), the responsible org of ``responsible_role``.

    Raises:
        ValueError: no org of that role among ``n`` orgs.
    """
    roles = [ROLES[i % len(ROLES)] for i in range(n)]
    if responsible_role not in roles:
        raise ValueError(f"no {responsible_role} among {n} orgs")
    responsible = f"Org{roles.index(responsible_role)}"
    limits = warning_rules.DEFAULT_DEADLINES["blue"]
    start = ("raised", "blue", 3600 * limits["ack_h"], 3600 * limits["dispose_h"], 0)
    return bfs(f"warnings ({responsible_role} responsible)", start, lambda s: _steps(s, n, responsible), depth)
