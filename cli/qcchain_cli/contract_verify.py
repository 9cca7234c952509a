"""``qcchain contract verify [PATH]`` (T-9.2.5): CrossHair symbolic checks of the contracts' pre/postconditions
and the exhaustive bounded model check of the governance, lifecycle, sharing, warnings and access-log state
machines; ``--mutants`` also proves the checks bite (each seeded bug in a copy must be caught). PATH: a
directory holding a ``qcchain_contracts`` package (and optionally ``qcchain_model``) to check instead of the
installed one. Exit 0 only when nothing failed. Click command ``verify``; the ``contract`` group registers it.

:func:`run_verification` builds the report (also run by ``contract compile``, which writes it beside the
package as the verification evidence the deploy/upgrade proposal names by SM3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from .errors import CliError

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


def default_policies() -> Path:
    """``./policies`` when the working directory has one, else the source tree's ``policies/``."""
    return Path("policies") if Path("policies").is_dir() else REPO_POLICIES


def run_verification(path: Path | None, policies: Path, orgs: int = 5, depth: int = 12, per_condition: float = 3.0,
                     symbolic: bool = True, mutants: bool = False, modules: tuple[str, ...] = ()) -> dict[str, Any]:
    """The verification report ``{model_check, symbolic, symbolic_targets, mutants, settings}``; ``modules``
    (importable from ``path``) are also checked by CrossHair against their own PEP 316 conditions.

    Raises:
        CliError: the model check or CrossHair could not run.
    """
    from qcchain_verify.mutation import MUTANTS, run_mutant
    from qcchain_verify.symbolic import TARGETS, SymbolicError, run_crosshair

    extra = str(path.resolve()) if path else ""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (extra, os.environ.get("PYTHONPATH", "")) if p),
           "QCCHAIN_VERIFY_POLICIES": str(policies.resolve())}
    proc = subprocess.run([sys.executable, "-m", "qcchain_verify", str(policies), str(orgs), str(depth)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode not in (0, 1):
        raise CliError(f"model check failed to run: {proc.stderr.strip()[-300:]}")
    targets = TARGETS + tuple(modules)
    report: dict[str, Any] = {"model_check": json.loads(proc.stdout), "symbolic": None, "symbolic_targets": [],
                              "mutants": None, "settings": {"orgs": orgs, "depth": depth,
                                                            "per_condition": per_condition}}
    if symbolic:
        try:
            report["symbolic"] = [c.__dict__ for c in run_crosshair(targets, per_condition=per_condition,
                                                                    extra_path=extra)]
        except SymbolicError as exc:
            raise CliError(str(exc)) from exc
        report["symbolic_targets"] = list(targets)
    if mutants:
        report["mutants"] = {m.name: any(v["invariant"] == m.invariant for r in run_mutant(m, policies, 3, 10)
                                         for v in r["violations"]) for m in MUTANTS}
    return report


def report_failed(report: dict[str, Any]) -> bool:
    """True when the model check found a violation, CrossHair a counterexample, or a mutant escaped."""
    return (any(r["violations"] for r in report["model_check"]) or bool(report["symbolic"])
            or (report["mutants"] is not None and not all(report["mutants"].values())))


def summary(report: dict[str, Any]) -> str:
    """One line: machines, states and violations, CrossHair counterexamples, mutants caught."""
    checks = report["model_check"]
    text = (f"model check: {len(checks)} machines, {sum(r['states'] for r in checks)} states, "
            f"{sum(len(r['violations']) for r in checks)} violation(s) (n={report['settings']['orgs']}, "
            f"k={report['settings']['depth']})")
    text += ("; crosshair: not run" if report["symbolic"] is None else
             f"; crosshair: {len(report['symbolic_targets'])} target(s), {len(report['symbolic'])} counterexample(s)")
    if report["mutants"] is not None:
        text += f"; mutants caught {sum(report['mutants'].values())}/{len(report['mutants'])}"
    return text


def print_report(report: dict[str, Any]) -> None:
    """Human-readable report on stdout."""
    settings = report["settings"]
    for r in report["model_check"]:
        click.echo(f"model check {r['machine']}: {r['states']} states, {r['transitions']} transitions, "
                   f"{len(r['violations'])} violation(s) (n={settings['orgs']}, k={settings['depth']})")
        for v in r["violations"]:
            click.echo(f"  {v['invariant']}: {v['detail']}\n    trace: " + " -> ".join(v["trace"]))
    if report["symbolic"] is not None:
        click.echo(f"crosshair: {len(report['symbolic'])} counterexample(s)")
        for c in report["symbolic"]:
            click.echo(f"  {c['where']}: {c['message']}")
    for name, caught in (report["mutants"] or {}).items():
        click.echo(f"mutant {name}: {'caught' if caught else 'NOT CAUGHT'}")


@click.command("verify")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--policies", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Policy directory (governance.yaml, grading.yaml, sharing.yaml, warnings.yaml); default "
                   "./policies, else the source tree's.")
@click.option("-n", "--orgs", type=click.IntRange(1, 8), default=5, show_default=True, help="Orgs in the model.")
@click.option("-k", "--depth", type=click.IntRange(1, 40), default=12, show_default=True, help="Steps explored.")
@click.option("--per-condition", type=float, default=3.0, show_default=True, help="CrossHair seconds per condition.")
@click.option("--no-symbolic", is_flag=True, help="Skip CrossHair.")
@click.option("--mutants", is_flag=True, help="Also run the seeded-bug mutation test.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(path: Path | None, policies: Path | None, orgs: int, depth: int, per_condition: float, no_symbolic: bool,
           mutants: bool, as_json: bool) -> None:
    """Formal verification of a contract package (default: the installed qcchain_contracts)."""
    report = run_verification(path, policies or default_policies(), orgs, depth, per_condition, not no_symbolic,
                              mutants)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        print_report(report)
    if report_failed(report):
        raise CliError("verification failed (see above)")
