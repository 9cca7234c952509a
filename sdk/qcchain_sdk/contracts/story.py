"""The consortium story (the main job) as a library, runnable on any runtime whose orgs expose
``ContractLike`` objects per contract (devnet / Fabric Gateway contracts, or a MockStub adapter in tests).

:func:`run_story` performs the steps of issue 4 in order and returns the step log; any step that does not
hold raises :class:`StoryError` naming it. Status: steps 1-6 and 8-11 (governance, records, freeze/thaw,
upgrade, destroy) are implemented; the sharing grant + logged access step uses the sharing client.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from qcchain_core.gm import SM2PrivateKey

from .governance import ContractLike, GovernanceClient, build_proposal
from .records import RecordsClient, build_record, decrypt_view, verify_view

log = logging.getLogger(__name__)

__all__ = ["StoryOrg", "StoryError", "run_story"]


class StoryError(RuntimeError):
    """A step of the story did not hold."""


@dataclass
class StoryOrg:
    name: str
    msp_id: str
    role: str
    credit_code: str
    cert_pem: bytes
    contract: Callable[[str], ContractLike]  # contract name -> ContractLike for this org's admin
    key: SM2PrivateKey = field(default_factory=SM2PrivateKey.generate)

    def gov(self) -> GovernanceClient:
        return GovernanceClient(self.contract("governance"), self.contract("keys"), self.msp_id, self.cert_pem, self.key)

    def records(self) -> RecordsClient:
        return RecordsClient(self.contract("records"))


def _expect_refusal(step: str, fn: Callable[[], Any], needle: str) -> str:
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any refusal type of any runtime
        text = str(exc) + " " + str(getattr(exc, "details", ""))
        if needle.lower() not in text.lower():
            raise StoryError(f"{step}: refused for another reason: {text[:300]}") from exc
        return needle
    raise StoryError(f"{step}: was accepted but must be refused")


def run_story(orgs: dict[str, StoryOrg], channel: str, policies: dict[str, Any], now: Callable[[], int],
              digests: tuple[str, str], payloads: dict[str, Any], say: Callable[[str], None] = print) -> list[str]:
    """Run the story; returns the step log. Raises StoryError on the first step that does not hold."""
    steps: list[str] = []

    def done(text: str) -> None:
        steps.append(text)
        say(f"  ok  {text}")

    reg, ins, use, man = (orgs[n] for n in ("Regulator", "Inspection", "UsingUnit", "Manufacturer"))
    reg.gov().bootstrap([{"msp_id": o.msp_id, "role": o.role, "name": o.name, "credit_code": o.credit_code}
                         for o in orgs.values()], policies)
    done(f"bootstrap: {len(orgs)} member orgs, policies {', '.join(sorted(policies))}")
    for org in orgs.values():
        org.gov().register_key(now() - 60, now() + 365 * 86400)
    done("every org admin registered an SM2 key (govern, sign, encrypt)")
    majority = [reg, ins, use]

    def govern(op: str, signers: list[StoryOrg], **kw: Any) -> dict[str, Any]:
        body = build_proposal(op, channel, expiry=now() + 3600, reason=f"demo {op}", **kw)
        proposal = signers[0].gov().propose(body)
        for org in signers[1:]:
            org.gov().sign(proposal)
        result = signers[0].gov().execute(proposal["proposal_id"])
        done(f"{op} {kw.get('contract') or 'qcchain'} {kw.get('version', '')} executed, signed by "
             f"{', '.join(o.msp_id for o in signers)}")
        return result

    govern("deploy", majority, version="1", package_digest=digests[0])
    govern("deploy", majority, contract="records", version="1", package_digest=digests[0])
    govern("deploy", majority, contract="scratch", version="1", package_digest=digests[0])
    eq = build_record(record_id="EQ-32010001", category="equipment", equipment_code="32010001", stage="production",
                      owner_msp=man.msp_id, grade="L1", signing_key=man.key, payload=payloads["equipment"])
    man.records().submit(eq)
    done("manufacturer registered equipment 32010001 (L1, world state)")
    original = payloads["report_original"]
    ir = build_record(record_id="IR-32010001-1", category="inspection_report", equipment_code="32010001",
                      stage="inspection", owner_msp=ins.msp_id, grade="L4", signing_key=ins.key, original=original)
    ins.records().submit(ir)
    done("inspection body recorded inspection report (L4: digest on chain, original off chain)")
    hd = build_record(record_id="HD-32010001-1", category="hidden_danger", equipment_code="32010001", stage="use",
                      owner_msp=use.msp_id, grade="L3", signing_key=use.key, payload=payloads["hidden_danger"],
                      recipients={o.msp_id: o.key.public_key() for o in (use, reg)})
    use.records().submit(hd)
    done("using unit recorded a hidden-danger item (L3: SM4-GCM in collectionL3, key wrapped for owner + regulator)")
    view = reg.records().get("HD-32010001-1")
    if decrypt_view(view, view["wrapped_key"]["wrapped"], reg.key) != payloads["hidden_danger"]:
        raise StoryError("regulator could not read the L3 item")
    if verify_view(view, use.key.public_key()):
        raise StoryError("L3 item failed re-verification")
    if not reg.records().verify_original("IR-32010001-1", original)["match"]:
        raise StoryError("L4 original does not match the chain")
    done("regulator decrypted the L3 item and proved the L4 original against its on-chain digest")
    govern("freeze", [reg], contract="records")
    upd = build_record(record_id="EQ-32010001", category="equipment", equipment_code="32010001", stage="production",
                       owner_msp=man.msp_id, grade="L1", signing_key=man.key, bus_type="U", version=2,
                       payload=dict(payloads["equipment"], busType="U"))
    _expect_refusal("submission while frozen", lambda: man.records().submit(upd), "frozen")
    done("records frozen by the regulator alone; a submission was refused")
    govern("thaw", majority, contract="records")
    man.records().submit(upd)
    done("records thawed by a majority; the submission now succeeds (version 2)")
    govern("upgrade", majority, version="2", package_digest=digests[1])
    govern("destroy", majority, contract="scratch")
    _expect_refusal("thaw of destroyed contract", lambda: govern("thaw", majority, contract="scratch"), "destroyed")
    done("scratch contract destroyed and stays refused")
    return steps
