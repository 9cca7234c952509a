"""Issue 13 finding 3: L2 is readable only by its audience (owner, regulator, inspection bodies, grantees).

A manufacturer or maintenance unit on the channel holds the whole channel state (its peer stores every
world-state row and every block). Before the fix an L2 payload sat there in clear; now L2 is placed
``private_encrypted`` (SM4-GCM, data key SM2-wrapped for the audience orgs), so a raw dump of the state
shows ciphertext only. Plaintext L2 written before is re-submitted encrypted by ``migrate_l2``; its old
versions stay in the key history (as every ledger write does) — the test says so.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3
from qcchain_sdk.actions import submit_record
from qcchain_sdk.contracts.migrate import migrate_l2
from qcchain_sdk.contracts.records import build_record, decrypt_view
from qcchain_sdk.contracts.sharing import SharingClient, unwrap_data_key, wrap_data_key
from qcchain_sdk.contracts.records import decrypt_with_data_key
from qcchain_sdk.errors import GovernanceStateError

from govkit import GovKit, cert_pem
from seckit import full_kit

SECRET = "L2-INTERNAL-SECRET-use-registration-7f3a"
# The shipped policy's floors are L1 or L3 for every (category, sender); L2 is what an owner asks for above
# an L1 floor (here: its own unit record, kept to the supervision chain).
PAYLOAD = {"ID": "KU-1", "busType": "I", "updateDate": "2025-06-01", "comName": SECRET,
           "orgNo": "E00000000000000000", "address": "use_registration street 1"}
RECORD = dict(record_id="KU-1", category="using_unit", equipment_code="32010001", stage="use")
MAJ = ["Regulator", "Inspection", "UsingUnit"]


class KitContract:
    """The Gateway boundary on MockStub: what ``qcchain_gateway.contract.Contract`` sends, as ``org``."""

    def __init__(self, kit: GovKit, org: str) -> None:
        self.kit, self.org, self.channel = kit, org, "qcchannel"

    def _run(self, name: str, args: tuple[Any, ...], transient: dict[str, bytes] | None = None) -> bytes:
        msp = self.kit.orgs[self.org].msp
        raw = [a if isinstance(a, (str, bytes)) else json.dumps(a) for a in args]
        response = self.kit.stub.submit(self.kit.contracts, name, raw, creator=(msp, cert_pem(msp, True)),
                                        tx_time=self.kit.tick(), transient=transient)
        assert response.ok, f"{name}: {response.message}"
        return bytes(response.payload)

    def evaluate_transaction(self, name: str, *args: Any) -> bytes:
        return self._run(name, args)

    def submit_transaction(self, name: str, *args: Any, transient: dict[str, bytes] | None = None, **_: Any) -> bytes:
        return self._run(name, args, transient)


def raw_state_dump(kit: GovKit) -> bytes:
    """Everything a channel member's peer holds of the current state: every row of every collection."""
    return b"\n".join(key.encode() + b"=" + value for table in kit.stub.state.values() for key, value in table.items())


def history_dump(kit: GovKit) -> bytes:
    return b"\n".join(bytes(m.value or b"") for mods in kit.stub.history.values() for m in mods)


@pytest.fixture()
def kit() -> GovKit:
    return full_kit()


def _submit_l2(kit: GovKit) -> dict[str, Any]:
    use = kit.orgs["UsingUnit"]
    return submit_record(KitContract(kit, "UsingUnit"), use.key, payload=PAYLOAD, original=None, grade="L2", **RECORD)


def test_a_channel_member_outside_the_audience_reads_no_l2_plaintext_from_the_state(kit: GovKit) -> None:
    meta = _submit_l2(kit)
    assert meta["placement"] == "private_encrypted" and meta["grade"] == "L2"
    dump = raw_state_dump(kit) + history_dump(kit)  # what the manufacturer's peer stores
    assert SECRET.encode() not in dump and b"use_registration" not in dump
    assert sm3(canonical_json(PAYLOAD)).hex().encode() not in dump  # the digest is a salted commitment
    view = kit.ok("records:get", ["KU-1"], org="Manufacturer")
    assert "payload" not in view and "ciphertext" not in view and view["access"] == "metadata"
    for reader in ("Regulator", "Inspection", "UsingUnit"):  # the audience decrypts with its own key
        seen = kit.ok("records:get", ["KU-1"], org=reader)
        assert decrypt_view(seen, seen["wrapped_key"]["wrapped"], kit.orgs[reader].key) == PAYLOAD
    assert kit.ok("records:get", ["KU-1"], org="Maintenance")["access"] == "metadata"


