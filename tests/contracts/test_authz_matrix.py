"""Authorisation matrix: every transaction function of every contract x every role (and a non-member).

One ledger is prepared once (consortium bootstrapped, SM2 keys registered, records of three grades, a
requested and an approved grant, an open governance proposal). Each cell runs ONE transaction with
``MockStub.invoke`` and never commits, so every cell sees the same state. An allowed cell must succeed;
a denied cell must fail AND leave nothing pending and the committed state untouched.

``test_matrix_covers_every_function`` fails when a contract gains a function the matrix does not
list, so the matrix cannot silently fall behind the code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey, sm3
from qcchain_contracts.audit import Audit
from qcchain_contracts.grading import Grading
from qcchain_contracts.keyregistry import registration_message
from qcchain_contracts.records import Records
from qcchain_contracts.sharing import Sharing
from qcchain_shim.contract import Router

from govkit import CHANNEL, GovKit, _sha256, cert_pem
from nodekit import admit, node
from test_sharing_contract import seed_records

ORGS = ["Inspection", "Regulator", "UsingUnit", "Manufacturer", "Maintenance"]
CALLERS = [*ORGS, "Stranger"]
ALL = frozenset(CALLERS)
MEMBERS = frozenset(ORGS)
STRANGER_KEY = SM2PrivateKey.generate()
MATRIX_NODE = node("orderer4.orderer.qcchain.example.com")


class Ledger:
    """The prepared ledger and helpers that build valid arguments for a given caller."""

    def __init__(self, kit: GovKit) -> None:
        self.kit = kit
        self.n = 0

    def key(self, org: str) -> SM2PrivateKey:
        return self.kit.orgs[org].key if org in self.kit.orgs else STRANGER_KEY

    def key_id(self, org: str) -> str:
        return self.key(org).public_key().key_id()

    def signed(self, org: str, action: str, **fields: Any) -> list[Any]:
        body = {"action": action, "channel": CHANNEL, **fields}
        return [body, self.key_id(org), self.key(org).sign(canonical_json(body)).hex()]

    def nonce(self) -> str:
        self.n += 1
        return f"cellnonce{self.n:06d}"

    def terms(self, grant_id: str, record_id: str, grade: str = "L3", purpose: str = "maintenance") -> dict[str, Any]:
        return {"grant_id": grant_id, "scope": {"type": "record", "value": record_id}, "max_grade": grade,
                "purpose": purpose, "expires_at": self.kit.now + 86400}

    def wrapped(self, grantee: str) -> dict[str, str]:
        """An (opaque to the chaincode) data key of r-hd wrapped for the grantee's registered key."""
        return {"record_id": "r-hd", "key_id": self.key_id(grantee), "wrapped_key": "AAAA"}

    def new_key_args(self, org: str) -> list[Any]:
        key = SM2PrivateKey.generate()
        msp = f"{org}MSP"
        nb, na = self.kit.now, self.kit.now + 10**6
        usages = ["sign"]
        proof = key.sign(registration_message(msp, key.public_key().key_id(), _sha256(cert_pem(msp, True)), usages, nb, na))
        return [key.public_key().to_pem().decode(), usages, nb, na, proof.hex()]

    def envelope(self, org: str, record_id: str = "") -> list[Any]:
        record_id = record_id or f"eq-{org.lower()}"
        payload = {"ID": record_id, "busType": "I", "updateDate": "2024-07-08", "regNo": "EQ9", "equipmentKind": "电梯",
                   "equipmentName": "乘客电梯", "model": "X1", "productNo": "P1", "manufacturerName": "某厂",
                   "manufactureDate": "2024-01-01"}
        env = {"record_id": record_id, "category": "equipment", "equipment_code": "EQ9", "stage": "production",
               "owner_msp": f"{org}MSP", "bus_type": "I", "version": 1, "grade": "L1",
               "digest": sm3(canonical_json(payload)).hex(), "exec_type": "publish", "receiver_role": "",
               "key_id": self.key_id(org), "ciphertext_digest": "", "channel": CHANNEL}
        return [env, self.key(org).sign(canonical_json(env)).hex(), payload]


