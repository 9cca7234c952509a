"""The scenario suite on each runtime (devnet always; real Fabric when it can be provided): the full
consortium story, a subset of the authorisation matrix whose denied calls must write nothing (chain height
and state compared before/after), and the lifecycle freeze / thaw / upgrade / destroy.

Tests run in file order on one ledger per runtime; the last one makes the running package unapproved.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from qcchain_sdk.contracts.governance import build_proposal
from qcchain_sdk.contracts.story import EQ, HD, IR, Story

from runtimes import CHANNEL, Runtime, require

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def story(runtime: Runtime) -> Story:
    lines: list[str] = []
    story = Story(runtime.orgs, runtime.story_config(say=lines.append))
    story.run()
    return story


def _snapshot(runtime: Runtime) -> dict[str, Any]:
    reg = runtime.orgs["Regulator"]
    return {"height": runtime.height(),
            "records": {rid: reg.records().get(rid) for rid in (EQ, IR, HD)},
            "units": json.loads(reg.contract("governance").evaluate_transaction("units")),
            "proposals": json.loads(reg.contract("governance").evaluate_transaction("proposals")),
            "grants": _or_refusal(reg.sharing().list_grants)}


def _or_refusal(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - a destroyed contract's reads are refused; compare the refusal
        return f"refused: {type(exc).__name__}"


def _denied(runtime: Runtime, call: Callable[[], Any], needle: str) -> None:
    before = _snapshot(runtime)
    with pytest.raises(Exception) as info:
        call()
    text = f"{info.value} {getattr(info.value, 'details', '')}"
    assert needle.lower() in text.lower(), text[:400]
    assert _snapshot(runtime) == before, "a denied call changed the chain"


def test_story_holds_and_audit_reverifies(story: Story) -> None:
    assert len(story.steps) == 19
    report = story.audit
    assert report is not None and report.ok, report and report.problems
    assert all(row.block is not None for row in report.timeline), "every event is placed in a block via qscc"
    blocks = [row.block for row in report.timeline]
    assert blocks == sorted(blocks) and len(set(blocks)) == len(blocks)
    assert report.checked["sm2_signatures"] >= 24 and report.checked["keys"] == 5


def test_denied_calls_write_nothing(runtime: Runtime, story: Story) -> None:
    from qcchain_sdk.contracts.records import build_record

    man, ins, use, reg = (runtime.orgs[n] for n in ("Manufacturer", "Inspection", "UsingUnit", "Regulator"))
    cfg = story.cfg
    update = build_record(record_id=EQ, category="equipment", equipment_code="32010001", stage="production",
                          owner_msp=ins.msp_id, grade="L1", signing_key=ins.key, bus_type="U", version=4,
                          payload=dict(cfg.payloads["equipment"], busType="U"))
    _denied(runtime, lambda: ins.records().submit(update), "belongs to")  # non-owner update
    low = build_record(record_id="HD-LOW", category="hidden_danger", equipment_code="32010001", stage="use",
                       owner_msp=use.msp_id, grade="L1", signing_key=use.key, payload=dict(cfg.payloads["hidden_danger"], ID="HD-LOW"))
    _denied(runtime, lambda: use.records().submit(low), "cannot lower")  # grade below the floor
    body = build_proposal("freeze", CHANNEL, contract="records", expiry=cfg.now() + 600, reason="rogue")
    rogue = man.gov().propose(body)  # anyone may propose; only a regulator's signature counts for freeze
    _denied(runtime, lambda: man.gov().execute(rogue["proposal_id"]), "under threshold")
    _denied(runtime, lambda: man.sharing().grant(use.msp_id, ("record", IR), "L4", "maintenance", cfg.now() + 3600),
            "owned by")  # granting someone else's record
    _denied(runtime, lambda: reg.gov().bootstrap([], cfg.policies), "already bootstrapped")
    user1 = runtime.gateway("Regulator", "User1").get_network(CHANNEL).get_contract("qcchain", "keys")
    _denied(runtime, lambda: user1.submit_transaction("revoke", reg.gov().key_id, "not an admin"), "admin")


def test_backdated_and_postdated_proposals_are_refused(runtime: Runtime, story: Story,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """T-5.2a: a proposal dated 10 minutes from the endorsing chaincode server's clock is refused before
    anything is written (a grantee cannot use an expired grant by backdating). A Fabric v3.1 peer itself
    refuses only beyond ``peer.authentication.timewindow`` (15 min, measured here with +-1 h); inside that
    window it is the chaincode's governance-set tolerance (300 s) that refuses."""
    import qcchain_gateway.proposalbuilder as builder
    from fabric_protos.common import common_pb2

    use = runtime.orgs["UsingUnit"]
    original = builder._header

    def access_dated(shift: int) -> Any:
        def dated(*args: Any, **kwargs: Any) -> Any:
            header = original(*args, **kwargs)
            channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
            channel_header.timestamp.seconds += shift
            header.channel_header = channel_header.SerializeToString()
            return header

        with monkeypatch.context() as patch:
            patch.setattr(builder, "_header", dated)
            return use.sharing().access(IR, "maintenance")

    _denied(runtime, lambda: access_dated(-600), "s behind the endorsing peer's clock (tolerance 300 s")
    _denied(runtime, lambda: access_dated(600), "s ahead of the endorsing peer's clock (tolerance 300 s")
    assert use.records().get(EQ)["record_id"] == EQ  # dated now, the same identity is served


