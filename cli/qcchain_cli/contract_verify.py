"""``qcchain contract verify [PATH]`` (T-9.2.5): CrossHair symbolic checks of the contracts' pre/postconditions
and the exhaustive bounded model check of the governance, lifecycle and sharing state machines; ``--mutants``
also proves the checks bite (each seeded bug in a copy must be caught). PATH: a directory holding a
``qcchain_contracts`` package (and optionally ``qcchain_model``) to check instead of the installed one.
Exit 0 only when nothing failed. Click command ``verify``; the ``contract`` group registers it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from .errors import CliError

ROOT_POLICIES = Path("policies")


@click.command("verify")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--policies", type=click.Path(exists=True, file_okay=False, path_type=Path), default=ROOT_POLICIES,
              show_default=True, help="Policy directory (governance.yaml, grading.yaml, sharing.yaml).")
@click.option("-n", "--orgs", type=click.IntRange(1, 8), default=5, show_default=True, help="Orgs in the model.")
@click.option("-k", "--depth", type=click.IntRange(1, 40), default=12, show_default=True, help="Steps explored.")
@click.option("--per-condition", type=float, default=3.0, show_default=True, help="CrossHair seconds per condition.")
@click.option("--no-symbolic", is_flag=True, help="Skip CrossHair.")
@click.option("--mutants", is_flag=True, help="Also run the seeded-bug mutation test.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(path: Path | None, policies: Path, orgs: int, depth: int, per_condition: float, no_symbolic: bool,
           mutants: bool, as_json: bool) -> None:
    """Formal verification of a contract package (default: the installed qcchain_contracts)."""
    from qcchain_verify.mutation import MUTANTS, run_mutant
    from qcchain_verify.symbolic import SymbolicError, run_crosshair

    extra = str(path.resolve()) if path else ""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (extra, os.environ.get("PYTHONPATH", "")) if p),
           "QCCHAIN_VERIFY_POLICIES": str(policies.resolve())}
    proc = subprocess.run([sys.executable, "-m", "qcchain_verify", str(policies), str(orgs), str(depth)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode not in (0, 1):
        raise CliError(f"model check failed to run: {proc.stderr.strip()[-300:]}")
    report: dict = {"model_check": json.loads(proc.stdout), "symbolic": None, "mutants": None}
    if not no_symbolic:
        try:
            report["symbolic"] = [c.__dict__ for c in run_crosshair(per_condition=per_condition, extra_path=extra)]
        except SymbolicError as exc:
            raise CliError(str(exc)) from exc
    if mutants:
        report["mutants"] = {m.name: any(v["invariant"] == m.invariant for r in run_mutant(m, policies, 3, 10)
                                         for v in r["violations"]) for m in MUTANTS}
    failed = (any(r["violations"] for r in report["model_check"]) or bool(report["symbolic"])
              or (report["mutants"] is not None and not all(report["mutants"].values())))
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        for r in report["model_check"]:
            click.echo(f"model check {r['machine']}: {r['states']} states, {r['transitions']} transitions, "
                       f"{len(r['violations'])} violation(s) (n={orgs}, k={depth})")
            for v in r["violations"]:
                click.echo(f"  {v['invariant']}: {v['detail']}\n    trace: " + " -> ".join(v["trace"]))
        if report["symbolic"] is not None:
            click.echo(f"crosshair: {len(report['symbolic'])} counterexample(s)")
            for c in report["symbolic"]:
                click.echo(f"  {c['where']}: {c['message']}")
        for name, caught in (report["mutants"] or {}).items():
            click.echo(f"mutant {name}: {'caught' if caught else 'NOT CAUGHT'}")
    if failed:
        raise CliError("verification failed (see above)")
