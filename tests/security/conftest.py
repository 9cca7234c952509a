"""Security regression tests (issue 13) and the chaincode fuzz suite; they reuse the contract test kit."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))  # govkit, nodekit
sys.path.insert(0, str(Path(__file__).resolve().parent))  # seckit
