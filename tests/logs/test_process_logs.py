"""Every process of the project writes its graded log under ``$QCCHAIN_LOG_DIR``: the servers the CLI hosts
(ingestion, console, agent, IoT consumer) under their own process name, and the devnet daemon started detached
with the chaincode server it spawns (both inherit the variable)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from qcchain_cli.main import cli


@pytest.fixture()
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for h in [h for h in root.handlers if h not in before]:
        root.removeHandler(h)
        h.close()
    root.setLevel(level)


@pytest.mark.parametrize(("argv", "process", "error"), [
    (["ingest", "serve"], "ingest", "give exactly one of --dir"),
    (["console", "serve", "--state", "{tmp}/console", "--dir", "{tmp}", "--profile", "{tmp}/p.json"], "console",
     "give --dir or --profile, not both"),
    (["agent", "run", "{tmp}/p.json"], "agent", "p.json"),
    (["iot", "run", "--broker", "mqtts://127.0.0.1:1", "--credentials", "{tmp}/cred",
      "--password-env", "QCCHAIN_TEST_NO_SUCH_VAR"], "iot-consumer", "QCCHAIN_TEST_NO_SUCH_VAR"),
])
def test_cli_servers_log_under_their_process_name(tmp_path: Path, restore_root: None, argv: list[str], process: str,
                                                  error: str) -> None:
    (tmp_path / "p.json").write_text("{}")
    logs = tmp_path / "logs"
    result = CliRunner().invoke(cli, [a.replace("{tmp}", str(tmp_path)) for a in argv],
                                env={"QCCHAIN_LOG_DIR": str(logs), "QCCHAIN_TEST_NO_SUCH_VAR": None})
    assert result.exit_code != 0 and error in (result.output + str(result.exception)), result.output
    logging.getLogger("qcchain_test.probe").warning("probe %s", process)
    lines = [json.loads(line) for line in (logs / f"{process}.log").read_text().splitlines()]
    assert {"process": process, "logger": "qcchain_test.probe", "message": f"probe {process}",
            "level": "WARNING", "category": "operations"}.items() <= lines[-1].items()
    assert (logs / "security.log").is_file() and (logs / "audit.log").is_file()


@pytest.mark.timeout(300)
def test_detached_devnet_and_its_chaincode_server_log_in_the_log_dir(tmp_path: Path) -> None:
    logs, state = tmp_path / "logs", tmp_path / "devnet"
    env = dict(os.environ, QCCHAIN_LOG_DIR=str(logs))
    qcchain = [sys.executable, "-m", "qcchain_cli.main", "devnet"]
    up = subprocess.run([*qcchain, "up", "--detach", "--dir", str(state), "--port", "0"], env=env,
                        capture_output=True, text=True, timeout=240)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
    finally:
        down = subprocess.run([*qcchain, "down", "--dir", str(state)], env=env, capture_output=True, text=True,
                              timeout=60)
    assert down.returncode == 0, down.stdout + down.stderr
    for process, logger in (("devnet", "qcchain_devnet"), ("chaincode", "qcchain_shim")):
        records = [json.loads(line) for line in (logs / f"{process}.log").read_text().splitlines()]
        assert any(r["logger"].startswith(logger) and r["process"] == process and r["level"] == "INFO"
                   for r in records), (process, records)
