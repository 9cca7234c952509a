"""``qcchain crosschain verify FILE`` offline (no chain): valid against the anchors file, refused with the
reason for a flipped byte."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from qcchain_cli.main import cli

from .test_devnets import _anchors, _export


def test_offline_verify(chain_a: Any, tmp_path: Path) -> None:
    bundle = _export(chain_a)
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "a.json").write_text(json.dumps(_anchors(chain_a)))
    ok = CliRunner().invoke(cli, ["crosschain", "verify", str(tmp_path / "b.json"), "--anchors", str(tmp_path / "a.json")])
    assert ok.exit_code == 0, ok.output
    assert "valid: EQ-32010001 (active)" in ok.output
    self_anchored = CliRunner().invoke(cli, ["crosschain", "verify", str(tmp_path / "b.json")])
    assert self_anchored.exit_code == 0 and "self-consistency only" in self_anchored.output
    raw = bytearray(base64.b64decode(bundle["record_proof"]["block"]))
    raw[len(raw) // 2] ^= 0x40
    bundle["record_proof"]["block"] = base64.b64encode(bytes(raw)).decode()
    (tmp_path / "bad.json").write_text(json.dumps(bundle))
    bad = CliRunner().invoke(cli, ["crosschain", "verify", str(tmp_path / "bad.json"), "--anchors", str(tmp_path / "a.json")])
    assert bad.exit_code != 0 and "bundle refused" in bad.output
