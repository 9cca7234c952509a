"""A full demo run writes the graded logs of the devnet, its chaincode server and the ingestion service, and
every log file it writes holds no key, secret, password, token, AppSecret or L3 plaintext."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

FORBIDDEN = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)(password|passwd|app_?secret|secret|token|pin)[\"']?\s*[:=]\s*[\"']?(?!\[REDACTED\])[A-Za-z0-9+/_.-]{4,}"),
    re.compile(r"(?i)bearer\s+(?!\[REDACTED\])[A-Za-z0-9._-]{8,}"),
    re.compile(r"brake lining worn below limit"),  # the story's L3 hidden-danger plaintext
    re.compile(r'"checkMan"'),
]


@pytest.mark.timeout(600)
def test_demo_logs_hold_no_secrets(tmp_path: Path) -> None:
    d = tmp_path / "demo"
    env = dict(os.environ, QCCHAIN_LOG_DIR=str(tmp_path / "logs-cli"))
    run = subprocess.run([sys.executable, "-m", "qcchain_cli.main", "demo", "--dir", str(d)], env=env,
                         capture_output=True, text=True, timeout=580)
    assert run.returncode == 0, run.stderr[-2000:]
    logs = [p for p in tmp_path.rglob("*") if p.is_file() and (".log" in p.name or p.parent.name.startswith("logs"))]
    assert logs, "the demo wrote no log file"
    records = {name: [json.loads(line) for line in (tmp_path / "logs-cli" / name).read_text().splitlines()]
               for name in ("qcchain.log", "chaincode.log", "security.log", "audit.log")}
    # the devnet and the ingestion service run inside the demo's process; the chaincode server is the devnet's child
    loggers = {r["logger"].split(".")[0] for r in records["qcchain.log"]}
    assert {"qcchain_devnet", "qcchain_ingest"} <= loggers, loggers
    assert any(r["process"] == "chaincode" and r["logger"].startswith("qcchain_shim") for r in records["chaincode.log"])
    assert all(set(r) >= {"time", "level", "category", "logger", "process", "message"} for rs in records.values() for r in rs)
    found = []
    for path in logs + [None]:
        text = (run.stdout + run.stderr) if path is None else path.read_text(errors="replace")
        for pattern in FORBIDDEN:
            for m in pattern.finditer(text):
                found.append(f"{path or 'console output'}: {m.group(0)[:60]}")
    assert not found, "\n".join(found)
