"""Fuzz/property suite through the Gateway (issue 13 evidence, Gateway-facing half): generated evaluate and
submit calls of every contract family, sent by ``qcchain_gateway`` to a running devnet (gRPC, endorsement,
ordering, commit — the path a client takes), after the consortium story bootstrapped it.

Every answer must be a success or a one-line 4xx chaincode error, typed by the SDK (``InvalidInputError``,
``ForbiddenError``, ``NotFoundError``, ``ConflictError``, ...) — never a 500, an untyped error or a broken
connection — and a refused submit must change nothing: the channel height and a fingerprint of the state
(members, policies, keys, grants, the story's records as the regulator reads them) are the same after the
run unless a submit succeeded.

Size: ``QCCHAIN_GATEWAY_FUZZ_CASES`` calls in all (default 3 000, about 45 s with the devnet start on a
shared 2-core machine); the issue's full count is ``QCCHAIN_GATEWAY_FUZZ_CASES=10000`` (or more), e.g.
``QCCHAIN_GATEWAY_FUZZ_CASES=10000 pytest tests/security/test_sec_gateway_fuzz.py``. ``QCCHAIN_FUZZ_SEED``
changes the deterministic seed. The MockStub suite (``test_sec_fuzz.py``) runs 10 000 per family by default.
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qcchain_gateway.errors import ChaincodeStatusError, GatewayError

from seckit import full_kit
from test_sec_fuzz import FAMILIES, SEED, Gen, _functions, _templates

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scenario"))
from runtimes import CHANNEL, Runtime, _devnet  # noqa: E402

from qcchain_sdk.contracts.story import Story  # noqa: E402

CASES = int(os.environ.get("QCCHAIN_GATEWAY_FUZZ_CASES", "3000"))
pytestmark = pytest.mark.timeout(max(300, CASES // 10))
#: Reads whose answers fingerprint the state a refused submit must not change.
FINGERPRINT = [("governance:members", ()), ("governance:policy", ("grading",)), ("governance:policy", ("sharing",)),
               ("records:get", ("EQ-32010001",)), ("records:query", ("equipment", "32010001", "100", "")),
               ("sharing:list_grants", ("",)), ("keys:list_org", ("UsingUnitMSP",))]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    for runtime in _devnet(tmp_path_factory.mktemp("gateway-fuzz")):
        Story(runtime.orgs, runtime.story_config()).run()
        yield runtime


def _fingerprint(contract: Any) -> list[Any]:
    out = []
    for fn, args in FINGERPRINT:
        try:
            out.append(json.loads(contract.evaluate_transaction(fn, *args)))
        except GatewayError as exc:
            out.append(f"{type(exc).__name__} {exc.chaincode_status}")
    return out


def _judge(fn: str, exc: GatewayError) -> str | None:
    """Why a refusal is not a clear 4xx (None: it is)."""
    status = exc.chaincode_status
    if not isinstance(exc, ChaincodeStatusError) or status is None or not 400 <= status < 500:
        return f"{fn}: {type(exc).__name__} status {status}: {' '.join(str(exc).split())[:200]}"
    if not exc.details and "\n" in exc.message:
        return f"{fn}: {status} answer on several lines"
    return None


def test_generated_gateway_calls_get_clear_answers_and_refusals_change_nothing(net: Runtime) -> None:
    kit = full_kit()  # function signatures and valid-looking templates (signed by keys unknown to the devnet)
    functions = [f for family in sorted(FAMILIES) for f in _functions(FAMILIES[family], kit)]
    rng = random.Random(f"{SEED}-gateway")
    gen, templates = Gen(rng, kit), _templates(kit)
    callers = [net.gateway(org, user).get_network(CHANNEL).get_contract("qcchain")
               for org in sorted(net.orgs) for user in ("Admin", "User1")]
    reader = net.gateway("Regulator").get_network(CHANNEL).get_contract("qcchain")
    height, state = net.height(), _fingerprint(reader)
    problems: list[str] = []
    committed = answered = 0
    for _ in range(CASES):
        fn, annotations = rng.choice(functions)
        arity = len(annotations) if rng.random() < 0.9 else rng.randrange(0, len(annotations) + 2)
        args = [gen.arg(annotations[i] if i < len(annotations) else str, templates) for i in range(arity)]
        args = [a.encode("utf-8", "surrogatepass") if isinstance(a, str) else a for a in args]
        contract = rng.choice(callers)
        submit = rng.random() < 0.5
        try:
            if submit:
                contract.submit_transaction(fn, *args)
                committed += 1
            else:
                contract.evaluate_transaction(fn, *args)
            answered += 1
        except GatewayError as exc:
            problem = _judge(fn, exc)
            if problem:
                problems.append(problem)
            else:
                answered += 1
        if len(problems) >= 20:
            break
    assert problems == [], "\n".join(problems)
    assert answered == CASES
    if committed == 0:  # every submit was refused: nothing may have reached the ledger
        assert net.height() == height and _fingerprint(reader) == state
    else:
        assert net.height() <= height + committed
    assert json.loads(reader.evaluate_transaction("governance:members"))  # the devnet still serves
