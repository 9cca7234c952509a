"""Waiting on real Fabric until the chain is usable and consistent across organisations.

:func:`wait_endorsable`: after a deploy, endorse a read of ``qcchain`` until the gateway finds endorsers
satisfying its policy (the peers launch and connect the chaincode asynchronously).

Read-your-writes across organisations, for multi-org flows such as the consortium story.

On Fabric, ``submit_transaction`` returns once the transaction is committed on the *gateway's* peer; the
other organisations' peers commit the same block a moment later (each pulls it from the orderer). A flow
where org A writes and org B then acts on it through B's own gateway (e.g. B co-signs the proposal A just
created) must first wait until B's peer has that block, or B's peer rightly answers "does not exist".

:class:`ChannelHeights` asks every org's gateway peer for its channel height (``qscc GetChainInfo``, an
evaluate on that org's own peer); :class:`SyncedContract` wraps a Gateway SDK contract so that every
submit returns only after every org's peer has committed the transaction's block. The devnet commits
one ledger for everyone and needs none of this.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Sequence

from fabric_protos.common import ledger_pb2

from .errors import NetworkError
from .noderecord import CHAINCODE
from qcchain_gateway.profile import connect_profile

log = logging.getLogger(__name__)

__all__ = ["ChannelHeights", "SyncedContract", "PeersBehind", "NotEndorsable", "wait_endorsable"]


class PeersBehind(NetworkError, TimeoutError):
    """Some organisation's peer did not reach a block in time (names the orgs and the block)."""


class NotEndorsable(NetworkError, TimeoutError):
    """The gateway could not endorse a call of the chaincode in time (names the last error)."""


def wait_endorsable(profile: Path, channel: str, timeout: float = 60.0) -> float:
    """Endorse (never submit) a read of ``qcchain`` until the gateway finds endorsers satisfying the
    chaincode's policy; returns the seconds waited.

    Raises:
        NotEndorsable: still failing after ``timeout`` seconds.
        qcchain_gateway.errors.ProfileError / IdentityError: the connection profile is unusable.
    """
    t0 = time.monotonic()
    last = ""
    with connect_profile(profile) as gateway:
        contract = gateway.get_network(channel).get_contract(CHAINCODE, "governance")
        while time.monotonic() - t0 < timeout:
            try:
                contract.new_proposal("members").endorse()
                return time.monotonic() - t0
            except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
                last = " ".join(str(exc).split())[:300]
                time.sleep(0.5)
    raise NotEndorsable(f"{CHAINCODE} on {channel} not endorsable after {timeout:.0f}s: {last}")


class ChannelHeights:
    """Channel heights as seen by each org's gateway peer; waits for all of them to reach a block."""

    def __init__(self, channel: str, gateways: dict[str, Any], timeout: float = 30.0) -> None:
        """``gateways``: org name -> connected Gateway (SDK) of that org."""
        self.channel, self.timeout = channel, timeout
        self._qscc = {org: gw.get_network(channel).get_contract("qscc") for org, gw in gateways.items()}
        self.waited = 0.0  # total seconds spent waiting (a measured figure)
        self.waits = 0  # how many blocks were waited for

    def height(self, org: str) -> int:
        """The channel height on ``org``'s gateway peer.

        Raises:
            qcchain_gateway.errors.GatewayError subclasses: the peer cannot be asked.
        """
        raw = self._qscc[org].evaluate_transaction("GetChainInfo", self.channel)
        return int(ledger_pb2.BlockchainInfo.FromString(raw).height)

    def wait_for_block(self, block_number: int) -> None:
        """Return once every org's peer holds block ``block_number`` (height > block_number).

        Raises:
            PeersBehind: still behind after ``timeout`` seconds (names them).
        """
        t0 = time.monotonic()
        pending = set(self._qscc)
        while True:
            for org in sorted(pending):
                try:
                    if self.height(org) > block_number:
                        pending.discard(org)
                except Exception as exc:  # noqa: BLE001 - a peer busy or restarting: asked again below
                    log.debug("height of %s not available: %s", org, type(exc).__name__)
            if not pending:
                self.waited += time.monotonic() - t0
                self.waits += 1
                return
            if time.monotonic() - t0 > self.timeout:
                raise PeersBehind(f"peers of {', '.join(sorted(pending))} did not commit block {block_number} "
                                  f"of {self.channel} within {self.timeout:.0f}s")
            time.sleep(0.02)


class SyncedContract:
    """A Gateway SDK contract whose submits return after every org's peer committed the transaction."""

    def __init__(self, contract: Any, heights: ChannelHeights) -> None:
        self._contract, self._heights = contract, heights

    def submit_transaction(self, name: str, *args: Any, transient: Any = None,
                           endorsing_organizations: Sequence[str] | None = None) -> bytes:
        """As the SDK's ``submit_transaction``, then wait for every org's peer to hold the block.

        Raises:
            EndorseError, SubmitError, CommitStatusError, CommitError (SDK); PeersBehind.
        """
        submitted = self._contract.submit_async(name, args, transient, endorsing_organizations)
        status = submitted.get_status()
        status.raise_for_status()
        self._heights.wait_for_block(int(status.block_number))
        return bytes(submitted.get_result())

    def evaluate_transaction(self, name: str, *args: Any) -> bytes:
        """As the SDK's ``evaluate_transaction`` (on the caller's own org peer).

        Raises:
            EndorseError and other SDK errors of the evaluate call.
        """
        return bytes(self._contract.evaluate_transaction(name, *args))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._contract, attr)
