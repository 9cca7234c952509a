"""``python -m qcchain_verify POLICIES_DIR N K``: the bounded model check as JSON on stdout (entry point: reads
the policy files; used by the mutation test to run a mutated copy of the contracts in a fresh process)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from .modelcheck import check_all, results_json


def main(argv: list[str]) -> int:
    policies, n, k = Path(argv[0]), int(argv[1]), int(argv[2])
    governance = yaml.safe_load((policies / "governance.yaml").read_text(encoding="utf-8"))
    grading = yaml.safe_load((policies / "grading.yaml").read_text(encoding="utf-8"))
    results = check_all(governance, grading, n, k)
    print(results_json(results))
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