def test_reads_follow_entitlement(runtime: Runtime, story: Story) -> None:
    maint, reg, use = (runtime.orgs[n] for n in ("Maintenance", "Regulator", "UsingUnit"))
    hidden = maint.records().get(HD)
    assert hidden["access"] == "metadata" and "ciphertext" not in hidden and "payload" not in hidden
    assert reg.records().get(HD)["wrapped_key"]["key_id"] == reg.gov().key_id
    with pytest.raises(Exception, match="(?i)may not read the access log"):
        maint.sharing().access_log(IR)
    assert [e["reader_msp"] for e in runtime.orgs["Inspection"].sharing().access_log(IR)] == [use.msp_id]


def test_lifecycle_freeze_thaw_upgrade_destroy(runtime: Runtime, story: Story) -> None:
    reg, ins, use = (runtime.orgs[n] for n in ("Regulator", "Inspection", "UsingUnit"))
    majority = [reg, ins, use]
    story.govern("deploy", majority, contract="sharing", version="1", package_digest=runtime.digests[0])
    story.govern("freeze", [reg], contract="sharing")
    _denied(runtime, lambda: use.sharing().access(IR, "maintenance"), "frozen")
    assert use.sharing().list_grants() != []  # reads still served
    story.govern("thaw", majority, early=True, contract="sharing")
    assert use.sharing().access(IR, "maintenance")["entry"]["basis"] == "grant"
    story.govern("upgrade", majority, contract="sharing", version="2", package_digest=runtime.digests[1])
    assert story.unit("sharing")["active_version"] == "2"
    story.govern("destroy", majority, contract="sharing")
    _denied(runtime, lambda: use.sharing().list_grants(), "destroyed")
    body = build_proposal("thaw", CHANNEL, contract="sharing", expiry=story.cfg.now() + 600)
    _denied(runtime, lambda: reg.gov().propose(body), "destroyed")
    assert story.audit is not None


def _node_cert(cn: str) -> bytes:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qcchain"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _run_proposal(runtime: Runtime, story: Story, proposal: Any, signers: list[str], tmp: Any) -> dict[str, Any]:
    """Offline signatures in the proposal file, reloaded (artifact carried), then precheck + submit."""
    from qcchain_sdk.proposals import proposalfile
    from qcchain_sdk.proposals.governed import precheck, submit

    path = tmp / f"{proposal.proposal_id[:12]}.json"
    proposalfile.save(proposal, path)
    loaded = proposalfile.load(path)
    for name in signers:
        proposalfile.sign(loaded, runtime.orgs[name].key, story.cfg.now())
    orgs = [runtime.orgs[n] for n in signers]
    plan = precheck(loaded, orgs[0].contract("governance"), orgs[0].contract("keys"), story.cfg.now())
    return submit(loaded, plan, {o.msp_id: o.contract("governance") for o in orgs})


