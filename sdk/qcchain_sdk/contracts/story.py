"""The consortium story (the main job, issue 4) as a library, runnable on any runtime whose orgs expose
``ContractLike`` objects per contract: the devnet or real Fabric through the Gateway SDK (one connection
per org, see :func:`orgs_from_profiles`), or a MockStub adapter in unit tests.

:class:`Story` performs the steps in order; each step checks what it claims (reads back, expects the
refusal it demonstrates) and any step that does not hold raises :class:`StoryError` whose message starts
with the step's name. The last step is the auditor's: the full timeline from the chain, every SM3 digest
and SM2 signature re-verified (:mod:`.audit`).
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from qcchain_core.gm import SM2PrivateKey

from .audit import AuditClient, AuditReport, audit_channel, format_timeline
from ..contractlike import ContractLike
from .governance import GovernanceClient, build_proposal
from .records import RecordsClient, build_record, decrypt_view, verify_view
from .sharing import SharingClient

log = logging.getLogger(__name__)

__all__ = ["StoryOrg", "StoryError", "StoryConfig", "Story", "run_story", "orgs_from_profiles", "demo_payloads"]

ORG_NAMES = ("Regulator", "Inspection", "UsingUnit", "Manufacturer", "Maintenance")
EQ, IR, HD = "EQ-32010001", "IR-32010001-1", "HD-32010001-1"


class StoryError(RuntimeError):
    """A step of the story did not hold; the message starts with the step name."""


@dataclass
class StoryOrg:
    """One member org as the story drives it: its admin's contracts and its SM2 key."""

    name: str
    msp_id: str
    role: str
    credit_code: str
    cert_pem: bytes
    contract: Callable[[str], ContractLike]  # contract name ("" = chaincode default) -> ContractLike
    key: SM2PrivateKey = field(default_factory=SM2PrivateKey.generate)
    full_name: str = ""

    def gov(self) -> GovernanceClient:
        return GovernanceClient(self.contract("governance"), self.contract("keys"), self.msp_id, self.cert_pem, self.key)

    def records(self) -> RecordsClient:
        return RecordsClient(self.contract("records"))

    def sharing(self) -> SharingClient:
        return SharingClient.with_key(self.contract(""), self.key)  # type: ignore[arg-type]


@dataclass
class StoryConfig:
    """What the story needs besides the orgs.

    ``package_digests``: (approved digest of the whole chaincode v1 — the running package's on a runtime
    that checks it —, digest approved for the records contract v2).
    """

    channel: str
    policies: dict[str, Any]
    now: Callable[[], int]
    package_digests: tuple[str, str]
    payloads: dict[str, Any]
    say: Callable[[str], None] = print
    qscc: ContractLike | None = None  # the regulator's qscc contract, for block numbers in the timeline
    lifecycle_note: str = ""


def demo_payloads() -> dict[str, Any]:
    """Sample payloads valid against the shipped schemas (equipment L1, hidden danger L3, L4 original)."""
    equipment = {"ID": EQ, "busType": "I", "updateDate": "2025-06-01", "regNo": "32010001", "equipmentKind": "电梯",
                 "equipmentName": "Passenger lift", "model": "XL-1", "productNo": "P-001",
                 "manufacturerName": "Example Lift Manufacturing Co.", "manufactureDate": "2024-12-01"}
    danger = {"ID": HD, "batchNo": "2025060100000001", "txCode": "09", "busType": "I", "updateDate": "2025-06-01",
              "taskNo": "T-1", "regNo": "32010001", "troubleType": "设备类", "troubleLevel": "一般事故隐患",
              "mainProblem": "brake lining worn below limit", "checkMan": "Wang", "checkDate": "2025-06-01",
              "limitDate": "2025-06-30"}
    return {"equipment": equipment, "hidden_danger": danger,
            "report_original": b"%PDF-1.7\n% periodic inspection report 32010001, conclusion: conditionally fit\n"}


