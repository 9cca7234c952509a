"""qcchain_sdk.nodes offline: node records from certificates, node proposal files (single / genesis form),
the artifact carried in the file and re-checked on load, and the refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey, sm3
from qcchain_sdk.errors import NodeError
from qcchain_sdk.lifecycle import proposalfile
from qcchain_sdk.lifecycle.errors import ProposalFileError
from qcchain_sdk.nodes import admit_proposal, node_record, remove_proposal

NOW = 1_760_000_000


def _cert(cn: str, days: int = 365) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "orderer.qcchain.example"),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca.orderer.qcchain.example")])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _record(host: str = "orderer4.orderer.qcchain.example.com") -> dict:
    return node_record(host, "OrdererMSP", "orderer", _cert(f"tls-{host}", 400), _cert(host, 365))


def test_node_record_from_certificates() -> None:
    tls, sign = _cert("tls", 400), _cert("orderer4.orderer.qcchain.example.com", 365)
    record = node_record("orderer4.orderer.qcchain.example.com", "OrdererMSP", "orderer", tls, sign)
    der = x509.load_pem_x509_certificate(tls).public_bytes(serialization.Encoding.DER)
    assert record["tls_cert_sha256"] == hashlib.sha256(der).hexdigest()
    assert record["subject"] == "CN=orderer4.orderer.qcchain.example.com,O=orderer.qcchain.example"
    assert record["issuer"] == "CN=ca.orderer.qcchain.example"
    assert record["not_after"] == int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp())  # earlier of two
    assert record["consensus"] is True and sorted(record) == sorted(
        ["node_id", "org_msp", "kind", "consensus", "tls_cert_sha256", "sign_cert_sha256", "subject", "issuer", "not_after"])
    peer = node_record("peer1.inspection.qcchain.example.com", "InspectionMSP", "peer", tls, sign)
    assert peer["consensus"] is False


@pytest.mark.parametrize("args, needle", [
    (("o.example.com", "OrdererMSP", "client"), "kind"),
    (("-bad", "OrdererMSP", "orderer"), "node id"),
    (("genesis", "OrdererMSP", "orderer"), "reserved"),
    (("o.example.com", "bad msp", "orderer"), "MSP id"),
])
def test_node_record_refusals(args: tuple, needle: str) -> None:
    with pytest.raises(NodeError, match=needle):
        node_record(*args, _cert("a"), _cert("b"))


def test_unparsable_or_reused_certificates() -> None:
    with pytest.raises(NodeError, match="TLS certificate is not a PEM"):
        node_record("o.example.com", "OrdererMSP", "orderer", b"-----BEGIN CERTIFICATE-----\nxx", _cert("b"))
    same = _cert("a")
    with pytest.raises(NodeError, match="same certificate"):
        node_record("o.example.com", "OrdererMSP", "orderer", same, same)
    assert issubclass(NodeError, ValueError)


def test_single_and_genesis_proposals_carry_their_artifact(tmp_path: Path) -> None:
    one = _record()
    single = admit_proposal([one], "qcchannel", "qcchain", "scale out", NOW + 3600)
    assert single.body["target"]["contract"] == one["node_id"] and single.artifact == one
    assert single.body["package_digest"] == sm3(canonical_json(one)).hex() and single.body["version"] == ""
    nodes = [_record(f"orderer{i}.orderer.qcchain.example.com") for i in (3, 1, 2)]
    genesis = admit_proposal(nodes, "qcchannel", "qcchain", "genesis", NOW + 3600)
    assert genesis.body["target"]["contract"] == "genesis"
    assert [n["node_id"] for n in genesis.artifact["nodes"]] == sorted(n["node_id"] for n in nodes)
    path = proposalfile.save(genesis, tmp_path / "g.json")
    key = SM2PrivateKey.generate()
    loaded = proposalfile.load(path)
    proposalfile.sign(loaded, key, NOW)
    proposalfile.save(loaded, path, overwrite=True)
    again = proposalfile.load(path)
    assert again.artifact == genesis.artifact and again.proposal_id == genesis.proposal_id and len(again.signatures) == 1
    removal = remove_proposal(one["node_id"], "qcchannel", "qcchain", "compromised", NOW + 60)
    assert removal.artifact is None and removal.body["package_digest"] == "" and b"artifact" not in removal.to_json()


def test_tampered_or_missing_artifact_refused(tmp_path: Path) -> None:
    proposal = admit_proposal([_record()], "qcchannel", "qcchain", "", NOW + 3600)
    path = proposalfile.save(proposal, tmp_path / "p.json")
    doc = json.loads(path.read_bytes())
    doc["artifact"]["org_msp"] = "EvilMSP"
    path.write_bytes(canonical_json(doc))
    with pytest.raises(ProposalFileError, match="SM3 differs"):
        proposalfile.load(path)
    del doc["artifact"]
    path.write_bytes(canonical_json(doc))
    with pytest.raises(ProposalFileError, match="needs its artifact"):
        proposalfile.load(path)
    with pytest.raises(ProposalFileError, match="takes no artifact"):
        proposalfile.new_proposal("freeze", "qcchannel", "qcchain", "records", expiry=NOW, artifact={"x": 1})
    with pytest.raises(ProposalFileError, match="not the SM3"):
        proposalfile.new_proposal("node_admit", "qcchannel", "qcchain", "o.example.com", package_digest="0" * 64,
                                  expiry=NOW, artifact={"x": 1})
    with pytest.raises(NodeError, match="at least one"):
        admit_proposal([], "qcchannel", "qcchain", "", NOW)
    dup = _record("o.example.com")
    with pytest.raises(NodeError, match="repeat"):
        admit_proposal([dup, dup], "qcchannel", "qcchain", "", NOW)
    with pytest.raises(NodeError, match="node id"):
        remove_proposal("", "qcchannel", "qcchain", "", NOW)


class _Gov:
    """ContractLike over a GovKit ledger (MockStub) as one org's admin."""

    def __init__(self, kit: object, org: str, contract: str) -> None:
        self.kit, self.org, self.contract = kit, org, contract

    def _run(self, fn: str, args: tuple, commit: bool) -> bytes:
        from qcchain_sdk.errors import EvaluateError
        import grpc

        call = self.kit.call if commit else self._evaluate
        response = call(f"{self.contract}:{fn}", list(args), org=self.org)
        if not response.ok:
            raise EvaluateError(f"chaincode response {response.status}, {response.message}", grpc.StatusCode.UNKNOWN)
        return response.payload

    def _evaluate(self, fn: str, args: list, org: str) -> object:
        from govkit import cert_pem

        msp = f"{org}MSP"
        return self.kit.stub.invoke(self.kit.contracts, fn, [a if isinstance(a, (str, bytes)) else json.dumps(a) for a in args],
                                    creator=(msp, cert_pem(msp, True)), tx_time=self.kit.now)

    def evaluate_transaction(self, fn: str, *args: object) -> bytes:
        return self._run(fn, args, False)

    def submit_transaction(self, fn: str, *args: object) -> bytes:
        return self._run(fn, args, True)


