"""Mutation test of the verification (T-9.2.5): each seeded bug, applied to a *copy* of the contracts and
model packages, must be caught by the bounded model check run on that copy in a fresh process.

A :class:`Mutant` names the file (relative to the package), the exact source text it replaces and the
invariant expected to fail. :func:`run_mutant` copies ``qcchain_contracts`` and ``qcchain_model`` into a
temporary directory, applies the edit (refusing when the text is not found exactly once: the seeded bug
must not silently stop applying), and runs ``python -m qcchain_verify`` with that directory first on the
import path.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qcchain_contracts
import qcchain_model

log = logging.getLogger(__name__)

__all__ = ["Mutant", "MUTANTS", "MutationError", "run_mutant"]


class MutationError(RuntimeError):
    """A mutant cannot be applied (its source text is not found exactly once) or its run failed."""


@dataclass(frozen=True)
class Mutant:
    """One seeded bug: ``package`` / ``path`` where ``old`` becomes ``new``; ``invariant`` must then fail."""

    name: str
    package: str
    path: str
    old: str
    new: str
    invariant: str


MUTANTS: tuple[Mutant, ...] = (
    Mutant("drop the freeze check", "qcchain_contracts", "lifecycle.py",
           'if unit["state"] == "frozen" and write and not governance:', "if False:", "frozen-refuses-writes"),
    Mutant("off-by-one majority threshold", "qcchain_model", "thresholds.py",
           "return eligible // 2 + 1", "return eligible // 2", "threshold"),
    Mutant("allow a destroyed thaw", "qcchain_model", "thresholds.py",
           '"thaw": {"frozen": "active"},', '"thaw": {"frozen": "active", "destroyed": "active"},', "destroyed-terminal"),
    Mutant("skip the purpose check", "qcchain_contracts", "sharing_rules.py",
           'and (purpose is None or grant.get("purpose") == purpose))', ")", "read-needs-audience-or-grant"),
    Mutant("grant uses not counted", "qcchain_contracts", "sharing_rules.py",
           'if grant.get("max_uses") is not None and grant.get("uses", 0) >= grant["max_uses"]:', "if False:",
           "read-needs-audience-or-grant"),
    Mutant("destroyed still serves reads", "qcchain_contracts", "lifecycle.py",
           'if unit["state"] == "destroyed":', 'if unit["state"] == "destroyed" and write:', "destroyed-serves-nothing"),
    Mutant("a grant read not logged", "qcchain_contracts", "entitlement.py",
           "    put_access(ctx.stub, entry)\n", "", "every-access-logged"),
    Mutant("warning steps out of order", "qcchain_contracts", "warning_rules.py",
           'if warning["status"] != source:', "if False:", "warning-order"),
    Mutant("responsible unit verifies its own disposal", "qcchain_contracts", "warning_rules.py",
           'if role not in VERIFIER_ROLES or msp == warning["responsible_msp"]:', "if role not in VERIFIER_ROLES:",
           "warning-roles"),
    Mutant("disposed warnings still escalate", "qcchain_contracts", "warning_rules.py",
           'if warning["status"] in ("raised", "acknowledged", "disposing") and now > warning["dispose_deadline"]:',
           'if now > warning["dispose_deadline"]:', "warning-escalation"),
    Mutant("a step rewrites the history", "qcchain_contracts", "warning_rules.py",
           '    warning["history"].append({"step": step,',
           '    warning["history"].clear()\n    warning["history"].append({"step": step,', "warning-nothing-deleted"),
    Mutant("resolve_reminder ignores the source", "qcchain_contracts", "warning_reminders.py",
           'if warning["source"] != REMINDER_SOURCE:', "if False:", "reminder-resolve"),
    Mutant("resolve_reminder closes a closed reminder again", "qcchain_contracts",
           "warning_reminders.py", 'if warning["status"] == "closed":', "if False:", "warning-closed-terminal"),
    Mutant("the responsible unit records its own renewal", "qcchain_contracts", "warning_reminders.py",
           'if role_of(ctx.stub, msp) not in VERIFIER_ROLES or msp == warning["responsible_msp"]:',
           "if role_of(ctx.stub, msp) not in VERIFIER_ROLES:", "warning-roles"),
    Mutant("a renewal due the same day resolves", "qcchain_contracts", "warning_reminders.py",
           'if dt.date.fromisoformat(attached["due"]) <= due:', 'if dt.date.fromisoformat(attached["due"]) < due:',
           "reminder-resolve"),
    Mutant("a refused renewal still writes history", "qcchain_contracts", "warning_reminders.py",
           "    attached = validate_renewal(renewal)\n",
           '    warning["history"].append({"step": "resolve_reminder"})\n    attached = validate_renewal(renewal)\n',
           "warning-refusal-writes-nothing"),
    Mutant("a refused warning is skipped in a batch", "qcchain_contracts", "warnings.py",
           'raise ContractError(f"warnings[{i}]: {exc.message}", exc.status) from None', "continue",
           "batch-all-or-nothing"),
    Mutant("an id twice in a batch", "qcchain_contracts", "warnings.py",
           'if doc["warning_id"] in seen:', "if False:", "batch-all-or-nothing"),
)

_PACKAGES = {"qcchain_contracts": qcchain_contracts, "qcchain_model": qcchain_model}


def _apply(root: Path, mutant: Mutant) -> None:
    for name, module in _PACKAGES.items():
        shutil.copytree(Path(module.__file__).resolve().parent, root / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    target = root / mutant.package / mutant.path
    text = target.read_text(encoding="utf-8")
    if text.count(mutant.old) != 1:
        raise MutationError(f"mutant {mutant.name!r}: its source text is found {text.count(mutant.old)} times in "
                            f"{mutant.package}/{mutant.path} (expected once)")
    target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def run_mutant(mutant: Mutant, policies: Path, n: int, depth: int, timeout: float = 120) -> list[dict[str, Any]]:
    """The model check's results on the mutated copy (list of machines with their violations).

    Raises:
        MutationError: the mutant does not apply, or the checker crashed instead of reporting.
    """
    with tempfile.TemporaryDirectory(prefix="qcchain-mutant-") as tmp:
        root = Path(tmp)
        _apply(root, mutant)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
               "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run([sys.executable, "-m", "qcchain_verify", str(policies), str(n), str(depth)],
                              capture_output=True, text=True, env=env, timeout=timeout, check=False)
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            raise MutationError(f"mutant {mutant.name!r}: the checker failed: {proc.stderr.strip()[-300:]}")
        loaded = json.loads(proc.stdout)
        return list(loaded)
