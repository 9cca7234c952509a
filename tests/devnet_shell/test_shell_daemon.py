"""Devnet lifecycle: up (foreground/detached), down, status, PID file, clear errors, no leftovers.

The chaincode is replaced here by the small double in ``devnet_shell_fakes`` (``--chaincode-module``); the
in-process runs also replace the devnet node (``Runner(..., node_factory=ListeningCore)``), so that they test
the shell alone. The command-line runs start the real node (it dials no chaincode until a transaction).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from qcchain_devnet.config import AlreadyRunningError, DaemonError, PortInUseError
from qcchain_devnet.daemon import PID_FILE, Runner, UpOptions, read_pid
from qcchain_devnet.detached import stop
from qcchain_core.procs import pid_alive

HERE = Path(__file__).resolve().parent
FAKE = "devnet_shell_fakes"


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("FAKE_CC_FAIL", raising=False)
    return dict(os.environ)


def _children_running_fake() -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmd = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and FAKE.encode() in cmd and pid_alive(int(stat.parent.name)):
            found.append(int(stat.parent.name))
    return found


def _options(tmp_path: Path, port: int = 0) -> UpOptions:
    return UpOptions(state_dir=tmp_path / "dn", port=port, chaincode_module=FAKE)


def _runner(options: UpOptions, fail: bool = False) -> Runner:
    from devnet_shell_fakes import ListeningCore

    return Runner(options, node_factory=partial(ListeningCore, fail=fail))


def test_up_writes_everything_and_down_cleans_up(tmp_path: Path, fake_env: dict[str, str]) -> None:
    runner = _runner(_options(tmp_path))
    config = runner.start()
    state = tmp_path / "dn"
    try:
        assert read_pid(state) == os.getpid()
        core = json.loads((state / "fake-core.json").read_text())
        assert core["chaincode_ids"] == core["package_ids"] and core["module"] == FAKE
        assert core["package_ids"]["qcchain"].startswith("qcchain_1.0:")
        info = json.loads((state / "devnet.json").read_text())
        assert info["pid"] == os.getpid() and info["endpoint"] == f"127.0.0.1:{config.port}" and config.port
        prof = json.loads((state / "connection-profiles/connection-regulator.json").read_text())
        assert prof["peers"]["peer0.regulator.qcchain.example"]["url"] == f"grpcs://127.0.0.1:{config.port}"
        assert (state / "crypto-config/devnet/tls/server.crt").is_file()
        assert len(_children_running_fake()) == 1
    finally:
        runner.stop()
    assert not (state / PID_FILE).exists()
    assert (state / "fake-core-stopped").exists()
    assert _children_running_fake() == []


def test_second_up_on_same_dir_is_refused(tmp_path: Path, fake_env: dict[str, str]) -> None:
    first = _runner(_options(tmp_path))
    first.start()
    try:
        with pytest.raises(AlreadyRunningError, match="already running"):
            _runner(_options(tmp_path)).start()
        assert read_pid(tmp_path / "dn") == os.getpid()
    finally:
        first.stop()


def test_port_in_use_is_one_clear_error(tmp_path: Path, fake_env: dict[str, str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port}.*in use"):
            _runner(_options(tmp_path, port)).start()
    assert not (tmp_path / "dn" / PID_FILE).exists()
    assert _children_running_fake() == []


def test_core_failure_leaves_nothing_running(tmp_path: Path, fake_env: dict[str, str]) -> None:
    with pytest.raises(RuntimeError, match="refused"):
        _runner(_options(tmp_path), fail=True).start()
    assert _children_running_fake() == []
    assert not (tmp_path / "dn" / PID_FILE).exists()
    Runner(_options(tmp_path)).lock.acquire()  # the lock was released


def test_chaincode_server_crash_is_reported(tmp_path: Path, fake_env: dict[str, str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CC_FAIL", "1")
    with pytest.raises(DaemonError, match=r"chaincode server 'qcchain'.*exited with status 3.*chaincode-qcchain\.log"):
        _runner(_options(tmp_path)).start()


def test_unwritable_dir_and_unknown_module(tmp_path: Path, fake_env: dict[str, str]) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DaemonError, match="not writable"):
        _runner(UpOptions(state_dir=tmp_path / "file" / "dn", port=0, chaincode_module=FAKE)).start()
    with pytest.raises(DaemonError, match="chaincode module not found: no_such_cc_module"):
        _runner(UpOptions(state_dir=tmp_path / "dn", port=0, chaincode_module="no_such_cc_module")).start()
    with pytest.raises(DaemonError, match="no chaincode module given"):
        _runner(UpOptions(state_dir=tmp_path / "dn", port=0, chaincode_module="")).start()
    assert not (tmp_path / "dn" / PID_FILE).exists()


def _cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qcchain_cli.main", "devnet", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_detach_status_down(tmp_path: Path, fake_env: dict[str, str]) -> None:
    d = str(tmp_path / "dn")
    up = _cli("up", "--detach", "--dir", d, "--port", "0", "--chaincode-module", FAKE, env=fake_env)
    assert up.returncode == 0, up.stderr
    assert "DEVELOPMENT RUNTIME" in up.stdout and "production runs on Hyperledger Fabric" in up.stdout.lower() \
        or "Production runs on Hyperledger Fabric" in up.stdout
    pid = read_pid(tmp_path / "dn")
    assert pid and pid_alive(pid)
    st = _cli("status", "--dir", d, "--json", env=fake_env)
    assert st.returncode == 0 and json.loads(st.stdout)["pid"] == pid
    again = _cli("up", "--detach", "--dir", d, "--port", "0", "--chaincode-module", FAKE, env=fake_env)
    assert again.returncode == 1
    assert again.stderr.strip().count("\n") == 0 and "already running" in again.stderr
    down = _cli("down", "--dir", d, env=fake_env)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not pid_alive(pid) and read_pid(tmp_path / "dn") is None
    st = _cli("status", "--dir", d, env=fake_env)
    assert st.returncode == 3 and "not running" in st.stdout
    assert "not running" in _cli("down", "--dir", d, env=fake_env).stdout


def test_cli_detach_failure_is_one_line(tmp_path: Path, fake_env: dict[str, str]) -> None:
    env = {**fake_env, "FAKE_CC_FAIL": "1"}
    up = _cli("up", "--detach", "--dir", str(tmp_path / "dn"), "--port", "0", "--chaincode-module", FAKE, env=env)
    assert up.returncode == 1
    assert up.stderr.startswith("qcchain: error:") and "exited with status 3" in up.stderr
    assert len(up.stderr.strip().splitlines()) == 1
    assert read_pid(tmp_path / "dn") is None


def test_cli_foreground_stops_on_sigint(tmp_path: Path, fake_env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "qcchain_cli.main", "devnet", "up", "--dir", str(tmp_path / "dn"),
                             "--port", "0", "--chaincode-module", FAKE], env=fake_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("ready") or not line:
            break
    assert lines[0].startswith("qcchain devnet: DEVELOPMENT RUNTIME"), lines
    assert any(ln.startswith("ready") for ln in lines), lines
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "devnet stopped" in out
    assert read_pid(tmp_path / "dn") is None


def test_down_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ok', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, "qcchain-test"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ok"
    (tmp_path / PID_FILE).write_text(f"{proc.pid}\n")
    assert "killed" in stop(tmp_path, timeout=0.5)
    assert not pid_alive(proc.pid)  # stop() reaped it (it is our child here)
    assert not (tmp_path / PID_FILE).exists()


def test_down_with_stale_pid_file(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / PID_FILE).write_text(proc.stdout)
    assert "stale" in stop(tmp_path)
    assert not (tmp_path / PID_FILE).exists()
