"""Migration of plaintext L2 records to encrypted placement (issue 13 finding 3).

Until the grading policy placed L2 ``private_encrypted``, L2 payloads were written in clear into the
channel's world state, where every channel member (a manufacturer, a maintenance unit) could read them.
Once the governance has adopted the new grading policy, each owner runs :func:`migrate_l2` with its
``sign`` key: every live L2 record it owns that is still in ``world_state`` is re-submitted as its next
version (bus type ``U``) with the same payload, SM4-GCM encrypted and the data key wrapped for the
grade's audience orgs (:func:`.records.sealing_plan`). The current state then holds only ciphertext.

What this does NOT undo: the earlier versions stay in the key history and in past blocks, plaintext,
as every ledger write does (Fabric never rewrites a block). Whoever copied the ledger before the
migration keeps the plaintext; the migration protects what is written from now on and the current
state. Grants given on a migrated record carry no data key: the owner re-grants (or ``add_keys``) so
the grantee receives the key wrapped for it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from qcchain_core.gm import SM2PrivateKey
from qcchain_model.envelope import STAGES
from qcchain_model.grades import PLACEMENT_PRIVATE_ENCRYPTED, PLACEMENT_WORLD_STATE

from ..contractlike import ContractLike
from ..errors import GovernanceStateError, RecipientError
from .records import RecordsClient, build_record, sealing_plan

log = logging.getLogger(__name__)

__all__ = ["MigrationReport", "plaintext_l2", "migrate_l2", "MAX_PAGES", "PAGE_SIZE"]

PAGE_SIZE = 100  # records:query's largest page
MAX_PAGES = 1000  # per stage: 100,000 records; more is refused rather than scanned without end


@dataclass
class MigrationReport:
    """What :func:`migrate_l2` did: records re-submitted encrypted (``record_id`` -> new version) and the
    ones it left, each with the reason."""

    migrated: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


class _Records:
    """``records:*`` through the chaincode's default contract (``records:get`` style names)."""

    def __init__(self, contract: ContractLike) -> None:
        self._contract = contract
        self.channel = contract.channel

    def evaluate_transaction(self, name: str, *args: str | bytes) -> bytes:
        return self._contract.evaluate_transaction(f"records:{name}", *args)

    def submit_transaction(self, name: str, *args: str | bytes, **options: Any) -> bytes:
        return self._contract.submit_transaction(f"records:{name}", *args, **options)


def plaintext_l2(records: RecordsClient, owner_msp: str) -> list[dict[str, Any]]:
    """Every live L2 record of ``owner_msp`` still stored in world state (with its payload, as the owner
    reads it), in stage-index order, each record once.

    Raises:
        GovernanceStateError: a stage holds more than :data:`MAX_PAGES` pages.
        qcchain_gateway.errors.EvaluateError: a read failed.
    """
    found: dict[str, dict[str, Any]] = {}
    for stage in STAGES:
        bookmark = ""
        for _ in range(MAX_PAGES):
            page = records.query("stage", stage, PAGE_SIZE, bookmark)
            for view in page["records"]:
                if (view.get("grade") == "L2" and view.get("owner_msp") == owner_msp and not view.get("deleted")
                        and view.get("placement") == PLACEMENT_WORLD_STATE):
                    found.setdefault(view["record_id"], view)
            bookmark = page["bookmark"]
            if not bookmark:
                break
        else:
            raise GovernanceStateError(f"stage {stage!r} holds more than {MAX_PAGES * PAGE_SIZE} records; "
                                       "migrate with a narrower query")
    return list(found.values())


def _next_version(view: dict[str, Any], owner_msp: str, signing_key: SM2PrivateKey, channel: str,
                  recipients: dict[str, Any]) -> Any:
    payload = dict(view["payload"])
    if "busType" in payload:  # the payload states its operation; the re-submission is an update
        payload["busType"] = "U"
    return build_record(record_id=view["record_id"], category=view["category"], equipment_code=view["equipment_code"],
                        stage=view["stage"], owner_msp=owner_msp, grade="L2", signing_key=signing_key,
                        payload=payload, bus_type="U", version=int(view["version"]) + 1,
                        exec_type=view["exec_type"], receiver_role=view["receiver_role"], recipients=recipients,
                        channel=channel, placement=PLACEMENT_PRIVATE_ENCRYPTED)


def migrate_l2(contract: ContractLike, owner_msp: str, signing_key: SM2PrivateKey, *,
               dry_run: bool = False) -> MigrationReport:
    """Re-submit every plaintext L2 record of ``owner_msp`` as its next version, encrypted.

    ``contract`` is the chaincode's default contract as the owner org (``records:*``, ``governance:*``,
    ``keys:*``); ``signing_key`` the owner's registered ``sign`` key. ``dry_run`` lists what would be
    migrated (``migrated`` maps to the version it would get) and sends nothing. A record whose payload no
    longer passes its schema (the SDK validates before encrypting) is left in ``skipped`` with the reason;
    nothing is written for it. Safe to run again: migrated records are no longer in world state.

    Raises:
        GovernanceStateError: the chain's grading policy still places L2 in world state (adopt the new
            grading policy through governance first), or too many records to list.
        RecipientError: an audience org of L2 has no active SM2 encryption key (nothing sent).
        qcchain_gateway.errors.GatewayError: a read or a submit failed (records submitted before it stay
            migrated; run again to finish).
    """
    try:
        placement, recipients = sealing_plan(contract, "L2", owner_msp)
    except LookupError as exc:
        raise RecipientError(str(exc)) from exc
    if placement != PLACEMENT_PRIVATE_ENCRYPTED or not recipients:
        raise GovernanceStateError(f"the chain's grading policy places L2 in {placement}: adopt the grading policy "
                                   "with L2 private_encrypted through governance before migrating")
    records = RecordsClient(_Records(contract))
    report = MigrationReport()
    for view in plaintext_l2(records, owner_msp):
        rid = view["record_id"]
        try:
            built = _next_version(view, owner_msp, signing_key, contract.channel, recipients)
        except ValueError as exc:
            report.skipped[rid] = f"payload does not pass its schema, not migrated: {exc}"
            continue
        if not dry_run:
            stored = json.loads(contract.submit_transaction("records:submit", *built.args(), transient=built.transient))
            log.info("migrated L2 record %s to v%s (encrypted)", rid, stored["version"])
        report.migrated[rid] = built.envelope["version"]
    return report