Args = Callable[[Ledger, str], list[Any]]
MATRIX: dict[str, tuple[frozenset[str], Args]] = {
    # --- governance (reads are open to the channel: the peer's channel ACL is the gate) ---------------
    "governance:bootstrap": (frozenset(), lambda lg, o: [lg.kit.members(), lg.kit.policies()]),
    "governance:propose": (MEMBERS, lambda lg, o: [
        p := dict(lg.kit.proposal("freeze", contract="scratch"), nonce=lg.nonce()), {}, lg.key_id(o),
        lg.key(o).sign(canonical_json(p)).hex()]),
    "governance:sign": (MEMBERS - {"Regulator"}, lambda lg, o: [
        lg.proposal_id, lg.key_id(o), lg.key(o).sign(canonical_json(lg.proposal)).hex()]),
    # execute only applies a proposal whose SM2 signature threshold is already met: triggering needs no authority
    "governance:execute": (ALL, lambda lg, o: [lg.proposal_id]),
    "governance:info": (ALL, lambda lg, o: []),
    "governance:get_member": (ALL, lambda lg, o: ["UsingUnitMSP"]),
    "governance:members": (ALL, lambda lg, o: []),
    "governance:policy": (ALL, lambda lg, o: ["sharing"]),
    "governance:get_proposal": (ALL, lambda lg, o: [lg.proposal_id]),
    "governance:proposals": (ALL, lambda lg, o: []),
    "governance:unit": (ALL, lambda lg, o: [CHANNEL, "qcchain", "scratch"]),
    "governance:units": (ALL, lambda lg, o: []),
    "governance:whoami": (ALL, lambda lg, o: []),
    "governance:get_channel": (ALL, lambda lg, o: ["qc2"]),
    "governance:get_channel_join": (ALL, lambda lg, o: ["qc2", "UsingUnitMSP"]),
    # --- node registry: join/leave attestations by any active member's admin; reads open --------------
    "governance:node_joined": (MEMBERS, lambda lg, o: [MATRIX_NODE["node_id"], CHANNEL, 7, MATRIX_NODE["tls_cert_sha256"]]),
    "governance:node_left": (MEMBERS, lambda lg, o: [MATRIX_NODE["node_id"], CHANNEL, 9]),
    "governance:node": (ALL, lambda lg, o: [MATRIX_NODE["node_id"]]),
    "governance:nodes": (ALL, lambda lg, o: []),
    # --- SM2 key registry: an org's admins manage their own keys; reads open -------------------------
    "keys:register": (MEMBERS, lambda lg, o: lg.new_key_args(o)),
    "keys:rotate": (MEMBERS, lambda lg, o: [lg.key_id(o), *lg.new_key_args(o)]),
    "keys:revoke": (MEMBERS, lambda lg, o: [lg.key_id(o), "matrix"]),
    "keys:get": (ALL, lambda lg, o: [lg.key_id("UsingUnit")]),
    "keys:list_org": (ALL, lambda lg, o: ["UsingUnitMSP"]),
    # --- grading: policy data, readable by the channel -------------------------------------------------
    "grading:decide": (ALL, lambda lg, o: ["equipment", "manufacturer", "", "publish"]),
    "grading:categories": (ALL, lambda lg, o: []),
    # --- records: equipment (L1) may be sent by manufacturer, using unit, inspection body, regulator -----
    "records:submit": (frozenset({"Manufacturer", "UsingUnit", "Inspection", "Regulator"}), lambda lg, o: lg.envelope(o)),
    "records:get": (ALL, lambda lg, o: ["r-eq"]),
    "records:query": (ALL, lambda lg, o: ["equipment", "EQ1", "10", ""]),
    "records:verify_original": (ALL, lambda lg, o: ["r-rep", b"original bytes"]),
    # --- audit: read-only history -------------------------------------------------------------------
    "audit:record_history": (ALL, lambda lg, o: ["eq-setup"]),
    "audit:lifecycle_log": (MEMBERS, lambda lg, o: []),
    "audit:lifecycle_log_page": (MEMBERS, lambda lg, o: ["10", ""]),
    "audit:timeline": (MEMBERS, lambda lg, o: ["0", str(lg.kit.now + 10)]),
    "audit:timeline_page": (MEMBERS, lambda lg, o: ["0", str(lg.kit.now + 10), "10", ""]),
    # the L3/L4 access log: the record's owner (UsingUnit) or a supervisory role (as sharing:access_log)
    "audit:access_log": (frozenset({"UsingUnit", "Regulator"}), lambda lg, o: ["r-hd"]),
    "audit:access_log_page": (frozenset({"UsingUnit", "Regulator"}), lambda lg, o: ["r-hd", "10", ""]),
    # --- sharing (owner UsingUnit; g-req requested by Manufacturer; g-ok approved for Maintenance) ------
    "sharing:request": (MEMBERS - {"UsingUnit"}, lambda lg, o: lg.signed(
        o, "request", owner_msp="UsingUnitMSP", **lg.terms(f"req-{o}", "r-hd"))),
    "sharing:grant": (frozenset({"UsingUnit"}), lambda lg, o: lg.signed(
        o, "grant", grantee_msp="ManufacturerMSP", wrapped_keys=[lg.wrapped("Manufacturer")], **lg.terms(f"dir-{o}", "r-hd"))),
    "sharing:approve": (frozenset({"UsingUnit"}), lambda lg, o: lg.signed(
        o, "approve", grant_id="g-req", wrapped_keys=[lg.wrapped("Manufacturer")])),
    "sharing:reject": (frozenset({"UsingUnit"}), lambda lg, o: lg.signed(o, "reject", grant_id="g-req")),
    "sharing:revoke": (frozenset({"UsingUnit", "Maintenance"}), lambda lg, o: lg.signed(o, "revoke", grant_id="g-ok")),
    "sharing:add_keys": (frozenset({"UsingUnit"}), lambda lg, o: lg.signed(o, "add_keys", grant_id="g-ok", wrapped_keys=[
        lg.wrapped("Maintenance")])),
    "sharing:access": (frozenset({"UsingUnit", "Regulator", "Maintenance"}), lambda lg, o: lg.signed(
        o, "access", record_id="r-hd", purpose="audit", nonce=lg.nonce())),
    "sharing:get": (frozenset({"UsingUnit", "Maintenance", "Regulator"}), lambda lg, o: ["g-ok"]),
    "sharing:list_grants": (MEMBERS, lambda lg, o: [""]),
    "sharing:access_log": (frozenset({"UsingUnit", "Regulator"}), lambda lg, o: ["r-hd"]),
    "sharing:check": (MEMBERS, lambda lg, o: []),
}


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    kit = GovKit(extra_contracts=(Records(), Sharing(), Grading(), Audit()))
    seed_records(kit)
    lg = Ledger(kit)
    kit.ok("sharing:request", lg.signed("Manufacturer", "request", owner_msp="UsingUnitMSP", **lg.terms("g-req", "r-hd")),
           org="Manufacturer")
    kit.ok("sharing:grant", lg.signed("UsingUnit", "grant", grantee_msp="MaintenanceMSP", wrapped_keys=[lg.wrapped("Maintenance")],
                                      **lg.terms("g-ok", "r-hd", purpose="audit")), org="UsingUnit")
    kit.ok("records:submit", lg.envelope("Manufacturer", "eq-setup"), org="Manufacturer")
    kit.passed(kit.proposal("deploy", contract="scratch", version="1", digest="d" * 64),
               ["Regulator", "Inspection", "UsingUnit"])
    admit(kit, MATRIX_NODE)
    for op, subject, artifact in (("channel_create", "qc2", {"channel": "qc2", "members": ["RegulatorMSP", "InspectionMSP"]}),
                                  ("channel_join", "UsingUnitMSP", {"channel": "qc2", "msp_id": "UsingUnitMSP"})):
        kit.passed(kit.proposal(op, contract=subject, digest=sm3(canonical_json(artifact)).hex()),
                   ["Regulator", "Inspection", "UsingUnit"], artifact=artifact)
    lg.proposal = kit.proposal("freeze", contract="scratch")
    lg.proposal_id = kit.ok("governance:propose", [lg.proposal, {}, lg.key_id("Regulator"),
                                                    lg.key("Regulator").sign(canonical_json(lg.proposal)).hex()],
                            org="Regulator")["proposal_id"]
    yield lg


