"""The README's "Act as each role" walkthrough, run command by command on a fresh devnet.

The commands are parsed from README.md (between ``<!-- walkthrough:start -->`` and ``<!-- walkthrough:end -->``),
so the documentation and the behaviour cannot drift: each command must exit 0, a line starting with ``! ``
must be refused with exit status 1 and a one-line ``qcchain: error:``. The only change made to the text:
``devnet up`` gets ``--port 0`` (a free port, as tests share the machine).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QCCHAIN = Path(sys.executable).with_name("qcchain")

pytestmark = pytest.mark.timeout(600)


def readme_commands() -> list[str]:
    """The walkthrough's commands, continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S)
    assert match, "README.md has no walkthrough block"
    joined = match.group(1).replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(shlex.join(words))
    return commands


def _run(words: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(QCCHAIN), *words[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


def test_readme_walkthrough_runs_command_by_command(tmp_path: Path) -> None:
    commands = readme_commands()
    assert commands[0].startswith("export ") and any("devnet up --bootstrap" in c for c in commands)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QCCHAIN_")}
    env["PATH"] = f"{QCCHAIN.parent}{os.pathsep}{env.get('PATH', '')}"
    outputs: dict[str, str] = {}
    try:
        for command in commands:
            words = shlex.split(command)
            if words[0] == "export":
                for assignment in words[1:]:
                    name, _, value = assignment.partition("=")
                    env[name] = value.replace("$PWD", str(tmp_path))
                continue
            refused = words[0] == "!"
            words = words[1:] if refused else words
            assert words[0] == "qcchain", command
            if words[1:3] == ["devnet", "up"]:
                words.append("--port=0")
            result = _run(words, env, tmp_path)
            outputs[command] = result.stdout
            if refused:
                lines = result.stderr.strip().splitlines()
                assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("qcchain: error:"), \
                    f"{command}\n{result.stdout}{result.stderr}"
            else:
                assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    finally:
        subprocess.run([str(QCCHAIN), "devnet", "down"], cwd=tmp_path, env=env, capture_output=True, timeout=60)
    out = "\n".join(outputs.values())
    # what the walkthrough claims, checked on its output
    assert "payload: not shown" in out and "sharing request UsingUnitMSP" in out      # metadata only, explained
    assert "1 L3 data key(s) wrapped for MaintenanceMSP" in out                      # approve wrapped the key
    assert '"mainProblem": "brake lining worn below limit"' in out                   # the grantee decrypted it
    assert "not executed yet (1 of 3" in out and "executed thaw qcchannel/qcchain/records" in out
    timeline = next(v for k, v in outputs.items() if k.endswith("audit timeline --profile regulator"))
    assert re.search(r"MaintenanceMSP\s+access\s+read HD-32019999-1 for maintenance \(grant g-brake\)", timeline)
    assert re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00", timeline)
    assert "everything holds." in out
    report = (tmp_path / "audit-report.html").read_text(encoding="utf-8")
    assert "everything holds" in report and "g-brake" in report
