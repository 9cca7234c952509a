"""Fuzz/property suite of the chaincode functions through MockStub (issue 13 evidence): for every function of
every contract family, generated arguments and callers must give a clear, one-line answer — success or a
4xx refusal, never a crash-class 500 — and a refusal writes nothing (empty write set; state untouched).

Size: ``QCCHAIN_FUZZ_CASES`` generated calls per family (default 10 000; the default suite stays well under a
minute on one core). A bigger run: ``QCCHAIN_FUZZ_CASES=200000 pytest tests/security/test_sec_fuzz.py``;
``QCCHAIN_FUZZ_SEED`` changes the (deterministic) seed.
"""

from __future__ import annotations

import inspect
import json
import os
import random
from typing import Any

import pytest

from qcchain_contracts import contract_classes
from qcchain_core.canonical import canonical_json
from qcchain_shim.contract import Router

from govkit import GovKit, cert_pem
from seckit import EQUIPMENT, full_kit, signed

CASES = int(os.environ.get("QCCHAIN_FUZZ_CASES", "10000"))
SEED = int(os.environ.get("QCCHAIN_FUZZ_SEED", "13"))
FAMILIES = {"governance": ("governance",), "keys": ("keys",), "grading": ("grading",), "records": ("records",),
            "sharing": ("sharing",), "audit": ("audit",), "ingest": ("ingest",)}

STRINGS = ["", "a", "r-hd", "EQ-1", "g-ok", "RegulatorMSP", "UsingUnitMSP", "NoSuchMSP", "qcchannel", "governance",
           "sharing", "grading", "L1", "L2", "L3", "L4", "I", "U", "D", "equipment", "hidden_danger", "maintenance",
           "x" * 300, "a" * 5000, "\x00", "\x00gov.member\x00RegulatorMSP\x00", "../../etc", "é漢字", "\u202e",
           "0" * 64, "f" * 64, "-1", "1e400", "NaN", "null", "true", "{}", "[]", "\ud800"]


