"""Contract security review (T-9.2.4): every rule fires on a hazardous sample and stays quiet on its safe twin."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qcchain_sdk.contractproject.review import has_high, review_source, review_tree

ROOT = Path(__file__).resolve().parents[2]

HEADER = """
from qcchain_shim import Contract, transaction
from qcchain_contracts.lifecycle import require_serving
"""


def contract(body: str, before: str = "require_serving(ctx, 'demo', write=True)") -> str:
    """A contract module whose one submit transaction has ``body``."""
    return HEADER + textwrap.dedent(f"""
    class Demo(Contract):
        name = "demo"

        def before_transaction(self, ctx):
            {before}

        @transaction
        def run(self, ctx, key: str) -> dict:
    """) + textwrap.indent(textwrap.dedent(body), " " * 8)


def rules(source: str) -> list[tuple[str, str]]:
    return [(f.rule, f.severity) for f in review_source(source, "demo.py")]


CASES = [
    # rule, hazardous transaction body, safe twin
    ("QC101", "import time\nctx.stub.put_state(key, str(time.time()).encode())\nreturn {}",
     "ctx.stub.put_state(key, str(ctx.stub.get_tx_timestamp().seconds).encode())\nreturn {}"),
    ("QC101", "from datetime import datetime\nreturn {'at': datetime.now().isoformat()}",
     "from datetime import datetime\nreturn {'at': datetime.fromtimestamp(0).isoformat()}"),
    ("QC102", "import uuid\nctx.stub.put_state(str(uuid.uuid4()), b'x')\nreturn {}",
     "import uuid\nctx.stub.put_state(str(uuid.uuid5(uuid.NAMESPACE_OID, key)), b'x')\nreturn {}"),
    ("QC102", "from random import choice\nreturn {'v': choice([1, 2])}", "return {'v': sorted([2, 1])[0]}"),
    ("QC102", "import os\nreturn {'n': os.urandom(8).hex()}", "return {'n': ctx.stub.get_tx_id()}"),
    ("QC103", "with open('/etc/hostname') as f:\n    return {'h': f.read()}", "return {'h': ctx.stub.get_channel_id()}"),
    ("QC103", "import os\nreturn {'h': os.environ.get('HOME')}", "return {'h': ''}"),
    ("QC103", "import subprocess\nsubprocess.run(['ls'])\nreturn {}", "return {}"),
    ("QC104", "for k in {key, key + '2'}:\n    ctx.stub.put_state(k, b'1')\nreturn {}",
     "for k in sorted({key, key + '2'}):\n    ctx.stub.put_state(k, b'1')\nreturn {}"),
    ("QC104", "d = {'a': 1}\nfor k, v in d.items():\n    ctx.stub.put_state(k, b'1')\nreturn {}",
     "d = {'a': 1}\nfor k, v in sorted(d.items()):\n    ctx.stub.put_state(k, b'1')\nreturn {}"),
    ("QC105", "global COUNT\nCOUNT = 1\nreturn {}", "count = 1\nreturn {'c': count}"),
    ("QC105", "CACHE.append(key)\nreturn {}", "local = []\nlocal.append(key)\nreturn {}"),
    ("QC106", "return [kv.key for kv in ctx.stub.get_state_by_range('a', 'b')]",
     "it, meta = ctx.stub.get_state_by_range_with_pagination('a', 'b', 50, '')\nreturn [kv.key for kv in it]"),
    ("QC108", "try:\n    ctx.stub.put_state(key, b'1')\nexcept Exception:\n    pass\nreturn {}",
     "try:\n    ctx.stub.put_state(key, b'1')\nexcept Exception as exc:\n    raise ValueError('no') from exc\nreturn {}"),
    ("QC109", "return {'v': eval(key)}", "return {'v': int(key)}"),
]


@pytest.mark.parametrize(("rule", "bad", "good"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_on_the_hazard_and_not_on_its_safe_twin(rule: str, bad: str, good: str) -> None:
    prelude = "CACHE = []\n" if rule == "QC105" else ""
    found = [r for r, _ in rules(prelude + contract(bad))]
    assert rule in found, found
    assert rule not in [r for r, _ in rules(prelude + contract(good))]


def test_severities_follow_the_hazard() -> None:
    assert ("QC104", "high") in rules(contract("for k in {key}:\n    ctx.stub.put_state(k, b'1')\nreturn {}"))
    assert ("QC104", "medium") in rules(contract("d = {}\nfor k in d.keys():\n    ctx.stub.del_state(k)\nreturn {}"))
    assert ("QC106", "medium") in rules(contract("return list(ctx.stub.get_state_by_partial_composite_key('x', []))"))
    helper = HEADER + "STATE = None\ndef configure(value):\n    global STATE\n    STATE = value\n"
    assert rules(helper) == [("QC105", "medium")]  # outside a transaction: process configuration, reported


def test_missing_governance_check_is_found_and_helpers_count() -> None:
    unguarded = contract("ctx.stub.put_state(key, b'1')\nreturn {}", before="pass")
    assert ("QC107", "high") in rules(unguarded)
    via_helper = HEADER + textwrap.dedent("""
    def _guard(ctx):
        require_serving(ctx, "demo", write=True)

    class Demo(Contract):
        @transaction
        def run(self, ctx, key: str) -> dict:
            _guard(ctx)
            ctx.stub.put_state(key, b'1')
            return {}

        @transaction(evaluate=True)
        def get(self, ctx, key: str) -> bytes:
            return ctx.stub.get_state(key)
    """)
    assert "QC107" not in [r for r, _ in rules(via_helper)]
    evaluate_only = via_helper.replace("_guard(ctx)\n        ctx.stub", "ctx.stub")
    assert [r for r, _ in rules(evaluate_only)].count("QC107") == 1  # run, not the evaluate-only get


def test_narrow_handlers_and_non_stub_try_blocks_are_not_swallowing() -> None:
    narrow = "try:\n    v = ctx.stub.get_state(key)\nexcept KeyError:\n    v = b''\nreturn {'v': v.hex()}"
    assert "QC108" not in [r for r, _ in rules(contract(narrow))]
    no_stub = "try:\n    v = int(key)\nexcept Exception:\n    v = 0\nreturn {'v': v}"
    assert "QC108" not in [r for r, _ in rules(contract(no_stub))]
    bare = "try:\n    ctx.stub.del_state(key)\nexcept:\n    return {}\nreturn {}"
    assert ("QC108", "high") in rules(contract(bare))


def test_aliases_are_resolved() -> None:
    body = "import time as t\nimport datetime as dt\nreturn {'a': t.time(), 'b': dt.date.today().isoformat()}"
    assert [r for r, _ in rules(contract(body))].count("QC101") == 2


def test_main_module_may_read_its_configuration(tmp_path: Path) -> None:
    main = "import os\n\ndef main():\n    return os.environ.get('CHAINCODE_ID')\n"
    assert review_source(main, "pkg/__main__.py") == []
    assert [f.rule for f in review_source(main.replace("def main", "def helper"), "pkg/x.py")] == ["QC103"]


def test_syntax_error_is_a_high_finding_with_its_line() -> None:
    (finding,) = review_source("def broken(:\n    pass\n", "bad.py")
    assert (finding.rule, finding.severity, finding.line) == ("QC100", "high", 1)
    assert str(finding).startswith("bad.py:1:")


def test_project_contracts_pass_the_review() -> None:
    findings = review_tree(ROOT / "chaincode" / "contracts" / "qcchain_contracts")
    assert not has_high(findings), [str(f) for f in findings if f.severity == "high"]
    # Real, reported findings of lower severity: unbounded partial-key scans and the startup-configured package.
    assert {f.rule for f in findings} <= {"QC105", "QC106"}
    assert all(f.path.startswith("qcchain_contracts/") and f.line > 0 for f in findings)