def test_precheck_and_submit_node_proposals_on_mockstub() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))
    from govkit import GovKit
    from qcchain_sdk.lifecycle.errors import GovernanceStateError, ThresholdNotMet
    from qcchain_sdk.lifecycle.governed import operation_rule, precheck, submit

    kit = GovKit()
    now = kit.now
    record = node_record("orderer4.orderer.qcchain.example.com", "OrdererMSP", "orderer", _cert("t", 400), _cert("s"))
    record["not_after"] = now + 10**6  # the kit's clock is in 2025
    proposal = admit_proposal([record], "qcchannel", "qcchain", "scale out", now + 3600)
    gov = {o: _Gov(kit, o, "governance") for o in ("Regulator", "Inspection", "UsingUnit")}
    proposalfile.sign(proposal, kit.orgs["Regulator"].key, now)
    with pytest.raises(ThresholdNotMet, match="under threshold"):
        precheck(proposal, gov["Regulator"], _Gov(kit, "Regulator", "keys"), now)
    assert kit.ok("governance:proposals", []) == []
    for org in ("Inspection", "UsingUnit"):
        proposalfile.sign(proposal, kit.orgs[org].key, now)
    plan = precheck(proposal, gov["Regulator"], _Gov(kit, "Regulator", "keys"), now)
    result = submit(proposal, plan, {f"{o}MSP": c for o, c in gov.items()})
    assert result["outcome"] == {"nodes": [record["node_id"]], "status": "active"}
    again = admit_proposal([record], "qcchannel", "qcchain", "again", now + 3600)
    proposalfile.sign(again, kit.orgs["Regulator"].key, now)
    with pytest.raises(GovernanceStateError, match="already admitted and active"):
        precheck(again, gov["Regulator"], _Gov(kit, "Regulator", "keys"), now)
    with pytest.raises(GovernanceStateError, match="no rule for node_remove in the installed governance policy"):
        operation_rule({"operations": {"freeze": {"rule": "ANY"}}}, "node_remove")
