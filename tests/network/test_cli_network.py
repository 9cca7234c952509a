"""``qcchain network validate`` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from click.testing import CliRunner

from qcchain_cli.main import cli


def test_validate_default() -> None:
    result = CliRunner().invoke(cli, ["network", "validate"])
    assert result.exit_code == 0, result.output
    assert "consortium qcchain: valid" in result.output
    assert "channel inspection-channel: Inspection, Regulator" in result.output


def test_validate_lists_every_problem(edit: Callable[[str, Callable[[Any], None]], Path]) -> None:
    def mutate(d: Any) -> None:
        d["orgs"][0]["msp_id"] = "RegulatorMSP"
        d["channels"][0]["members"].append("Ghost")

    path = edit("network/consortium.yaml", mutate)
    result = CliRunner().invoke(cli, ["network", "validate", str(path)])
    assert result.exit_code == 1
    assert "duplicate MSP ID 'RegulatorMSP'" in result.output
    assert "unknown org 'Ghost'" in result.output
    assert "3 problem(s)" in result.output  # + the policy still naming InspectionMSP
    assert "names InspectionMSP, not a member" in result.output