def test_node_registry_admit_join_remove(runtime: Runtime, story: Story, tmp_path: Any) -> None:
    """T-7.2.3: genesis + single node admission through governance, join attestation authenticated by the
    TLS fingerprint, removal by the regulator, no join after removal, events on the audit timeline."""
    from qcchain_sdk.contracts.audit import AuditClient
    from qcchain_sdk.errors import ThresholdNotMet
    from qcchain_sdk.nodeadmission import admit_proposal, node_record, remove_proposal

    reg, ins = runtime.orgs["Regulator"], runtime.orgs["Inspection"]
    majority = ["Regulator", "Inspection", "UsingUnit"]
    expiry = story.cfg.now() + 3600

    def record(host: str, kind: str, msp: str) -> dict[str, Any]:
        return node_record(host, msp, kind, _node_cert(f"tls.{host}"), _node_cert(host))

    genesis = [record(f"orderer{i}.orderer.qcchain.example", "orderer", "OrdererMSP") for i in (1, 2, 3)]
    done = _run_proposal(runtime, story, admit_proposal(genesis, CHANNEL, "qcchain", "genesis nodes", expiry),
                         majority, tmp_path)
    assert done["status"] == "executed" and len(done["outcome"]["nodes"]) == 3
    new = record("orderer4.orderer.qcchain.example", "orderer", "OrdererMSP")
    admitted = _run_proposal(runtime, story, admit_proposal([new], CHANNEL, "qcchain", "scale out", expiry),
                             majority, tmp_path)
    node_id, tls = new["node_id"], new["tls_cert_sha256"]
    assert reg.gov().node(node_id)["admitted_by"] == admitted["proposal_id"]
    assert [n["node_id"] for n in reg.gov().nodes()] == sorted([node_id, *(g["node_id"] for g in genesis)])
    _denied(runtime, lambda: ins.gov().node_joined(node_id, CHANNEL, 12, "0" * 64), "does not match")
    assert ins.gov().node_joined(node_id, CHANNEL, 12, tls)["submitter_msp"] == ins.msp_id
    under = remove_proposal(node_id, CHANNEL, "qcchain", "compromised", expiry)
    with pytest.raises(ThresholdNotMet):  # an inspection body alone cannot remove a node: nothing submitted
        _run_proposal(runtime, story, under, ["Inspection"], tmp_path)
    _run_proposal(runtime, story, remove_proposal(node_id, CHANNEL, "qcchain", "compromised", expiry), ["Regulator"],
                  tmp_path)
    _denied(runtime, lambda: ins.gov().node_joined(node_id, "inspection-channel", 3, tls), "removed")
    reg.gov().node_left(node_id, CHANNEL, 13)
    final = reg.gov().node(node_id)
    assert final["status"] == "removed" and [j["event"] for j in final["joins"]] == ["joined", "left"]
    events = AuditClient(reg.contract(""), CHANNEL).timeline(0)
    kinds = sorted(e["kind"] for e in events if e["kind"].startswith("node_"))  # same-second order: by tx id
    assert kinds == ["node_admitted", "node_admitted", "node_joined", "node_left", "node_removed"], kinds
    assert {e.get("node_id") for e in events if e["kind"] != "node_admitted" and e["kind"].startswith("node_")} == {node_id}


def test_whole_chaincode_upgrade_only_approved_package_serves(runtime: Runtime, story: Story) -> None:
    """After a governed upgrade of the whole chaincode, the old running package refuses business calls;
    switching the running package to v2 is Fabric's ``peer lifecycle`` part."""
    reg, ins, use = (runtime.orgs[n] for n in ("Regulator", "Inspection", "UsingUnit"))
    story.govern("upgrade", [reg, ins, use], version="2", package_digest=runtime.digests[1])
    with pytest.raises(Exception, match="(?i)not the approved version"):
        reg.records().get(EQ)
    assert reg.gov().unit(CHANNEL, "qcchain", "")["active_version"] == "2"  # governance still serves
    require(runtime, "peer-lifecycle-upgrade")
    assert runtime.switch_package is not None, f"{runtime.name} names no way to switch the running package"
    runtime.switch_package()  # peer lifecycle install / approveformyorg x5 / commit (sequence 2), v2 server
    assert reg.records().get(EQ)["record_id"] == EQ  # the v2 package serves (real Fabric after peer lifecycle)
