"""The consortium story on the in-process MockStub runtime (unit level; the devnet/Fabric runs are in
``test_scenario.py``), plus a failing step being named."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from qcchain_contracts import contract_classes
from qcchain_sdk.contracts.story import Story, StoryConfig, StoryError, StoryOrg, run_story
from qcchain_shim.testing import MockStub

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))
from govkit import ORGS, GovKit, cert_pem, make_org  # noqa: E402
from test_records import DANGER, EQUIPMENT  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.t = 1_760_000_000

    def __call__(self) -> int:
        return self.t


class MockContract:
    """ContractLike over MockStub for one (org admin, contract)."""

    def __init__(self, stub: MockStub, contracts: list, clock: Clock, msp: str, name: str) -> None:
        self.stub, self.contracts, self.clock, self.msp, self.name = stub, contracts, clock, msp, name
        self.channel = stub.channel_id if hasattr(stub, "channel_id") else "qcchannel"

    def _run(self, fn: str, args: tuple, transient: dict | None, commit: bool) -> bytes:
        self.clock.t += 1
        raw = [a if isinstance(a, (str, bytes)) else str(a) for a in args]
        call = self.stub.submit if commit else self.stub.invoke
        response = call(self.contracts, f"{self.name}:{fn}" if self.name else fn, raw, creator=(self.msp, cert_pem(self.msp, True)),
                        tx_time=self.clock.t, transient=transient)
        if not response.ok:
            raise RuntimeError(f"{self.name}:{fn}: {response.message}")
        return response.payload

    def submit_transaction(self, fn: str, *args, transient=None) -> bytes:  # type: ignore[no-untyped-def]
        return self._run(fn, args, transient, True)

    def evaluate_transaction(self, fn: str, *args) -> bytes:  # type: ignore[no-untyped-def]
        return self._run(fn, args, None, False)


def _orgs(stub: MockStub, clock: Clock) -> dict[str, StoryOrg]:
    contracts = [cls() for cls in contract_classes()]
    orgs = {}
    for name, role, code in ORGS:
        o = make_org(name, role, code)
        orgs[name] = StoryOrg(name, o.msp, role, o.credit_code, cert_pem(o.msp, True),
                              lambda c, msp=o.msp: MockContract(stub, contracts, clock, msp, c))
    return orgs


def _payloads() -> dict:
    return {"equipment": dict(EQUIPMENT, ID="EQ-32010001"), "hidden_danger": dict(DANGER, ID="HD-32010001-1"),
            "report_original": b"%PDF-1.7 inspection report"}


DIGESTS = (hashlib.sha256(b"v1").hexdigest(), hashlib.sha256(b"v2").hexdigest())


def test_story_on_mockstub() -> None:
    stub, clock = MockStub("qcchannel"), Clock()
    lines: list[str] = []
    story = Story(_orgs(stub, clock), StoryConfig("qcchannel", GovKit.policies(), clock, DIGESTS, _payloads(), say=lines.append))
    steps = story.run()
    assert len(steps) == 19 and story.audit is not None and story.audit.ok
    assert story.audit.checked["sm2_signatures"] >= 20 and any("access" in line for line in lines)
    assert {r.kind for r in story.audit.timeline} >= {"bootstrap", "proposed", "signed", "executed", "record", "access"}


def test_failing_step_is_named() -> None:
    stub, clock = MockStub("qcchannel"), Clock()
    policies = GovKit.policies()
    policies["governance"] = dict(policies["governance"], roles=["regulator"])  # members with other roles refused
    with pytest.raises(StoryError, match=r"^step 'members': "):
        run_story(_orgs(stub, clock), "qcchannel", policies, clock, DIGESTS, _payloads(), say=lambda s: None)
