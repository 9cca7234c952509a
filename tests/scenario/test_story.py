"""The consortium story on the in-process MockStub runtime (the devnet/Fabric runtimes plug in the same
``StoryOrg.contract`` factory once the devnet serves the chaincode)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from qcchain_contracts import contract_classes
from qcchain_sdk.contracts.story import StoryOrg, run_story
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

    def _run(self, fn: str, args: tuple, transient: dict | None, commit: bool) -> bytes:
        self.clock.t += 1
        raw = [a if isinstance(a, (str, bytes)) else str(a) for a in args]
        call = self.stub.submit if commit else self.stub.invoke
        response = call(self.contracts, f"{self.name}:{fn}", raw, creator=(self.msp, cert_pem(self.msp, True)),
                        tx_time=self.clock.t, transient=transient)
        if not response.ok:
            raise RuntimeError(f"{self.name}:{fn}: {response.message}")
        return response.payload

    def submit_transaction(self, fn: str, *args, transient=None) -> bytes:  # type: ignore[no-untyped-def]
        return self._run(fn, args, transient, True)

    def evaluate_transaction(self, fn: str, *args) -> bytes:  # type: ignore[no-untyped-def]
        return self._run(fn, args, None, False)


def test_story_on_mockstub() -> None:
    stub, clock = MockStub("qcchannel"), Clock()
    contracts = [cls() for cls in contract_classes()]
    orgs = {}
    for name, role, code in ORGS:
        o = make_org(name, role, code)
        orgs[name] = StoryOrg(name, o.msp, role, o.credit_code, cert_pem(o.msp, True),
                              lambda c, msp=o.msp: MockContract(stub, contracts, clock, msp, c))
    digests = (hashlib.sha256(b"v1").hexdigest(), hashlib.sha256(b"v2").hexdigest())
    payloads = {"equipment": dict(EQUIPMENT, ID="EQ-32010001"), "hidden_danger": DANGER,
                "report_original": b"%PDF-1.7 inspection report"}
    steps = run_story(orgs, "qcchannel", GovKit.policies(), clock, digests, payloads, say=lambda s: None)
    assert len(steps) >= 14