class Gen:
    """Deterministic generator of argument values, typed and ill-typed."""

    def __init__(self, rng: random.Random, kit: GovKit) -> None:
        self.rng = rng
        self.ids = [kit.orgs[o].key_id for o in kit.orgs] + ["r-hd", "EQ-1", "g-ok"]

    def text(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return self.rng.choice(STRINGS + self.ids)
        if r < 0.8:
            return "".join(chr(self.rng.randrange(32, 0x2FFF)) for _ in range(self.rng.randrange(0, 40)))
        return str(self.rng.choice([0, -1, 2**63, 10**30, 1.5, True, None]))

    def scalar(self) -> Any:
        return self.rng.choice([self.text(), self.rng.randrange(-2**70, 2**70), self.rng.random(), None, True, False,
                                self.rng.choice([0, 1, -1, 2**64])])

    def value(self, depth: int = 0) -> Any:
        r = self.rng.random()
        if depth > 4 or r < 0.4:
            return self.scalar()
        if r < 0.75:
            return {self.text()[:20]: self.value(depth + 1) for _ in range(self.rng.randrange(0, 6))}
        return [self.value(depth + 1) for _ in range(self.rng.randrange(0, 6))]

    def nested(self) -> str:
        depth = self.rng.choice([50, 200, 800])
        return "[" * depth + "]" * depth if self.rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth

    def arg(self, annotation: Any, templates: list[Any]) -> bytes | str:
        r = self.rng.random()
        if templates and r < 0.35:  # mutate a valid-looking argument
            return json.dumps(self.mutate(self.rng.choice(templates)), ensure_ascii=False)
        if r < 0.45:
            return self.rng.choice([b"\xff\xfe", b"", b"{", b"[1,", b"\x00" * 10, self.nested()])
        if annotation is int:
            return str(self.rng.choice([self.rng.randrange(-10, 2**40), 0, 1, -1, 2**64, "x", "1.5", ""]))
        if annotation in (dict, list):
            return json.dumps(self.value(), ensure_ascii=False)
        return self.text()

    def mutate(self, value: Any) -> Any:
        if isinstance(value, dict) and value:
            out = dict(value)
            key = self.rng.choice(sorted(out))
            choice = self.rng.random()
            if choice < 0.4:
                out[key] = self.value()
            elif choice < 0.6:
                del out[key]
            elif choice < 0.8:
                out[self.text()[:20]] = self.value()
            else:
                out[key] = self.mutate(out[key])
            return out
        if isinstance(value, list) and value:
            return [self.mutate(v) for v in value]
        return self.value()


def _templates(kit: GovKit) -> list[Any]:
    """Valid-looking arguments to mutate: envelopes, payloads, sharing bodies, proposals, members."""
    access = signed(kit, "Maintenance", "access", record_id="r-hd", purpose="maintenance", nonce="nonce0001")
    grant = signed(kit, "UsingUnit", "grant", grant_id="g-f", grantee_msp="MaintenanceMSP",
                   scope={"type": "record", "value": "r-hd"}, max_grade="L3", purpose="maintenance", expires_at=kit.now + 99)
    env = {"record_id": "EQ-9", "category": "equipment", "equipment_code": "32010001", "stage": "production",
           "owner_msp": "ManufacturerMSP", "bus_type": "I", "version": 1, "grade": "L1", "digest": "a" * 64,
           "exec_type": "publish", "receiver_role": "", "key_id": kit.orgs["Manufacturer"].key_id,
           "ciphertext_digest": "", "channel": "qcchannel"}
    batch = {"appid": "app1", "batch_no": "2025060100000001", "txcode": "09", "bus_type": "I", "org_no": "x",
             "records": [dict(EQUIPMENT)]}
    return [access[0], grant[0], env, dict(EQUIPMENT), kit.proposal("freeze", contract="records"),
            kit.members()[0], batch, ["encrypt", "sign"]]


def _functions(family: tuple[str, ...], kit: GovKit) -> list[tuple[str, list[Any]]]:
    router = Router(kit.contracts)
    out = []
    for contract in router.contracts:
        if contract not in family:
            continue
        instance = next(c for c in kit.contracts if c.name == contract)
        for fn in sorted(router.transactions(contract)):
            params = list(inspect.signature(getattr(instance, fn)).parameters.values())[1:]  # drop ctx
            out.append((f"{contract}:{fn}", [p.annotation if not isinstance(p.annotation, str) else
                                             {"str": str, "int": int, "dict": dict, "list": list, "bytes": bytes,
                                              "bool": bool}.get(p.annotation, str) for p in params]))
    return out


@pytest.fixture(scope="module")
def kit() -> GovKit:
    k = full_kit()
    for meta in ({"record_id": "r-hd", "category": "hidden_danger", "equipment_code": "EQ1", "stage": "use",
                  "owner_msp": "UsingUnitMSP", "grade": "L3", "digest": "a" * 64, "version": 1, "deleted": False,
                  "placement": "private_encrypted"},):
        k.stub.state[""][k.stub.create_composite_key("rec", [meta["record_id"]])] = canonical_json(meta)
    return k


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_generated_calls_get_clear_answers_and_refusals_write_nothing(kit: GovKit, family: str) -> None:
    functions = _functions(FAMILIES[family], kit)
    if not functions:
        pytest.skip(f"no {family} contract in this chaincode")
    rng = random.Random(f"{SEED}-{family}")
    gen, templates = Gen(rng, kit), _templates(kit)
    callers = [(o.msp, True) for o in kit.orgs.values()] + [(o.msp, False) for o in kit.orgs.values()] + [("OutsiderMSP", True)]
    before = {c: dict(t) for c, t in kit.stub.state.items()}
    crashes: list[str] = []
    for _ in range(CASES):
        fn, annotations = rng.choice(functions)
        arity = len(annotations) if rng.random() < 0.9 else rng.randrange(0, len(annotations) + 2)
        args = [gen.arg(annotations[i] if i < len(annotations) else str, templates) for i in range(arity)]
        args = [a.encode("utf-8", "surrogatepass") if isinstance(a, str) else a for a in args]  # bytes on the wire
        msp, admin = rng.choice(callers)
        response = kit.stub.invoke(kit.contracts, fn, args, creator=(msp, cert_pem(msp, admin)),
                                   tx_time=kit.now + rng.choice([0, 1, -10**6, 10**6]))
        if response.ok:
            continue
        if response.status >= 500 or not 400 <= response.status < 500 or "\n" in response.message or not response.message:
            crashes.append(f"{fn} {[a[:60] for a in args]!r} by {msp}: {response.status} {response.message[:200]}")
        if kit.stub.last_writes:
            crashes.append(f"{fn} refused ({response.status}) but wrote {sorted(kit.stub.last_writes)[:3]}")
        if len(crashes) >= 20:
            break
    assert {c: dict(t) for c, t in kit.stub.state.items()} == before  # nothing was ever committed
    assert crashes == [], "\n".join(crashes)


def test_a_deeply_nested_json_argument_is_a_clear_400(kit: GovKit) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    response = kit.stub.invoke(kit.contracts, "governance:bootstrap", [deep, "{}"],
                               creator=("RegulatorMSP", cert_pem("RegulatorMSP", True)), tx_time=kit.now)
    assert response.status == 400 and "\n" not in response.message
    assert "nested deeper than" in response.message and "parameter" in response.message