def _refused(step: str, fn: Callable[[], Any], needle: str) -> str:
    """Run ``fn``; it must fail with a message containing ``needle``. Returns the refusal text."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any refusal type of any runtime
        text = " ".join(f"{exc} {getattr(exc, 'details', '')}".split())
        if needle.lower() not in text.lower():
            raise StoryError(f"{step}: refused for another reason: {text[:300]}") from exc
        return text
    raise StoryError(f"{step}: was accepted but must be refused")


class Story:
    """The story's steps over five orgs (names as in :data:`ORG_NAMES`)."""

    def __init__(self, orgs: dict[str, StoryOrg], config: StoryConfig) -> None:
        missing = [n for n in ORG_NAMES if n not in orgs]
        if missing:
            raise StoryError(f"setup: the story needs the orgs {', '.join(missing)}")
        self.orgs, self.cfg = orgs, config
        self.reg, self.ins, self.use, self.man = (orgs[n] for n in ORG_NAMES[:4])
        self.majority = [self.reg, self.ins, self.use]
        self.steps: list[str] = []
        self.audit: AuditReport | None = None
        #: Returns once every org's peer holds the given block: a runner on real Fabric sets it (each org reads
        #: through its own peer); on the devnet every org's view is one ledger, so there is nothing to wait for.
        self.settle: Callable[[int], None] = lambda _block: None

    def done(self, text: str) -> None:
        self.steps.append(text)
        self.cfg.say(f"  ok  {text}")

    def run(self) -> list[str]:
        """Run every step; returns the step log. Raises StoryError naming the first step that failed."""
        for name, step in (("members", self.members), ("keys", self.keys), ("deploy", self.deploy),
                           ("equipment L1", self.equipment), ("inspection report L4", self.report),
                           ("hidden danger L3", self.danger), ("regulator reads", self.regulator_reads),
                           ("grant + logged access", self.share), ("freeze", self.freeze), ("thaw", self.thaw),
                           ("upgrade", self.upgrade), ("destroy", self.destroy), ("audit", self.auditor)):
            try:
                step()
            except StoryError as exc:
                raise StoryError(f"step '{name}': {' '.join(str(exc).split())}"[:500]) from exc
            except Exception as exc:  # noqa: BLE001 - the step did not hold: say which and why
                text = " ".join(str(exc).split())  # one line, whatever the runtime's message looked like
                raise StoryError(f"step '{name}': {type(exc).__name__}: {text}"[:500]) from exc
        return self.steps

    # ------------------------------------------------------------------ governance
    def govern(self, op: str, signers: list[StoryOrg], early: bool = False, **kw: Any) -> dict[str, Any]:
        """Propose (first signer), collect the others' signatures, execute; ``early`` first proves that
        executing with the proposer's signature alone is refused as under threshold."""
        body = build_proposal(op, self.cfg.channel, expiry=self.cfg.now() + 3600, reason=f"demo {op}", **kw)
        proposal = signers[0].gov().propose(body)
        if early:
            _refused(f"{op} under threshold", lambda: signers[0].gov().execute(proposal["proposal_id"]), "under threshold")
        for org in signers[1:]:
            org.gov().sign(proposal)
        result = signers[0].gov().execute(proposal["proposal_id"])
        if result.get("status") != "executed":
            raise StoryError(f"{op} proposal {proposal['proposal_id'][:12]} is {result.get('status')}")
        what = kw.get("contract") or "qcchain"
        self.done(f"{op} {what}{' v' + kw['version'] if kw.get('version') else ''}: executed with SM2 signatures of "
                  f"{', '.join(o.msp_id for o in signers)}{' (1 signature alone was refused)' if early else ''}")
        return result

    def unit(self, contract: str) -> dict[str, Any]:
        return self.reg.gov().unit(self.cfg.channel, "qcchain", contract)

    def members(self) -> None:
        members = [{"msp_id": o.msp_id, "role": o.role, "name": o.full_name or f"{o.name} Co.",
                    "credit_code": o.credit_code} for o in self.orgs.values()]
        self.reg.gov().bootstrap(members, self.cfg.policies)
        listed = json.loads(self.reg.contract("governance").evaluate_transaction("members"))
        if sorted(m["msp_id"] for m in listed) != sorted(o.msp_id for o in self.orgs.values()):
            raise StoryError("the member list on chain is not the consortium")
        self.done(f"bootstrap: {len(listed)} member orgs ({', '.join(o.role for o in self.orgs.values())}), "
                  f"policies {', '.join(sorted(self.cfg.policies))}")

    def keys(self) -> None:
        for org in self.orgs.values():
            org.gov().register_key(self.cfg.now() - 60, self.cfg.now() + 365 * 86400)
            if org.gov().get_key(org.gov().key_id)["msp_id"] != org.msp_id:
                raise StoryError(f"key of {org.msp_id} is not bound to it")
        self.done("each org admin registered an SM2 key (govern, sign, encrypt) with proof of possession")

    def deploy(self) -> None:
        digest = self.cfg.package_digests[0]
        self.govern("deploy", self.majority, version="1", package_digest=digest)
        self.govern("deploy", self.majority, contract="records", version="1", package_digest=digest)
        self.govern("deploy", self.majority, contract="scratch", version="1", package_digest=digest)
        if self.unit("records")["state"] != "active":
            raise StoryError("records is not active after its deployment")

    # ------------------------------------------------------------------ records
    def equipment(self) -> None:
        built = build_record(channel=self.cfg.channel, record_id=EQ, category="equipment", equipment_code="32010001", stage="production",
                             owner_msp=self.man.msp_id, grade="L1", signing_key=self.man.key,
                             payload=self.cfg.payloads["equipment"])
        self.man.records().submit(built)
        view = self.orgs["Maintenance"].records().get(EQ)
        if view.get("payload") != self.cfg.payloads["equipment"] or verify_view(view, self.man.key.public_key()):
            raise StoryError("the L1 record does not read back verified")
        self.done(f"manufacturer registered equipment 32010001 (L1, world state; tx {view['tx_id'][:12]})")

    def report(self) -> None:
        built = build_record(channel=self.cfg.channel, record_id=IR, category="inspection_report", equipment_code="32010001", stage="inspection",
                             owner_msp=self.ins.msp_id, grade="L4", signing_key=self.ins.key,
                             original=self.cfg.payloads["report_original"])
        meta = self.ins.records().submit(built)
        if meta["placement"] != "off_chain":
            raise StoryError(f"the L4 report was placed {meta['placement']}")
        self.done("inspection body recorded an inspection report (L4: SM3 digest + metadata on chain, original off chain)")

    def danger(self) -> None:
        recipients = {o.msp_id: o.key.public_key() for o in (self.use, self.reg)}
        built = build_record(channel=self.cfg.channel, record_id=HD, category="hidden_danger", equipment_code="32010001", stage="use",
                             owner_msp=self.use.msp_id, grade="L3", signing_key=self.use.key,
                             payload=self.cfg.payloads["hidden_danger"], recipients=recipients)
        meta = self.use.records().submit(built)
        if meta["placement"] != "private_encrypted":
            raise StoryError(f"the L3 item was placed {meta['placement']}")
        outsider = self.man.records().get(HD)
        if "ciphertext" in outsider or "payload" in outsider:
            raise StoryError("a manufacturer without a grant sees the L3 item's data")
        self.done("using unit recorded a hidden-danger item (L3: SM4-GCM via transient data into collectionL3, "
                  "data key SM2-wrapped for owner + regulator; others see metadata only)")

    def regulator_reads(self) -> None:
        view = self.reg.records().get(HD)
        if not view.get("wrapped_key"):
            raise StoryError("the regulator got no wrapped data key for the L3 item")
        if decrypt_view(view, view["wrapped_key"]["wrapped"], self.reg.key) != self.cfg.payloads["hidden_danger"]:
            raise StoryError("the regulator's decryption of the L3 item differs from what was recorded")
        if verify_view(view, self.use.key.public_key()):
            raise StoryError("the L3 item failed re-verification")
        proof = self.reg.records().verify_original(IR, self.cfg.payloads["report_original"])
        forged = self.reg.records().verify_original(IR, self.cfg.payloads["report_original"] + b" ")
        if not proof["match"] or forged["match"]:
            raise StoryError("the L4 original proof does not discriminate the original from a forgery")
        self.done("regulator decrypted the L3 item (SM3 digest and SM2 signature re-verified) and proved the "
                  "L4 original matches its on-chain digest (a one-byte change does not)")

    # ------------------------------------------------------------------ sharing
    def share(self) -> None:
        purpose = "maintenance"
        _refused("access without a grant", lambda: self.use.sharing().access(IR, purpose), "no grant")
        grant = self.ins.sharing().grant(self.use.msp_id, ("record", IR), "L4", purpose, self.cfg.now() + 30 * 86400,
                                         max_uses=5, grant_id=f"g-{secrets.token_hex(8)}")
        result = self.use.sharing().access(IR, purpose)
        entry = result["entry"]
        if entry["basis"] != "grant" or entry["grant_id"] != grant["grant_id"] or entry["reader_msp"] != self.use.msp_id:
            raise StoryError(f"the access was not logged under the grant: {entry}")
        log_entries = self.ins.sharing().access_log(IR)
        if not any(e["tx_id"] == entry["tx_id"] for e in log_entries):
            raise StoryError("the owner does not see the access in the record's access log")
        if not self.use.records().verify_original(IR, self.cfg.payloads["report_original"])["match"]:
            raise StoryError("the original served off chain does not match the chain")
        self.done(f"inspection body granted {self.use.msp_id} the L4 report ({grant['grant_id']}, purpose {purpose}); "
                  f"the access was refused before, logged after (tx {entry['tx_id'][:12]}); original proven off chain")

    # ------------------------------------------------------------------ lifecycle
    def _update(self, version: int) -> Any:
        payload = dict(self.cfg.payloads["equipment"], busType="U", model=f"XL-{version}")
        return build_record(channel=self.cfg.channel, record_id=EQ, category="equipment", equipment_code="32010001", stage="production",
                            owner_msp=self.man.msp_id, grade="L1", signing_key=self.man.key, bus_type="U",
                            version=version, payload=payload)

    def freeze(self) -> None:
        self.govern("freeze", [self.reg], contract="records")
        _refused("submission while frozen", lambda: self.man.records().submit(self._update(2)), "frozen")
        if self.unit("records")["state"] != "frozen" or "version" not in self.reg.records().get(EQ):
            raise StoryError("records is not frozen, or reads stopped")
        self.done("records frozen by the regulator alone: a submission was refused, reads still served")

    def thaw(self) -> None:
        self.govern("thaw", self.majority, early=True, contract="records")
        self.man.records().submit(self._update(2))
        if self.reg.records().get(EQ)["version"] != 2:
            raise StoryError("the submission after the thaw did not commit")
        self.done("records thawed by a majority (regulator + 2); the submission now commits (version 2)")

    def upgrade(self) -> None:
        self.govern("upgrade", self.majority, early=True, contract="records", version="2",
                    package_digest=self.cfg.package_digests[1])
        unit = self.unit("records")
        if unit["active_version"] != "2" or unit["versions"]["2"]["package_digest"] != self.cfg.package_digests[1]:
            raise StoryError("records v2 is not the approved active version")
        self.man.records().submit(self._update(3))
        self.done("records upgraded to v2 by a majority: approved version + package digest on chain, records serve")
        if self.cfg.lifecycle_note:
            self.cfg.say(f"      note: {self.cfg.lifecycle_note}")

    def destroy(self) -> None:
        self.govern("destroy", self.majority, contract="scratch")
        _refused("thaw of a destroyed contract", lambda: self.govern("thaw", self.majority, contract="scratch"), "destroyed")
        _refused("re-deploy of a destroyed contract", lambda: self.govern(
            "deploy", self.majority, contract="scratch", version="9", package_digest=self.cfg.package_digests[0]), "destroyed")
        if self.unit("scratch")["state"] != "destroyed":
            raise StoryError("scratch is not destroyed")
        self.done("throw-away contract 'scratch' destroyed; thaw and re-deploy stay refused (terminal state)")

    # ------------------------------------------------------------------ auditor
    def audit_now(self) -> AuditReport:
        """The Regulator's audit of the whole channel as it stands now (every SM3 digest and SM2 signature
        re-verified, L3 payloads wrapped for the Regulator decrypted). Raises what the Gateway SDK raises."""
        client = AuditClient(self.reg.contract(""), self.cfg.channel, self.cfg.qscc)  # type: ignore[arg-type]
        return audit_channel(client, decrypt_key=self.reg.key)

    def auditor(self) -> None:
        report = self.audit_now()
        self.audit = report
        self.cfg.say("  --- auditor (Regulator): timeline read back from the chain ---")
        for line in format_timeline(report):
            self.cfg.say(f"      {line}")
        if not report.ok:
            raise StoryError(f"{len(report.problems)} mismatch(es): {report.problems[0]}")
        ops = {p["operation"] for p in report.proposals if p["status"] == "executed"}
        accesses = sum(len(v) for v in report.accesses.values())
        if not {"deploy", "freeze", "thaw", "upgrade", "destroy"} <= ops or set(report.records) != {EQ, IR, HD} or not accesses:
            raise StoryError("the audit trail lacks lifecycle operations, records or accesses")
        self.done(f"auditor re-verified {report.checked['sm2_signatures']} SM2 signatures and "
                  f"{report.checked['sm3_digests']} SM3 digests over {len(report.timeline)} events: no mismatch")


