"""Process backends (pure): mode file, mode mismatches, the ``docker compose`` argv of each operation,
and the Docker prerequisites check, with fake ``docker`` executables on PATH (no engine needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from qcchain_network import backend, runner
from qcchain_network.__main__ import main
from qcchain_consortium.consortium import load_consortium
from qcchain_network.derive import Layout, derive

ROOT = Path(__file__).resolve().parents[2]
PEER = "peer0.inspection.qcchain.example"


def _docker_script(bindir: Path, body: str) -> Path:
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / "docker"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture()
def recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``docker`` first on PATH that records its argv (one JSON line each) and prints $PS_OUT for ps."""
    rec = tmp_path / "argv.jsonl"
    body = (f'{sys.executable} -c "import json,sys; print(json.dumps(sys.argv[1:]))" "$@" >> {rec}\n'
            'case "$*" in *" ps "*) printf "%s" "$PS_OUT" ;; esac\n')
    _docker_script(tmp_path / "bin", body)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return rec


@pytest.fixture()
def layout(tmp_path: Path) -> Layout:
    lay = derive(load_consortium(None), tmp_path / "net")
    from qcchain_network.render import write_compose

    write_compose(lay)
    return lay


def _calls(rec: Path) -> list[list[str]]:
    return [json.loads(line) for line in rec.read_text().splitlines()] if rec.exists() else []


def test_mode_file_and_resolution(tmp_path: Path) -> None:
    assert backend.read_mode(tmp_path) is None
    assert backend.resolve_mode(tmp_path, None) == "native"
    assert backend.resolve_mode(tmp_path, True) == "docker"
    backend.write_mode(tmp_path, "docker")
    assert json.loads((tmp_path / "mode.json").read_text()) == {"mode": "docker"}
    assert backend.resolve_mode(tmp_path, None) == "docker"
    assert isinstance(backend.backend_for(tmp_path), backend.DockerBackend)
    with pytest.raises(backend.ModeMismatch, match="docker mode; add --docker"):
        backend.resolve_mode(tmp_path, False)
    backend.write_mode(tmp_path, "native")
    with pytest.raises(backend.ModeMismatch, match="native mode; drop --docker"):
        backend.backend_for(tmp_path, True)
    assert isinstance(backend.backend_for(tmp_path), backend.NativeBackend)
    with pytest.raises(ValueError, match="unknown mode 'podman'"):
        backend.write_mode(tmp_path, "podman")
    (tmp_path / "mode.json").write_text('{"mode": "podman"}')
    with pytest.raises(backend.NetworkError, match="unknown mode 'podman'"):
        backend.read_mode(tmp_path)


