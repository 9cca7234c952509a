"""``qcchain contract`` through click's CliRunner against a fresh devnet: create → compile → deploy proposal →
offline SM2 signatures → execute (refused under threshold, nothing written; then executed) → invoke →
freeze / thaw / upgrade / destroy → status; plus the bad-input refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from qcchain_cli.main import cli
from qcchain_core.gm import sm3

from govdevnet import GovEnv, governed_devnet  # noqa: E402

SIGNERS = ("Regulator", "Inspection", "UsingUnit")
pytestmark = pytest.mark.timeout(120)


class Env(GovEnv):
    prefix = ("contract",)
    fail_code = 1

    def governance(self, fn: str, *args: str) -> object:
        out = self.ok("invoke", fn, *args, "--profile", self.profiles["Regulator"], "--contract", "governance",
                      "--evaluate")
        return json.loads(out)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("lifecycle")
    with governed_devnet(tmp) as (profiles, keystore, password):
        yield Env(tmp, profiles, keystore, password)


def test_governed_lifecycle_of_a_new_contract(env: Env) -> None:
    project = env.tmp / "work" / "assetreg"
    env.ok("create", "assetreg", "--dir", project.parent)
    compiled = env.ok("compile", project)
    assert "review: 0 finding(s), 0 high" in compiled and "package id:  assetreg_1.0:" in compiled
    package = project / "dist" / "assetreg_1.0.tar.gz"
    reg = env.profiles["Regulator"]

    deploy = env.tmp / "deploy.json"
    out = env.ok("deploy", package, "--profile", reg, "--reason", "new asset register", "--out", deploy)
    assert "deploy qcchannel/assetreg version 1.0 (now not deployed)" in out
    body = json.loads(deploy.read_text())["body"]  # the signed body names the review and verification reports
    review_doc = (project / "dist" / "assetreg_1.0.review.json").read_bytes().strip()
    verification_doc = (project / "dist" / "assetreg_1.0.verification.json").read_bytes().strip()
    assert body["review_sm3"] == sm3(review_doc).hex() and body["verification_sm3"] == sm3(verification_doc).hex()
    unsigned = env.execute(deploy, "Regulator")
    assert unsigned.exit_code == 1 and "is unsigned" in unsigned.output
    shown = env.sign(deploy, "Regulator")  # the signer sees both summaries before signing
    assert "review: 0 finding(s), 0 high" in shown and "verification: model check:" in shown
    assert "0 violation(s)" in shown and "0 counterexample(s)" in shown
    under = env.execute(deploy, *SIGNERS)
    assert under.exit_code == 1 and "under threshold: 1 of 3 required signatures" in under.output
    assert "nothing was submitted" in under.output
    assert env.governance("proposals") == []  # nothing written
    env.sign(deploy, "Inspection")
    env.sign(deploy, "UsingUnit")
    # each org submits its own signature from its own machine; the one that meets the threshold executes
    partial = env.execute(deploy, "Regulator", "Inspection")
    assert partial.exit_code == 0 and "not executed yet (2 of 3 required" in partial.output, partial.output
    assert "UsingUnitMSP runs `qcchain contract execute" in partial.output
    done = env.ok("execute", deploy, "--profile", env.profiles["UsingUnit"])
    assert "executed deploy qcchannel/assetreg" in done and "state active, active version 1.0" in done
    assert "The devnet runs only the chaincode it was started with" in done
    stored = [p for p in env.governance("proposals") if p["body"]["operation"] == "deploy"]  # type: ignore[union-attr]
    assert [(p["body"]["review_sm3"], p["body"]["verification_sm3"]) for p in stored] == \
        [(body["review_sm3"], body["verification_sm3"])]
    again = env.execute(deploy, *SIGNERS)
    assert again.exit_code == 1 and "already executed" in again.output

    status = env.ok("status", "--profile", reg, "--chaincode", "assetreg")
    sha = json.loads(env.ok("status", "--profile", reg, "--chaincode", "assetreg", "--json"))["versions"]["1.0"]
    assert status.startswith("qcchannel/assetreg: active, active version 1.0")
    assert sha["package_digest"] in (project / "dist").joinpath("assetreg_1.0.tar.gz").read_bytes().hex() or \
        sha["package_digest"] in compiled

    freeze = env.tmp / "freeze.json"
    env.ok("freeze", "--profile", reg, "--chaincode", "assetreg", "--out", freeze)
    env.sign(freeze, "Regulator")  # the regulator alone may freeze
    assert "state frozen" in env.execute(freeze, "Regulator").output
    frozen_again = env.fails("freeze", "--profile", reg, "--chaincode", "assetreg", "--out", env.tmp / "f2.json")
    assert "cannot freeze qcchannel/assetreg: it is frozen" in frozen_again and not (env.tmp / "f2.json").exists()

    thaw = env.tmp / "thaw.json"
    env.ok("thaw", "--profile", reg, "--chaincode", "assetreg", "--out", thaw)
    for org in SIGNERS:
        env.sign(thaw, org)
    assert "state active" in env.ok("execute", thaw, *[a for o in SIGNERS for a in ("--profile", env.profiles[o])])

    env.ok("compile", project, "--version", "2.0", "--address", "127.0.0.1:9998")
    upgrade = env.tmp / "upgrade.json"
    out = env.ok("upgrade", project / "dist" / "assetreg_2.0.tar.gz", "--profile", reg, "--out", upgrade)
    assert "upgrade qcchannel/assetreg version 2.0 (now active)" in out
    for org in SIGNERS:
        env.sign(upgrade, org)
    assert "active version 2.0" in env.execute(upgrade, *SIGNERS).output

    destroy = env.tmp / "destroy.json"
    env.ok("destroy", "--profile", reg, "--chaincode", "assetreg", "--out", destroy)
    for org in SIGNERS:
        env.sign(destroy, org)
    assert "state destroyed" in env.execute(destroy, *SIGNERS).output
    assert "cannot thaw qcchannel/assetreg: it is destroyed" in env.fails(
        "thaw", "--profile", reg, "--chaincode", "assetreg", "--out", env.tmp / "t2.json")
    history = env.ok("status", "--profile", reg, "--chaincode", "assetreg")
    assert [ln.split(": ", 1)[1].split(" (")[0] for ln in history.splitlines()[3:]] == [
        "deploy -> active", "freeze -> frozen", "thaw -> active", "upgrade -> active", "destroy -> destroyed"]


def test_offline_signature_checks(env: Env) -> None:
    env.ok("create", "other", "--dir", env.tmp / "work2")
    compiled = env.ok("compile", env.tmp / "work2" / "other", "--no-verify")
    assert "NOT VERIFIED (--no-verify)" in compiled
    dist = env.tmp / "work2" / "other" / "dist"
    assert (dist / "other_1.0.review.json").exists() and not (dist / "other_1.0.verification.json").exists()
    proposal = env.tmp / "deploy-other.json"
    env.ok("deploy", dist / "other_1.0.tar.gz", "--profile", env.profiles["Regulator"], "--out", proposal)
    assert json.loads(proposal.read_text())["body"]["verification_sm3"] == "not verified"
    shown = env.sign(proposal, "Manufacturer")
    assert "verification: NOT VERIFIED (compiled with --no-verify)" in shown and "review: 0 finding(s)" in shown
    tampered = env.tmp / "tampered-evidence.json"  # a report swapped after signing: the body's SM3 no longer match
    doc = json.loads(proposal.read_text())
    doc["evidence"]["review"]["summary"] = "review: 0 finding(s), 0 high (trust me)"
    tampered.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    swapped = env.run("execute", tampered, "--profile", env.profiles["Regulator"])
    assert swapped.exit_code == 1 and "is not the one the body names" in swapped.output
    (dist / "other_1.0.review.json").unlink()  # no review report beside the package: no proposal
    missing = env.fails("deploy", dist / "other_1.0.tar.gz", "--profile", env.profiles["Regulator"], "--out",
                        env.tmp / "no-review.json")
    assert "no security review report beside the package" in missing and not (env.tmp / "no-review.json").exists()
    pem = env.tmp / "manufacturer.pem"  # the same key, as an encrypted PKCS#8 file instead of a keystore label
    assert CliRunner().invoke(cli, ["keys", "export", "Manufacturer-admin", "--private", "--out", str(pem),
                                    "--keystore", str(env.keystore), "--password-file", str(env.password)]).exit_code == 0
    twice = env.run("sign", proposal, "--key", pem, "--password-file", env.password)
    assert twice.exit_code == 1 and "already signed" in twice.output
    wrong = env.tmp / "wrong-password"
    wrong.write_text("nope")
    bad = env.run("sign", proposal, "--key", pem, "--password-file", wrong)
    assert bad.exit_code == 1 and "not an SM2 private key (or the password is wrong)" in bad.output
    # A manufacturer alone is under the deploy rule (majority with the regulator): refused, nothing written.
    refused = env.execute(proposal, "Manufacturer")
    assert refused.exit_code == 1 and "under threshold: 1 of 3 required" in refused.output
    pid = json.loads(proposal.read_text())["proposal_id"]
    assert pid not in [p["proposal_id"] for p in env.governance("proposals")]  # type: ignore[attr-defined]
    doc = json.loads(proposal.read_text())
    doc["body"]["reason"] = "edited after signing"
    proposal.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")))
    edited = env.run("execute", proposal, "--profile", env.profiles["Regulator"])
    assert edited.exit_code == 1 and "proposal_id is not the SM3 of the body" in edited.output


def test_invoke_calls_any_contract_function(env: Env) -> None:
    who = env.governance("whoami")
    assert who["msp_id"] == "RegulatorMSP"  # type: ignore[index]
    bad = env.fails("invoke", "nosuchfn", "--profile", env.profiles["Regulator"], "--contract", "governance")
    assert bad.startswith("qcchain: error:") and "nosuchfn" in bad and len(bad.splitlines()) == 1


def test_status_of_an_ungoverned_unit_is_a_clear_error(env: Env) -> None:
    out = env.fails("status", "--profile", env.profiles["Regulator"], "--chaincode", "nothing")
    assert out == "qcchain: error: qcchannel/nothing is not governed yet (no deploy proposal on chain)"


def test_fabric_options_are_checked_before_anything_is_written(env: Env) -> None:
    env.ok("create", "third", "--dir", env.tmp / "work3")
    env.ok("compile", env.tmp / "work3" / "third")
    proposal = env.tmp / "deploy-third.json"
    env.ok("deploy", env.tmp / "work3" / "third" / "dist" / "third_1.0.tar.gz", "--profile",
           env.profiles["Regulator"], "--out", proposal)
    for org in SIGNERS:
        env.sign(proposal, org)
    profiles = [a for o in SIGNERS for a in ("--profile", str(env.profiles[o]))]
    serve_only = env.fails("execute", proposal, *profiles, "--serve", env.tmp / "work3" / "third")
    assert serve_only == "qcchain: error: --serve needs --network-dir (the native Fabric network to deploy on)"
    (env.tmp / "empty").mkdir()
    no_net = env.fails("execute", proposal, *profiles, "--network-dir", env.tmp / "empty")
    assert "holds no network brought up by `scripts/network.sh up --dir`" in no_net
    pid = json.loads(proposal.read_text())["proposal_id"]
    assert pid not in [p["proposal_id"] for p in env.governance("proposals")]  # type: ignore[attr-defined]
    (env.tmp / "work3" / "third" / "dist" / "third_1.0.tar.gz").write_bytes(b"not a package")
    assert "executed deploy qcchannel/third" in env.ok("execute", proposal, *profiles)  # governance needs no file
