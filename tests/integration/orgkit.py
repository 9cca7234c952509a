"""Helpers of the Fabric membership tests: the committed qcchain definition as `peer lifecycle` reports it
(with the MSP IDs of each collection's member policy decoded), a contract whose writes are endorsed by
chosen orgs only, and a retry loop for reads that wait on gossip / private data dissemination."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any


def committed(layout: Any, peer_bin: Path, channel: str) -> dict[str, Any]:
    """``peer lifecycle chaincode querycommitted`` of qcchain on ``channel``, with ``collection_msps``: the
    MSP IDs named by each collection's member policy (decoded from its principals)."""
    from qcchain_network import cclifecycle

    ch = next(c for c in layout.consortium.channels if c.name == channel)
    doc = cclifecycle.committed_definition(layout, peer_bin, ch, "qcchain", asker="Regulator")
    msps: dict[str, list[str]] = {}
    for entry in doc.get("collections", {}).get("config", []):
        static = _find(entry, "name")  # the collection's static config (the JSON spelling of the oneof varies)
        # each MSPRole principal: field 1 (msp_identifier) is a length-prefixed string
        raws = [base64.b64decode(p) for p in _values(static, "principal")]
        msps[static["name"]] = [r[2:2 + r[1]].decode() for r in raws]
    return {**doc, "collection_msps": msps}


def _find(doc: Any, key: str) -> dict[str, Any]:
    """The first dict under ``doc`` (itself included) that has ``key``."""
    if isinstance(doc, dict):
        if key in doc:
            return doc
        doc = list(doc.values())
    for item in doc if isinstance(doc, list) else []:
        found = _find(item, key)
        if found:
            return found
    return {}


def _values(doc: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere under ``doc``."""
    if isinstance(doc, dict):
        return ([doc[key]] if key in doc else []) + [v for x in doc.values() for v in _values(x, key)]
    return [v for x in doc for v in _values(x, key)] if isinstance(doc, list) else []


class Pinned:
    """A contract whose submissions are endorsed by the given orgs only (the gateway's endorsing_organizations)."""

    def __init__(self, contract: Any, orgs: list[str]) -> None:
        self.contract, self.orgs = contract, orgs

    def submit_transaction(self, name: str, *args: Any) -> bytes:
        return bytes(self.contract.submit_transaction(name, *args, endorsing_organizations=self.orgs))

    def evaluate_transaction(self, name: str, *args: Any) -> bytes:
        return bytes(self.contract.evaluate_transaction(name, *args))


def retry(fn: Any, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)
