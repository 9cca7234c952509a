"""Run CrossHair (SMT via z3) on the specs of :mod:`.specs` and collect counterexamples.

:func:`run_crosshair` runs ``python -m crosshair check --analysis_kind=PEP316`` on the named targets in a
fresh process (``extra_path`` first on the import path, for a mutated copy) and returns one
:class:`Counterexample` per failing condition line CrossHair prints (``file:line: error: ... when calling
f(...)``); an empty list means no counterexample was found within the time given per condition.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)

__all__ = ["Counterexample", "SymbolicError", "TARGETS", "run_crosshair"]

TARGETS = ("qcchain_verify.specs.grade_floor", "qcchain_verify.specs.grant_within_policy",
           "qcchain_verify.specs.threshold_count")
_LINE = re.compile(r"^(?P<where>[^:]+:\d+): error: (?P<what>.*)$")


class SymbolicError(RuntimeError):
    """CrossHair could not run (not installed, crashed)."""


@dataclass(frozen=True)
class Counterexample:
    """A condition CrossHair falsified: where, and the call that does it."""

    where: str
    message: str


def run_crosshair(targets: tuple[str, ...] = TARGETS, per_condition: float = 4.0, extra_path: str = "",
                  timeout: float = 600) -> list[Counterexample]:
    """Counterexamples CrossHair finds for ``targets``.

    Raises:
        SymbolicError: crosshair is missing or failed without reporting counterexamples.
    """
    env = dict(os.environ)
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join([extra_path, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316",
           f"--per_condition_timeout={per_condition}", *targets]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    found = [Counterexample(m["where"], m["what"]) for m in map(_LINE.match, proc.stdout.splitlines()) if m]
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not found):
        raise SymbolicError(f"crosshair failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-300:]}")
    return found
