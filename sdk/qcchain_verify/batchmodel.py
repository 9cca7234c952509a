"""Bounded check of the warnings batch raise (``warnings:raise_warnings``) against single raises.

The contract's own transactions run on the dict-backed :class:`.machine.Stub`, which — unlike a peer — keeps
the writes of a refused call, so "nothing written" is the contract's own doing (checked before writing),
not the peer's. ``n`` orgs (roles as :data:`.machine.ROLES`) submit every batch of 1..``size`` warnings
drawn from :data:`ITEMS` (two good closed-loop warnings for ``Org2``, one with an unknown colour, one for
an org that is not a member) on every ledger reachable within ``depth`` batches. Oracles, independent of
the contract code:

* ``batch-all-or-nothing`` — a batch is refused exactly when it holds a malformed warning, an id twice, or
  a new warning the caller may not raise (not the responsible unit, not a regulator / inspection body; an id
  already raised is answered as a duplicate whoever sends it), and a refused batch leaves the ledger byte for
  byte as it was;
* ``batch-as-singles`` — a served batch leaves every warning record and the open index exactly as the same
  warnings raised one by one by ``raise_warning`` in order, answers ``duplicate`` exactly for the ids raised
  before, and deletes no key.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Iterator

from qcchain_contracts.errors import ContractError
from qcchain_contracts.warnings import Warnings

from .machine import ROLES, Ctx, Result, Stub, bfs
from .warnmodel import _stub

__all__ = ["ITEMS", "check_batch"]

_RESPONSIBLE = "Org2"


def _item(wid: str, **over: Any) -> dict[str, Any]:
    return {"warning_id": wid * 64, "colour": "blue", "source": "rectification", "subject": "hd-1",
            "rule": "hidden_danger", "responsible_msp": _RESPONSIBLE, "summary": "s",
            "evidence": {"note": "found", "digests": ["ab" * 32]}, **over}


#: label -> (warning, well formed for any caller)
ITEMS: dict[str, tuple[dict[str, Any], bool]] = {
    "A": (_item("a"), True),
    "B": (_item("b", colour="yellow"), True),
    "bad": (_item("c", colour="purple"), False),
    "stranger": (_item("d", responsible_msp="Org9"), False),
}


def _wrn(stub: Stub) -> dict[str, bytes]:
    return {k: v for k, v in stub.state.items() if "wrn." in k}


def _steps(state: frozenset[str], n: int, size: int) -> Iterator[tuple[str, Any, list[tuple[str, str]]]]:
    base = _stub(n, 0)
    for label in sorted(state):  # the ledger: the warnings raised so far (by the responsible org)
        Warnings().raise_warning(Ctx(base, _RESPONSIBLE), copy.deepcopy(ITEMS[label][0]))
    for org_index, length in itertools.product(range(n), range(1, size + 1)):
        org, role = f"Org{org_index}", ROLES[org_index % len(ROLES)]
        for labels in itertools.product(ITEMS, repeat=length):
            yield _one(base, state, org, role, labels, n)


def _one(base: Stub, state: frozenset[str], org: str, role: str, labels: tuple[str, ...], n: int
         ) -> tuple[str, Any, list[tuple[str, str]]]:
    stub = Stub(now=base.now, tx_id="b")
    stub.state = dict(base.state)
    items = [copy.deepcopy(ITEMS[label][0]) for label in labels]
    bad: list[tuple[str, str]] = []
    name = f"{org} raise_warnings {list(labels)}"
    try:
        out = Warnings().raise_warnings(Ctx(stub, org), items)
    except ContractError:
        out = None
    may = role in ("regulator", "inspection_body") or org == _RESPONSIBLE
    # an id already raised is answered as a duplicate whoever sends it (relays deliver at least once)
    should = all(ITEMS[label][1] and (may or label in state) for label in labels) and len(set(labels)) == len(labels)
    if (out is not None) != should:
        bad.append(("batch-all-or-nothing", f"{name} {'served' if out is not None else 'refused'}"))
    if out is None:
        if stub.state != base.state:
            bad.append(("batch-all-or-nothing", f"{name} was refused but wrote {sorted(set(stub.state) ^ set(base.state))[:3]}"))
        return f"{name} (refused)", state, bad
    singles = Stub(now=base.now, tx_id="b")
    singles.state = dict(base.state)
    for label in labels:
        try:
            Warnings().raise_warning(Ctx(singles, org), copy.deepcopy(ITEMS[label][0]))
        except ContractError as exc:
            bad.append(("batch-as-singles", f"{name} was served but a single raise of {label} is refused "
                                            f"({exc.message})"))
    if _wrn(stub) != _wrn(singles) or not set(base.state) <= set(stub.state):
        bad.append(("batch-as-singles", f"{name} left warnings unlike {len(labels)} single raises"))
    if [a["duplicate"] for a in out["warnings"]] != [label in state for label in labels]:
        bad.append(("batch-as-singles", f"{name} answered duplicates {[a['duplicate'] for a in out['warnings']]}"))
    stored = frozenset(label for label, (item, _ok) in ITEMS.items() if "\x00wrn.w\x00" + item["warning_id"] + "\x00"
                       in stub.state)
    return f"{name} -> raised {out['raised']}", stored, bad


def check_batch(n: int, depth: int, size: int = 2) -> Result:
    """Batches of 1..``size`` warnings by ``n`` orgs (≥ 3), up to ``depth`` batches from an empty ledger."""
    return bfs("warnings batch raise", frozenset(), lambda s: _steps(s, n, size), depth)
