"""An in-memory stand-in for the chain link (``qcchain_ingest.anchor.ChainLink``) for state-level tests: it
stores batch headers as the ingest contract would and can fail the way a network does — after the commit
(the answer lost) or before it."""

from __future__ import annotations

import threading
from typing import Any

from qcchain_ingest.errors import ChainError


class FakeChain:
    channel = "qcchannel"

    def __init__(self) -> None:
        self.headers: dict[tuple[str, str], dict[str, Any]] = {}
        self.anchors = 0
        self.fail_after_commit = False
        self.fail_before_commit = False
        self._lock = threading.Lock()

    def plan(self, category: str) -> tuple[str, dict[str, Any]]:
        return "world_state", {}

    def anchor(self, batch: dict[str, Any], transient: dict[str, bytes]) -> tuple[dict[str, Any], str, int]:
        if self.fail_before_commit:
            raise ChainError("the batch was not committed: UNAVAILABLE")
        with self._lock:
            key = (batch["appid"], batch["batch_no"])
            if key in self.headers:
                raise ChainError("already anchored", refused=True)
            self.anchors += 1
            header = {"appid": batch["appid"], "org_no": batch["org_no"], "batch_no": batch["batch_no"],
                      "txcode": batch["txcode"], "bus_type": batch["bus_type"], "count": len(batch["records"]),
                      "merkle_root": batch["merkle_root"], "tx_id": f"tx{self.anchors}", "block": self.anchors}
            self.headers[key] = header
        if self.fail_after_commit:
            raise ChainError("the batch was not committed: DEADLINE_EXCEEDED")  # committed, answer lost
        return header, header["tx_id"], header["block"]

    def header(self, appid: str, batch_no: str) -> dict[str, Any] | None:
        return self.headers.get((appid, batch_no))
