"""CrossHair (z3) checks the pre/postconditions of qcchain_verify.specs over the contracts' code: the project
passes; seeded bugs in a copy give counterexamples."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

pytest.importorskip("crosshair", reason="crosshair-tool is not installed (pip install crosshair-tool)")

from qcchain_verify.mutation import MUTANTS, Mutant, _apply  # noqa: E402
from qcchain_verify.symbolic import TARGETS, run_crosshair  # noqa: E402

CEILING = Mutant("grant ceiling off by one", "qcchain_contracts", "sharing_rules.py",
                 'elif grade_rank(terms["max_grade"]) > grade_rank(ceiling):',
                 'elif grade_rank(terms["max_grade"]) > grade_rank(ceiling) + 1:', "")


def test_project_specs_hold() -> None:
    assert run_crosshair(TARGETS, per_condition=2.0) == []


@pytest.mark.parametrize("mutant,target", [(MUTANTS[1], "threshold_count"), (CEILING, "grant_within_policy")],
                         ids=["threshold off by one", "grant ceiling"])
def test_seeded_bug_gives_counterexample(mutant: Mutant, target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _apply(Path(tmp), mutant)
        found = run_crosshair((f"qcchain_verify.specs.{target}",), per_condition=3.0, extra_path=tmp)
    assert found and all(f"calling {target}(" in c.message for c in found), found


def test_cli_verify_reports_and_fails_on_a_mutant(tmp_path: Path) -> None:
    import click
    from click.testing import CliRunner

    from qcchain_cli.contract_verify import verify

    root = Path(__file__).resolve().parents[2] / "policies"
    ok = CliRunner().invoke(verify, ["--policies", str(root), "-n", "3", "-k", "8", "--no-symbolic"])
    assert ok.exit_code == 0, ok.output
    assert "lifecycle+governance" in ok.output and "0 violation(s)" in ok.output
    _apply(tmp_path, MUTANTS[0])
    bad = CliRunner().invoke(verify, [str(tmp_path), "--policies", str(root), "-n", "3", "-k", "8", "--no-symbolic"])
    assert bad.exit_code != 0 and "frozen-refuses-writes" in bad.output and "trace:" in bad.output
    assert isinstance(verify, click.Command)
