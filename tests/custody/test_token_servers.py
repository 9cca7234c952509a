"""The ingestion server and the console sign their Fabric transactions with the org identity's key on a
SoftHSM2 token (``--identity-key pkcs11:...``): the key file is removed from the MSP keystore first, so a
committed batch and the console's on-chain key registration can only have been signed on the token."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

QC = [sys.executable, "-m", "qcchain_cli.main"]
DAY = "2024-07-08"


def _qc(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QC, *args], capture_output=True, text=True, timeout=timeout, env=env)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def net(hsm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A detached devnet whose Regulator Admin key lives only on the token (keystore/ emptied)."""
    from qcchain_gateway.profile import load_profile

    tmp_path = tmp_path_factory.mktemp("token-servers")
    state = tmp_path / "devnet"
    up = _qc("devnet", "up", "--dir", str(state), "--detach", "--port", "0")
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        profile = state / "connection-profiles" / "connection-regulator.json"
        loaded = load_profile(profile)
        msp = loaded.organizations[loaded.organization].users["Admin"]
        uri = f"pkcs11:token={hsm.token};object=reg-admin-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "QCCHAIN_PKCS11_PIN": hsm.pin, "QCCHAIN_LOG_DIR": str(tmp_path / "logs")}
        imported = _qc("keys", "import-to-token", uri, "--from-msp", str(msp), env=env)
        assert imported.returncode == 0, imported.stderr
        moved = tmp_path / "keystore-moved-away"
        shutil.move(str(msp / "keystore"), moved)
        (msp / "keystore").mkdir()
        yield {"state": state, "profile": profile, "uri": uri, "env": env, "logs": tmp_path / "logs"}
    finally:
        _qc("devnet", "down", "--dir", str(state))


