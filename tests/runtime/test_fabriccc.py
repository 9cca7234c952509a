"""The native comparison's pure parts: the bench network's consortium validates, ratios are per round."""

from __future__ import annotations

from pathlib import Path

import yaml

from qcchain_bench.fabriccc import consortium, summarise
from qcchain_consortium.consortium import load_consortium


def _arm(tx: float, cpu: float) -> dict:
    phase = {"per_s": tx, "p50_ms": 1.0, "p95_ms": 2.0, "cc_cpu_ms_per_op": cpu}
    return {"submit": dict(phase), "evaluate": dict(phase)}


def test_bench_consortium_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(consortium(29050, ["python", "go"])), encoding="utf-8")
    loaded = load_consortium(path)
    assert [c.name for c in loaded.channels[0].chaincodes] == ["pythoncc", "gocc"]


def test_ratios_are_per_round_then_spread() -> None:
    rounds = [{"python": _arm(90, 0.8), "go": _arm(100, 0.4)}, {"python": _arm(50, 0.9), "go": _arm(200, 0.3)}]
    out = summarise(rounds, ["python", "go"])
    tx = out["ratios"]["python/go"]["submit.per_s"]
    assert (tx["min"], tx["max"]) == (0.25, 0.9)
    assert out["arms"]["go"]["submit.cc_cpu_ms_per_op"] == {"min": 0.3, "median": 0.35, "max": 0.4}
