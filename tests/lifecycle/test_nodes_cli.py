"""``qcchain nodes`` against a fresh devnet: propose-admit from certificate files → offline SM2 signatures with
``qcchain contract sign`` → ``qcchain contract execute`` (under threshold refused, nothing written; then
executed) → list / show → propose-remove by the regulator alone; plus the bad-input refusals."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


from govdevnet import GovEnv, governed_devnet  # noqa: E402

NODE = "orderer4.orderer.qcchain.example.com"
pytestmark = pytest.mark.timeout(120)


class Env(GovEnv):
    def nodes(self) -> list:
        return json.loads(self.ok("nodes", "list", "--profile", self.profiles["Regulator"], "--json"))


def _cert(path: Path, cn: str) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("nodes")
    with governed_devnet(tmp) as (profiles, keystore, password):
        yield Env(tmp, profiles, keystore, password)


def test_admit_list_show_remove(env: Env) -> None:
    reg = env.profiles["Regulator"]
    tls, sign = _cert(env.tmp / "tls.pem", f"tls.{NODE}"), _cert(env.tmp / "sign.pem", NODE)
    admit = env.tmp / "admit.json"
    out = env.ok("nodes", "propose-admit", "--node-id", NODE, "--org", "OrdererMSP", "--kind", "orderer",
                 "--tls-cert", tls, "--sign-cert", sign, "--profile", reg, "--expires-in", "7d", "-o", admit)
    assert f"node_admit {NODE} on qcchannel" in out and json.loads(admit.read_text())["artifact"]["node_id"] == NODE
    env.sign(admit, "Regulator")
    under = env.execute(admit, "Regulator")
    assert under.exit_code == 1 and "under threshold" in under.output and "nothing was submitted" in under.output
    assert env.nodes() == []
    env.sign(admit, "Inspection")
    env.sign(admit, "UsingUnit")
    done = env.execute(admit, "Regulator", "Inspection", "UsingUnit")
    assert done.exit_code == 0 and f"executed node_admit qcchannel/qcchain/{NODE}" in done.output, done.output
    assert "status active" in done.output
    table = env.ok("nodes", "list", "--profile", reg)
    assert NODE in table and "orderer" in table and "active" in table and "1 node(s) on qcchannel" in table
    shown = env.ok("nodes", "show", NODE, "--profile", reg)
    assert "orderer of OrdererMSP, active" in shown and "admitted (proposal" in shown

    again = env.fails("nodes", "propose-admit", "--node-id", NODE, "--org", "OrdererMSP", "--kind", "orderer",
                      "--tls-cert", tls, "--sign-cert", sign, "--profile", reg, "-o", env.tmp / "again.json")
    assert "already admitted and active" in again and not (env.tmp / "again.json").exists()

    remove = env.tmp / "remove.json"
    env.ok("nodes", "propose-remove", "--node-id", NODE, "--profile", reg, "--reason", "compromised", "-o", remove)
    env.sign(remove, "Regulator")  # the regulator alone may remove a node
    removed = env.execute(remove, "Regulator")
    assert removed.exit_code == 0 and "status removed" in removed.output, removed.output
    assert env.nodes()[0]["status"] == "removed"
    gone = env.fails("nodes", "propose-remove", "--node-id", NODE, "--profile", reg, "-o", env.tmp / "r2.json")
    assert "not an active admitted node (removed)" in gone


def test_bad_input_is_one_line(env: Env) -> None:
    reg = env.profiles["Regulator"]
    junk = env.tmp / "junk.pem"
    junk.write_text("not a certificate")
    good = _cert(env.tmp / "g.pem", "g")
    bad = env.fails("nodes", "propose-admit", "--node-id", "p.example.com", "--org", "InspectionMSP", "--kind", "peer",
                    "--tls-cert", junk, "--sign-cert", good, "--profile", reg, "-o", env.tmp / "x.json")
    assert "TLS certificate is not a PEM X.509 certificate" in bad and not (env.tmp / "x.json").exists()
    long = env.fails("nodes", "propose-remove", "--node-id", NODE, "--profile", reg, "--expires-in", "8d",
                     "-o", env.tmp / "y.json")
    assert "must be at least 1m and at most 7d" in long
    missing = env.fails("nodes", "show", "ghost.example.com", "--profile", reg)
    assert "never admitted" in missing
