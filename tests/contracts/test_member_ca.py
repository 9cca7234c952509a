"""Members bound to their organisation's CA (issue 18): optional ``ca_cert_sha256`` / ``tls_ca_cert_sha256``
on ``member_admit``, checked, stored, kept on removal; a CA already bound to an active member is refused;
records without them stay valid."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3
from qcchain_contracts.errors import InvalidInput
from qcchain_contracts.store.members import validate_member

from govkit import GovKit, make_org

MAJ = ["Regulator", "Inspection", "UsingUnit"]
CA1, TLS1 = hashlib.sha256(b"ca one").hexdigest(), hashlib.sha256(b"tls one").hexdigest()


def _admit(kit: GovKit, artifact: dict[str, Any]) -> dict[str, Any]:
    digest = sm3(canonical_json(artifact)).hex()
    return kit.passed(kit.proposal("member_admit", contract=artifact["msp_id"], digest=digest), MAJ, artifact=artifact)


def _propose_fails(kit: GovKit, artifact: dict[str, Any], contains: str) -> None:
    body = kit.proposal("member_admit", contract=artifact["msp_id"], digest=sm3(canonical_json(artifact)).hex())
    kit.fails("governance:propose", [body, artifact, kit.orgs["Regulator"].key_id, kit.sig("Regulator", body)],
              contains)


def test_old_shape_still_valid_and_fingerprints_checked() -> None:
    base = make_org("Old", "manufacturer", "91320400MA1NT0006").member()
    assert validate_member(base, ["manufacturer"]) == base
    bound = {**base, "ca_cert_sha256": CA1, "tls_ca_cert_sha256": TLS1}
    assert validate_member(bound, ["manufacturer"]) == bound
    for bad in ({**base, "ca_cert_sha256": CA1.upper()}, {**base, "tls_ca_cert_sha256": "ab"},
                {**base, "ca_cert_sha256": 7}):
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            validate_member(bad, ["manufacturer"])
    with pytest.raises(InvalidInput, match="exactly"):
        validate_member({**base, "ca_cert": "x"}, ["manufacturer"])


def test_admit_binds_ca_kept_on_removal_and_clash_refused() -> None:
    kit = GovKit()
    newcomer = make_org("Installer", "manufacturer", "91320400MA1NT0006")
    artifact = {**newcomer.member(), "ca_cert_sha256": CA1, "tls_ca_cert_sha256": TLS1}
    _admit(kit, artifact)
    got = kit.ok("governance:get_member", [newcomer.msp])
    assert got["status"] == "active" and got["ca_cert_sha256"] == CA1 and got["tls_ca_cert_sha256"] == TLS1
    # another org presenting the same CA (or TLS CA) is refused when proposed, nothing written
    other = make_org("Copycat", "manufacturer", "91320400MA1NT0014").member()
    _propose_fails(kit, {**other, "ca_cert_sha256": CA1}, "already bound to member InstallerMSP")
    _propose_fails(kit, {**other, "tls_ca_cert_sha256": CA1, "ca_cert_sha256": TLS1}, "already bound")
    _propose_fails(kit, {**other, "ca_cert_sha256": "zz"}, "64 lowercase hex")
    # removal keeps the binding in the record (history), and frees the CA for no one else while active only
    kit.passed(kit.proposal("member_remove", contract=newcomer.msp), [*MAJ, "Manufacturer"])  # 4 of 7
    gone = kit.ok("governance:get_member", [newcomer.msp])
    assert gone["status"] == "removed" and gone["ca_cert_sha256"] == CA1


def test_clash_checked_again_at_execution() -> None:
    kit = GovKit()
    a = {**make_org("Alpha", "manufacturer", "91320400MA1NT0006").member(), "ca_cert_sha256": CA1}
    b = {**make_org("Beta", "manufacturer", "91320400MA1NT0014").member(), "ca_cert_sha256": CA1}
    pa, pb = ({"body": kit.proposal("member_admit", contract=m["msp_id"], digest=sm3(canonical_json(m)).hex()),
               "artifact": m} for m in (a, b))
    ids = []
    for p in (pa, pb):
        body = p["body"]
        made = kit.ok("governance:propose", [body, p["artifact"], kit.orgs["Regulator"].key_id,
                                             kit.sig("Regulator", body)])
        for name in [*MAJ[1:], "Manufacturer"]:  # 4 signatures: still enough once Alpha is in (7 members)
            kit.ok("governance:sign", [made["proposal_id"], kit.orgs[name].key_id, kit.sig(name, body)], org=name)
        ids.append(made["proposal_id"])
    kit.ok("governance:execute", [ids[0]])
    kit.fails("governance:execute", [ids[1]], "already bound to member AlphaMSP")
