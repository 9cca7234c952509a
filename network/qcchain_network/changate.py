"""The on-chain side of channels at run time (issue 18): a Fabric channel is created, or an org put on one,
only after governance decided it.

``governance:get_channel`` on the governance channel must show an executed ``channel_create`` for the
channel with the same members (MSP IDs, as a set), and ``governance:get_channel_join`` an executed
``channel_join`` of the org for the channel. Modes as for members (:mod:`.membergate`): ``check``
refuses; ``propose`` writes the proposal for the org admins to sign offline (``qcchain contract sign`` /
``execute``); ``test-keys`` (test networks only) signs it with the test admins' SM2 keys and executes it.
A chain whose installed governance policy predates these operations refuses their proposals until a
``policy_update`` gives them a rule (``policies/governance.yaml`` has one).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from .derive import Layout
from .errors import RegistryError
from .membergate import MODES, PROPOSAL_LIFETIME, MemberProposalWritten, NotDecided, governance_query, propose_or_execute
from .noderecord import CHAINCODE, GOVERNANCE_CHANNEL
from qcchain_sdk.proposals import proposalfile

log = logging.getLogger(__name__)

__all__ = ["decision", "require_create", "require_join", "ChannelProposalWritten"]


class ChannelProposalWritten(MemberProposalWritten):
    """``--propose``: the channel proposal was written instead (names the file and the next steps)."""


def decision(layout: Layout, function: str, *args: str, channel: str = GOVERNANCE_CHANNEL) -> dict[str, Any] | None:
    """``governance:<function>(*args)`` (``get_channel`` / ``get_channel_join``) as the regulator's Admin,
    or None when governance decided nothing.

    Raises:
        qcchain_gateway.errors.GatewayError: the query failed for another reason.
    """
    return governance_query(layout, function, *args, channel=channel)


def _decide(layout: Layout, op: str, subject: str, artifact: dict[str, Any], what: str, mode: str,
            proposal_out: Path | None, recheck: Any) -> str:
    """Write (``propose``) or execute (``test-keys``) the proposal; returns the executed proposal's id.

    Raises:
        ChannelProposalWritten: ``propose`` mode. NotDecided: ``check`` mode, or still undecided after
        executing. RegistryError: a bad mode or a missing file name.
    """
    if mode not in MODES:
        raise RegistryError(f"channel gate mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "check":
        raise NotDecided(f"refused: {what} was not decided by governance (no executed {op}) — `--propose FILE` "
                         f"writes the {op} proposal for the org admins to sign and execute")
    proposal = proposalfile.new_proposal(op, GOVERNANCE_CHANNEL, CHAINCODE, contract=subject,
                                         expiry=int(time.time()) + PROPOSAL_LIFETIME, reason=what, artifact=artifact)
    propose_or_execute(layout, proposal, op, mode, proposal_out, GOVERNANCE_CHANNEL, ChannelProposalWritten,
                       f"{what} is not decided")
    found = recheck()
    if not found:
        raise NotDecided(f"refused: {what} is still not decided after executing {proposal.proposal_id[:16]}…")
    return str(found)


def require_create(layout: Layout, channel: str, msp_ids: list[str], mode: str = "check",
                   proposal_out: Path | None = None) -> str:
    """Refuse unless governance decided to create ``channel`` for exactly the members ``msp_ids``; returns
    the id of the executed ``channel_create``.

    Raises:
        NotDecided: not decided, or decided for other members. ChannelProposalWritten: ``propose`` mode.
        RegistryError: a bad mode or a missing file name.
    """
    what = f"channel {channel} for {', '.join(msp_ids)}"

    def found() -> str:
        record = decision(layout, "get_channel", channel)
        if record is not None and sorted(record.get("members", [])) != sorted(msp_ids):
            raise NotDecided(f"refused: governance decided channel {channel} for {', '.join(record['members'])}, "
                             f"not for {', '.join(msp_ids)}")
        return str(record["source"]) if record is not None else ""

    source = found()
    if source:
        return source
    return _decide(layout, "channel_create", channel, {"channel": channel, "members": list(msp_ids)}, what, mode,
                   proposal_out, found)


def require_join(layout: Layout, channel: str, msp_id: str, mode: str = "check",
                 proposal_out: Path | None = None) -> str:
    """Refuse unless governance decided that ``msp_id`` joins ``channel``; returns the id of the executed
    ``channel_join``.

    Raises:
        NotDecided: not decided. ChannelProposalWritten: ``propose`` mode. RegistryError: a bad mode or a
        missing file name.
    """
    def found() -> str:
        record = decision(layout, "get_channel_join", channel, msp_id)
        return str(record["source"]) if record is not None else ""

    source = found()
    if source:
        return source
    return _decide(layout, "channel_join", msp_id, {"channel": channel, "msp_id": msp_id},
                   f"{msp_id} joining channel {channel}", mode, proposal_out, found)