def run_story(orgs: dict[str, StoryOrg], channel: str, policies: dict[str, Any], now: Callable[[], int],
              digests: tuple[str, str], payloads: dict[str, Any], say: Callable[[str], None] = print) -> list[str]:
    """Run the story with the given settings; returns the step log. Raises StoryError."""
    return Story(orgs, StoryConfig(channel, policies, now, digests, payloads, say)).run()


def orgs_from_profiles(profiles: dict[str, Path], channel: str, members: dict[str, dict[str, str]],
                       user: str = "Admin") -> tuple[dict[str, StoryOrg], list[Any]]:
    """One Gateway connection per org (``profiles``: org name -> connection profile path).

    ``members``: org name -> ``{"role", "credit_code", "full_name"}``. Returns the orgs and the gateways
    (the caller closes them).

    Raises:
        qcchain_gateway.errors.ProfileError / IdentityError: a profile or MSP directory is unusable.
    """
    from qcchain_gateway.profile import connect_profile

    orgs: dict[str, StoryOrg] = {}
    gateways: list[Any] = []
    for name, path in profiles.items():
        gateway = connect_profile(path, user=user)
        gateways.append(gateway)
        network = gateway.get_network(channel)
        info = members[name]
        orgs[name] = StoryOrg(name, gateway.identity.msp_id, info["role"], info["credit_code"], gateway.identity.cert_pem,
                              lambda c, net=network: net.get_contract("qcchain", c), full_name=info.get("full_name", ""))
    return orgs, gateways
