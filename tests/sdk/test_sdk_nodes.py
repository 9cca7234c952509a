"""qcchain_sdk.nodeadmission offline: node records from certificates, node proposal files (single / genesis form),
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
from qcchain_sdk.proposals import proposalfile
from qcchain_sdk.errors import ProposalFileError
from qcchain_sdk.nodeadmission import admit_proposal, node_record, remove_proposal

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
        import grpc

        from qcchain_gateway.errors import EvaluateError, stage_error_type

        call = self.kit.call if commit else self._evaluate
        response = call(f"{self.contract}:{fn}", list(args), org=self.org)
        if not response.ok:
            text = f"chaincode response {response.status}, {response.message}"
            raise stage_error_type(EvaluateError, text, [])(text, grpc.StatusCode.UNKNOWN)
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
    from qcchain_sdk.errors import GovernanceStateError, ThresholdNotMet
    from qcchain_sdk.proposals.governed import operation_rule, precheck, submit

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


def _ca_cert() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca.orderer.qcchain.example")])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_review_ca_expired_and_garbage_certificates_refused() -> None:
    """Review fix: a CA certificate is not a node identity; an expired one is refused when ``now`` is given."""
    host = "o.example.com"
    with pytest.raises(NodeError, match="signing certificate is a CA certificate"):
        node_record(host, "OrdererMSP", "orderer", _cert("t"), _ca_cert())
    with pytest.raises(NodeError, match="TLS certificate is a CA certificate"):
        node_record(host, "OrdererMSP", "orderer", _ca_cert(), _cert("s"))
    expires = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp())  # _cert(days=365)
    with pytest.raises(NodeError, match="signing certificate expired"):
        node_record(host, "OrdererMSP", "orderer", _cert("t", 400), _cert("s"), now=expires)
    assert node_record(host, "OrdererMSP", "orderer", _cert("t", 400), _cert("s"), now=expires - 1)["not_after"] == expires
    for junk in (b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"):
        with pytest.raises(NodeError, match="TLS certificate is not a PEM"):
            node_record(host, "OrdererMSP", "orderer", junk, _cert("s"))


def test_review_fingerprint_normalised_before_attesting() -> None:
    """Review fix: ``openssl x509 -fingerprint -sha256`` prints AB:CD:...; the chain stores lower-case hex, so
    the client normalises it (and refuses non-fingerprints without sending anything or echoing the value)."""
    from qcchain_sdk.contracts.governance import GovernanceClient
    from qcchain_sdk.nodeadmission import normalize_fingerprint

    digest = hashlib.sha256(b"tls").hexdigest()
    openssl_form = ":".join(digest[i:i + 2] for i in range(0, 64, 2)).upper()
    assert normalize_fingerprint(openssl_form) == digest == normalize_fingerprint(digest.upper())

    class Fake:
        calls: list = []

        def submit_transaction(self, name: str, *args: str) -> bytes:
            self.calls.append((name, args))
            return b"{}"

        def evaluate_transaction(self, name: str, *args: str) -> bytes:
            raise AssertionError("not used")

    fake = Fake()
    client = GovernanceClient(fake, fake, "OrdererMSP", b"")
    client.node_joined("o.example.com", "qcchannel", 7, openssl_form)
    assert fake.calls == [("node_joined", ("o.example.com", "qcchannel", "7", digest))]
    for bad in ("SECRETxyz", digest[:-2], digest + "00", None, "g" * 64):
        with pytest.raises(NodeError, match="tls_cert_sha256 is not a SHA-256 fingerprint") as info:
            client.node_joined("o.example.com", "qcchannel", 7, bad)  # type: ignore[arg-type]
        assert "SECRET" not in str(info.value)
    assert len(fake.calls) == 1


def test_review_malformed_genesis_artifact_is_a_clear_error() -> None:
    """Review fix: a (signed, digest-matching) genesis file whose records are not objects crashed the state
    check with AttributeError before anything was asked of the chain."""
    from qcchain_sdk.proposals.governed import check_node_state

    class NoChain:
        def evaluate_transaction(self, fn: str, *args: str) -> bytes:
            raise AssertionError("nothing may be queried")

        def submit_transaction(self, fn: str, *args: str) -> bytes:
            raise AssertionError("nothing may be submitted")

    for artifact in ({"nodes": [1, 2]}, {"nodes": "x"}, {"nodes": [{"node_id": 5}]}):
        proposal = proposalfile.new_proposal("node_admit", "qcchannel", "qcchain", "genesis", expiry=NOW,
                                             artifact=artifact)
        with pytest.raises(ProposalFileError, match="genesis node admission carries"):
            check_node_state(proposal, NoChain())


def test_review_control_characters_in_certificate_subject_refused() -> None:
    """Review fix: a certificate subject with an ESC sequence would reach terminals via ``nodes show``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "o\x1b[2J")])
    start = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    assert "\x1b" in cert.subject.rfc4514_string()
    with pytest.raises(NodeError, match="printable"):
        node_record("o.example.com", "OrdererMSP", "orderer", _cert("t"), cert.public_bytes(serialization.Encoding.PEM))
