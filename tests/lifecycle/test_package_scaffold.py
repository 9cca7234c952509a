"""``qcchain contract create | review | compile`` offline: the scaffold compiles, passes its own tests and the
review, serves as CCaaS; the package is a ccaas package with Fabric's package id; bad input writes nothing."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qcchain_cli.main import cli
from qcchain_sdk.errors import ProjectError, ScaffoldError
from qcchain_sdk.contractproject.package import build_package, compile_project, load_project, read_package
from qcchain_sdk.contractproject.scaffold import create

pytestmark = pytest.mark.timeout(60)


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["contract", *map(str, args)])
    return result.exit_code, result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_scaffold_passes_its_own_tests_and_the_review(tmp_path: Path) -> None:
    code, out = run("create", "lift_log", "--dir", tmp_path)
    assert code == 0 and f"created {tmp_path / 'lift_log'}" in out
    root = tmp_path / "lift_log"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")) == [
        "lift_log/__init__.py", "lift_log/__main__.py", "lift_log/governance.py", "tests/test_lift_log.py"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout + done.stderr
    code, out = run("review", root)
    assert code == 0 and out.strip() == "review: 0 finding(s), 0 high"


def test_scaffold_serves_as_ccaas(tmp_path: Path) -> None:
    root = create("served", tmp_path)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(root), "CHAINCODE_SERVER_ADDRESS": f"127.0.0.1:{port}",
           "CHAINCODE_ID": "served_1.0:" + "a" * 64}
    proc = subprocess.Popen([sys.executable, "-m", "served"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the scaffolded chaincode server did not listen")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    missing = subprocess.run([sys.executable, "-m", "served"], env={**env, "CHAINCODE_SERVER_ADDRESS": ""},
                             capture_output=True, text=True, timeout=30, check=False)
    assert missing.returncode == 2 and "CHAINCODE_SERVER_ADDRESS" in missing.stderr


def test_create_refuses_bad_names_and_non_empty_targets(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    with pytest.raises(ScaffoldError, match="not empty"):
        create("taken", tmp_path)
    code, out = run("create", "Bad-Name", "--dir", tmp_path)
    assert code == 1 and "must start with a lower-case letter" in out and not (tmp_path / "Bad-Name").exists()
    with pytest.raises(ProjectError, match="reserved"):
        create("qcchain_contracts", tmp_path)


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_compile_writes_a_ccaas_package_with_a_stable_id(tmp_path: Path) -> None:
    root = create("reg", tmp_path, address="127.0.0.1:7777")
    code, out = run("compile", root)
    assert code == 0, out
    path = root / "dist" / "reg_1.0.tar.gz"
    outer = _members(path.read_bytes())
    assert sorted(outer) == ["code.tar.gz", "metadata.json"]
    assert json.loads(outer["metadata.json"]) == {"type": "ccaas", "label": "reg_1.0"}
    inner = _members(outer["code.tar.gz"])
    assert json.loads(inner["connection.json"])["address"] == "127.0.0.1:7777"
    assert set(json.loads(inner["qcchain-sources.json"])["sources_sm3"]) == {
        "reg/__init__.py", "reg/__main__.py", "reg/governance.py"}
    pkg = read_package(path)
    assert f"package id:  {pkg.package_id}" in out and f"sm3:         {pkg.sm3}" in out
    first = pkg.sha256
    run("compile", root)
    assert read_package(path).sha256 == first  # deterministic bytes
    (root / "reg" / "__init__.py").write_text((root / "reg" / "__init__.py").read_text() + "\n# changed\n")
    run("compile", root)
    assert read_package(path).sha256 != first  # the package id binds the code


def test_package_id_is_the_one_fabric_computes(tmp_path: Path) -> None:
    from qcchain_network.binaries import base_config_dir, find_binary
    from qcchain_network.errors import BinaryNotFound

    try:
        peer = find_binary("peer")
        config = base_config_dir(peer)
    except BinaryNotFound as exc:
        pytest.skip(f"no Fabric peer binary: {exc}")
    root = create("idcheck", tmp_path)
    pkg = build_package(load_project(root), tmp_path / "out", compile_project(root))
    done = subprocess.run([str(peer), "lifecycle", "chaincode", "calculatepackageid", str(pkg.path)],
                          env={**os.environ, "FABRIC_CFG_PATH": str(config)}, capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.strip() == pkg.package_id


def test_compile_refuses_syntax_errors_and_high_findings(tmp_path: Path) -> None:
    root = create("risky", tmp_path)
    init = root / "risky" / "__init__.py"
    good = init.read_text()
    init.write_text(good + "\ndef broken(:\n")
    code, out = run("compile", root)
    assert code == 1 and "syntax error" in out and "__init__.py:" in out and not (root / "dist").exists()
    init.write_text(good.replace('return {"key": key, "tx_id": ctx.stub.get_tx_id()}',
                                 'import random\n        return {"key": key, "n": random.random()}'))
    code, out = run("compile", root)
    assert code == 1 and "QC102 high" in out and "nothing was packaged" in out and not (root / "dist").exists()
    code, out = run("review", root)
    assert code == 1 and out.strip().endswith("review failed: 1 high-severity finding(s) in " + str(root))


def test_compile_names_a_bad_project_file(tmp_path: Path) -> None:
    root = create("cfg", tmp_path)
    (root / "contract.json").write_text(json.dumps({"name": "cfg", "version": "1.0", "module": "cfg", "address": "nope"}))
    code, out = run("compile", root)
    assert code == 1 and "invalid or missing address='nope'" in out
    code, out = run("compile", tmp_path)
    assert code == 1 and "contract.json: cannot read" in out
    with pytest.raises(ProjectError, match="not a ccaas package"):
        read_package(root / "contract.json")