def test_an_l2_grantee_reads_through_a_data_key_wrapped_with_its_grant(kit: GovKit) -> None:
    _submit_l2(kit)
    owner = kit.orgs["UsingUnit"]
    view = kit.ok("records:get", ["KU-1"], org="UsingUnit")
    data_key = owner.key.decrypt(bytes.fromhex(view["wrapped_key"]["wrapped"]))
    grantee = kit.orgs["Maintenance"]
    terms = dict(scope=("record", "KU-1"), max_grade="L2", purpose="maintenance", expires_at=kit.now + 3600)
    sharing = SharingClient.with_key(KitContract(kit, "UsingUnit"), owner.key)
    with pytest.raises(AssertionError, match="must carry its data key"):
        sharing.grant(grantee.msp, **terms, grant_id="g-nokey")  # type: ignore[arg-type]
    sharing.grant(grantee.msp, **terms, grant_id="g-l2",  # type: ignore[arg-type]
                  wrapped_keys=[wrap_data_key("KU-1", data_key, grantee.key.public_key())])
    out = SharingClient.with_key(KitContract(kit, "Maintenance"), grantee.key).access("KU-1", "maintenance")
    assert "payload" not in out and out["entry"]["grant_id"] == "g-l2"
    cipher_view = kit.ok("records:get", ["KU-1"], org="Maintenance")  # a grantee sees the ciphertext
    assert decrypt_with_data_key(cipher_view, unwrap_data_key(out["wrapped_key"], grantee.key)) == PAYLOAD


def _old_policy_kit() -> GovKit:
    """A kit whose chain still runs the grading policy with L2 in world state (before the fix)."""
    class OldKit(GovKit):
        @staticmethod
        def policies() -> dict[str, Any]:
            docs = GovKit.policies()
            docs["grading"]["grades"]["L2"]["placement"] = "world_state"
            return docs
    fresh = full_kit()
    return OldKit(extra_contracts=tuple(fresh.contracts[2:]))


def test_migration_reencrypts_plaintext_l2_as_the_next_version(kit: GovKit) -> None:
    old = _old_policy_kit()
    use = old.orgs["UsingUnit"]
    legacy = build_record(**RECORD, owner_msp=use.msp, grade="L2", signing_key=use.key, payload=PAYLOAD,
                          placement="world_state")
    old.ok("records:submit", legacy.args(), org="UsingUnit")
    assert SECRET.encode() in raw_state_dump(old)  # the finding: plaintext in every member's state
    with pytest.raises(GovernanceStateError, match="adopt the grading policy"):
        migrate_l2(KitContract(old, "UsingUnit"), use.msp, use.key)
    new_doc = copy.deepcopy(GovKit.policies()["grading"])
    old.passed(old.proposal("policy_update", contract="grading", version="2", digest=sm3(canonical_json(new_doc)).hex()),
               MAJ, artifact=new_doc)
    assert migrate_l2(KitContract(old, "UsingUnit"), use.msp, use.key, dry_run=True).migrated == {"KU-1": 2}
    assert SECRET.encode() in raw_state_dump(old)  # a dry run sends nothing
    report = migrate_l2(KitContract(old, "UsingUnit"), use.msp, use.key)
    assert report.migrated == {"KU-1": 2} and not report.skipped
    assert SECRET.encode() not in raw_state_dump(old)  # current state: ciphertext only
    assert SECRET.encode() in history_dump(old)  # version 1 stays in the key history / past blocks
    seen = old.ok("records:get", ["KU-1"], org="Regulator")
    assert seen["version"] == 2 and seen["placement"] == "private_encrypted"
    assert decrypt_view(seen, seen["wrapped_key"]["wrapped"], old.orgs["Regulator"].key) == dict(PAYLOAD, busType="U")
    assert migrate_l2(KitContract(old, "UsingUnit"), use.msp, use.key).migrated == {}  # idempotent