def test_docker_argv_of_each_operation(layout: Layout, recording: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = layout.out
    dock = backend.DockerBackend(out)
    head = ["compose", "-f", str(out / "compose" / "compose.yaml"), "-p", "qcchain-qcchain"]
    assert dock.argv("ps") == ["docker", *head, "ps"]
    proc = dock.start(layout, PEER, ["ignored"], {}, out / "logs" / "x.log")
    assert proc.name == PEER and proc.pid == 0
    assert _calls(recording) == [[*head, "up", "-d", "--no-deps", PEER]]
    monkeypatch.setenv("PS_OUT", json.dumps({"Service": PEER, "State": "running"}) + "\n"
                       + json.dumps({"Service": "orderer0.qcchain.example", "State": "exited"}))
    assert dock.running(out) == {PEER}
    assert dock.alive(proc) and not dock.alive(backend.procs.Proc("orderer0.qcchain.example", 0, ""))
    recording.unlink()
    dock.stop(out, PEER)
    assert _calls(recording) == [[*head, "ps", "--format", "json"],
                                 [*head, "logs", "--no-color", "--no-log-prefix", PEER], [*head, "stop", PEER]]
    with pytest.raises(KeyError, match="no running container or process named 'orderer0"):
        dock.stop(out, "orderer0.qcchain.example")
    recording.unlink()
    dock.down(out)
    calls = _calls(recording)
    services = [h.host for h in layout.orderers] + [p.host for p in layout.peers]
    assert calls[-1] == [*head, "down"]
    assert [c[-1] for c in calls if "logs" in c] == services
    assert (out / "logs" / f"{PEER}.log").exists()
    ops = [json.loads(line) for line in (out / "operations.log").read_text().splitlines()]
    assert [(o["op"], o["node"]) for o in ops] == [("start", PEER), ("stop", PEER), ("stop", PEER)]


def test_start_rewrites_compose_from_layout(layout: Layout, recording: Path) -> None:
    compose_file = layout.out / "compose" / "compose.yaml"
    compose_file.unlink()
    backend.DockerBackend(layout.out).start(layout, PEER, [], {}, layout.out / "x.log")
    doc = yaml.safe_load(compose_file.read_text())
    assert doc["services"][PEER]["network_mode"] == "host"
    assert doc["services"][PEER]["image"] == "hyperledger/fabric-peer:3.1.5"


def test_failed_compose_command_is_one_line(layout: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _docker_script(tmp_path / "bad", 'echo "no such service: x" >&2; exit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bad'}:{os.environ['PATH']}")
    with pytest.raises(backend.DockerError, match=r"docker compose up -d --no-deps x failed: no such service: x"):
        backend.DockerBackend(layout.out).start(layout, "x", [], {}, layout.out / "x.log")


def test_parse_ps_formats() -> None:
    row = {"Service": "a", "State": "running"}
    assert backend.parse_ps(json.dumps([row])) == [row]
    assert backend.parse_ps(json.dumps(row) + "\n" + json.dumps(row) + "\n") == [row, row]
    assert backend.parse_ps("  ") == []
    with pytest.raises(backend.DockerError, match="unexpected output"):
        backend.parse_ps("NAME  IMAGE")


@pytest.mark.parametrize(("body", "expected"), [
    (None, "the docker command is not installed"),
    ('[ "$1" = info ] && exit 1; exit 0\n', "the Docker engine is not reachable"),
    ('[ "$1" = compose ] && exit 1; exit 0\n', "the Docker compose plugin is missing"),
    ('[ "$1" = image ] && [ "$3" = hyperledger/fabric-peer:3.1.5 ] && exit 1; exit 0\n',
     "image(s) not present: hyperledger/fabric-peer:3.1.5 (run scripts/install-fabric.sh --docker)"),
])
def test_docker_check_names_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str | None,
                                            expected: str) -> None:
    if body is not None:
        _docker_script(tmp_path / "bin", body)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    images = backend.pinned_images(derive(load_consortium(None), tmp_path / "net"))
    with pytest.raises(backend.DockerError) as info:
        backend.docker_check(images)
    assert expected in str(info.value) and str(info.value).startswith("--docker: ")


def test_docker_check_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _docker_script(tmp_path / "bin", "exit 0\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    backend.docker_check(["hyperledger/fabric-peer:3.1.5"])


def test_up_docker_missing_image_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _docker_script(tmp_path / "bin", '[ "$1" = image ] && exit 1; exit 0\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    with pytest.raises(backend.DockerError, match="scripts/install-fabric.sh --docker"):
        runner.up(None, tmp_path / "net", docker=True)
    assert not (tmp_path / "net").exists()


def test_up_docker_with_ca_is_refused(tmp_path: Path) -> None:
    with pytest.raises(backend.NetworkError, match="--docker --ca: Fabric CA containers are not supported"):
        runner.up(None, tmp_path / "net", ca_mode=True, docker=True)
    assert not (tmp_path / "net").exists()


def test_cli_mode_mismatch_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net"
    backend.write_mode(out, "native")
    assert main(["status", "--docker", "--dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("network: error: ") and "native mode; drop --docker" in err and err.count("\n") == 1
    backend.write_mode(out, "docker")
    assert main(["up", "--dir", str(out)]) == 1
    assert "docker mode; add --docker" in capsys.readouterr().err


def test_native_status_rows(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        backend.procs.write_pids(tmp_path, [backend.procs.Proc("peer0.x", child.pid, "l")])
        assert runner.status(tmp_path) == [("peer0.x", f"pid {child.pid}", True)]
        assert runner.running(tmp_path) == {"peer0.x"}
    finally:
        child.kill()
        child.wait()
    assert runner.status(tmp_path) == [("peer0.x", f"pid {child.pid}", False)]