def _start_ingest(net: dict[str, object], ready: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen([*QC, "ingest", "serve", "--dir", str(net["state"]), "--port", "0",
                                 "--ready-file", str(ready), *extra], stdout=out, stderr=subprocess.STDOUT,
                                env=net["env"])  # type: ignore[arg-type]


def _wait_file(proc: subprocess.Popen[bytes], path: Path, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("server did not start: " + log.read_text()[-2000:])
        time.sleep(0.2)


def test_without_the_token_the_identity_has_no_key(net, tmp_path) -> None:
    ready, log = tmp_path / "r0.json", tmp_path / "ingest0.log"
    proc = _start_ingest(net, ready, log)
    try:
        assert proc.wait(60) == 1
    finally:
        _stop(proc)
    assert "no private key" in log.read_text() and not ready.exists()


def test_ingest_batch_and_console_write_signed_on_the_token(hsm, net, tmp_path) -> None:
    from qcchain_bench.ingestdata import batch_no, credit_code, record

    ready, log = tmp_path / "ready.json", tmp_path / "ingest.log"
    proc = _start_ingest(net, ready, log, "--identity-key", str(net["uri"]))
    console = None
    try:
        _wait_file(proc, ready, log)
        info = json.loads(ready.read_text())
        http = httpx.Client(base_url=info["url"] + "/jsdspcloud/servlet", timeout=60,
                            verify=ssl.create_default_context(cafile=info["tls_cert"]))
        issued = _qc("ingest", "credentials", "issue", "--dir", str(net["state"]), "--org-no", credit_code(61),
                     "--name", "令牌单位", "--json", env=net["env"])  # type: ignore[arg-type]
        cred = json.loads(issued.stdout)
        token = http.get("/token", params={"appid": cred["appid"], "secret": cred["secret"]}).json()["data"]["access_token"]
        b = batch_no(DAY, 1)
        answer = http.post("/syndata", json={"access_token": token, "batchNo": b, "txcode": "01", "busType": "I",
                                             "data": [record("01", f"hsm-{i}", b, "I", DAY, i) for i in range(3)]}).json()
        assert answer["rescode"] == "1", answer
        assert answer["data"]["tx_id"] and answer["data"]["block"] > 0

        # the console, same token key (PIN from a file this time), registers its SM2 key on chain at start
        port = _free_port()
        clog = tmp_path / "console.log"
        with open(clog, "wb") as out:
            console = subprocess.Popen([*QC, "console", "serve", "--dir", str(net["state"]), "--org", "Regulator",
                                        "--state", str(tmp_path / "console"), "--port", str(port),
                                        "--identity-key", str(net["uri"]), "--identity-pin-file", str(hsm.pin_file)],
                                       stdout=out, stderr=subprocess.STDOUT,
                                       env={k: v for k, v in net["env"].items() if k != "QCCHAIN_PKCS11_PIN"})  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while True:
            assert console.poll() is None, clog.read_text()[-2000:]
            try:
                if httpx.get(f"https://127.0.0.1:{port}/login", verify=False, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, clog.read_text()[-2000:]
            time.sleep(0.3)
        assert _console_key_registered(net, tmp_path / "console")
    finally:
        _stop(proc)
        if console is not None:
            _stop(console)
    for written in [log, tmp_path / "console.log", *Path(str(net["logs"])).rglob("*")]:
        if written.is_file():
            assert hsm.pin not in written.read_text(errors="replace"), written


def _console_key_registered(net: dict[str, object], console_state: Path) -> bool:
    from qcchain_console.chain import KEY_LABEL, secret_file
    from qcchain_gateway.keystore import FileKeystore
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.verify import read_key_record

    key = FileKeystore(console_state / "keys").get(KEY_LABEL, secret_file(console_state / "keystore.pass"))
    other = Path(str(net["state"])) / "connection-profiles" / "connection-inspection.json"
    with connect_profile(other) as gateway:
        record = read_key_record(gateway.get_network("qcchannel").get_contract("qcchain"), key.public_key().key_id())
    return record is not None and record["msp_id"] == "RegulatorMSP"


def test_a_wrong_pin_foreign_key_or_missing_object_is_one_line(hsm, net, tmp_path) -> None:
    bad = tmp_path / "bad-pin"
    bad.write_text("0000\n")
    port = str(_free_port())
    env = {k: v for k, v in net["env"].items() if k != "QCCHAIN_PKCS11_PIN"}  # type: ignore[union-attr]
    wrong = _qc("console", "serve", "--dir", str(net["state"]), "--state", str(tmp_path / "c1"), "--port", port,
                "--identity-key", str(net["uri"]), "--identity-pin-file", str(bad), env=env)
    assert wrong.returncode == 1 and f"token '{hsm.token}': wrong PIN" in wrong.stderr
    foreign = _qc("console", "serve", "--dir", str(net["state"]), "--org", "Inspection", "--state",
                  str(tmp_path / "c2"), "--port", port, "--identity-key", str(net["uri"]),
                  "--identity-pin-file", str(hsm.pin_file), env=env)
    assert foreign.returncode == 1 and "is not the key of the certificate" in foreign.stderr, foreign.stderr
    absent = _qc("ingest", "serve", "--dir", str(net["state"]), "--port", "0", "--identity-key",
                 f"pkcs11:token={hsm.token};object=no-such-key", env=net["env"])  # type: ignore[arg-type]
    assert absent.returncode == 1 and "object 'no-such-key': no such private key" in absent.stderr, absent.stderr
    for res in (wrong, foreign, absent):
        errors = [line for line in res.stderr.splitlines() if line.startswith("qcchain: error:")]
        assert len(errors) == 1 and hsm.pin not in res.stderr + res.stdout


def test_every_online_command_signs_with_the_token_identity(net) -> None:
    """The shared ``--identity-key`` option (any online command group, before or after the sub-command): with
    the key file gone from the MSP keystore, a command fails without it and is served with it."""
    env = net["env"]  # type: ignore[assignment]
    without = _qc("records", "query", "equipment", "32010001", "--profile", str(net["profile"]), env=env)
    assert without.returncode == 1 and "no private key" in without.stderr, without.stderr
    listed = _qc("records", "--identity-key", str(net["uri"]), "query", "equipment", "32010001",
                 "--profile", str(net["profile"]), "--json", env=env)
    assert listed.returncode == 0, listed.stderr[-1500:]
    assert json.loads(listed.stdout)["records"] == []
    after = _qc("records", "query", "equipment", "32010001", "--profile", str(net["profile"]),
                "--identity-key", str(net["uri"]), "--json", env=env)
    assert after.returncode == 0 and json.loads(after.stdout)["records"] == [], after.stderr[-1500:]