def test_matrix_covers_every_function() -> None:
    from qcchain_contracts.governance import Governance
    from qcchain_contracts.keyregistry import KeyRegistry

    router = Router([Governance(), KeyRegistry(), Grading(), Records(), Sharing(), Audit()])
    functions = {f"{c}:{fn}" for c in router.contracts for fn in router.transactions(c)}
    assert sorted(functions - set(MATRIX)) == [], "functions missing from the authorisation matrix"
    assert sorted(set(MATRIX) - functions) == [], "matrix lists functions that do not exist"


@pytest.mark.parametrize("function", sorted(MATRIX))
def test_cell(ledger: Ledger, function: str) -> None:
    allowed, build = MATRIX[function]
    kit, wrong = ledger.kit, []
    for caller in CALLERS:
        msp = f"{caller}MSP"
        raw = [a if isinstance(a, (str, bytes)) else json.dumps(a) for a in build(ledger, caller)]
        before = {c: dict(t) for c, t in kit.stub.state.items()}
        response = kit.stub.invoke(kit.contracts, function, raw, creator=(msp, cert_pem(msp, True)), tx_time=kit.now + 5)
        if response.ok != (caller in allowed):
            wrong.append(f"{caller}: {'allowed' if response.ok else 'denied: ' + response.message}")
        if not response.ok:
            assert not kit.stub.pending and kit.stub.event is None, f"{function} by {caller}: denied call left writes"
            assert kit.stub.last_writes == {}, f"{function} by {caller}: wrote {sorted(kit.stub.last_writes)} before refusing"
        assert {c: dict(t) for c, t in kit.stub.state.items()} == before, "invoke without commit changed state"
        kit.stub.pending.clear()
    assert wrong == [], f"{function}: " + "; ".join(wrong)
