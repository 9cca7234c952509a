"""The governance proposal body, as the governance chaincode hashes it into the proposal id."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["build_proposal"]


def build_proposal(operation: str, channel: str, chaincode: str = "qcchain", contract: str = "", version: str = "",
                   package_digest: str = "", reason: str = "", expiry: int = 0, nonce: str | None = None,
                  evidence: dict[str, str] | None = None) -> dict[str, Any]:
    """A proposal body; ``nonce`` defaults to 128 random bits (hex); ``evidence`` (deploy/upgrade) adds
    ``review_sm3`` / ``verification_sm3``. Checks nothing
    (:func:`qcchain_sdk.proposals.proposalfile.new_proposal` checks the operation's fields)."""
    return {"operation": operation, "target": {"channel": channel, "chaincode": chaincode, "contract": contract},
            "version": version, "package_digest": package_digest, "reason": reason,
            "nonce": nonce or os.urandom(16).hex(), "expiry": expiry, **(evidence or {})}
