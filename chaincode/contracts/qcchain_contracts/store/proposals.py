"""Governance proposals (``gov.proposal`` [proposal_id]) and used nonces (``gov.nonce`` [nonce]).

A stored proposal: ``{proposal_id, body, artifact, status (open | executed), proposer_msp, proposed_at,
proposed_tx, signatures{msp: {msp_id, key_id, signature, signed_at, tx_id, signer_id}}}`` plus, once
executed, ``executed_at, executed_tx, executed_by, counted_signers, outcome, threshold`` (the rule, governance policy
version/digest and members in force at execution). The rules that open, sign
and execute them are in :mod:`qcchain_contracts.proposals`.
"""

from __future__ import annotations

import re
from typing import Any

from ..common import get_json, list_by_prefix, page_by_prefix, put_json
from ..errors import NotFound

__all__ = ["find_proposal", "load_proposal", "put_proposal", "list_proposals", "proposals_page", "nonce_key", "nonce_used",
           "spend_nonce"]

_PROPOSAL_ID = re.compile(r"^[0-9a-f]{64}$")


def _proposal_key(stub: Any, proposal_id: str) -> str:
    return stub.create_composite_key("gov.proposal", [proposal_id])


def find_proposal(stub: Any, proposal_id: str) -> dict[str, Any] | None:
    """The stored proposal with this (well-formed) id, or None."""
    return get_json(stub, _proposal_key(stub, proposal_id))


def load_proposal(stub: Any, proposal_id: str) -> dict[str, Any]:
    """The stored proposal.

    Raises:
        NotFound: not a proposal id, or no such proposal.
    """
    if not isinstance(proposal_id, str) or not _PROPOSAL_ID.match(proposal_id):
        raise NotFound(f"proposal {proposal_id!r} does not exist")
    proposal = find_proposal(stub, proposal_id)
    if proposal is None:
        raise NotFound(f"proposal {proposal_id} does not exist")
    return proposal


def put_proposal(stub: Any, proposal: dict[str, Any]) -> None:
    """Write a proposal under its ``proposal_id``.

    Raises:
        InvalidInput: the proposal cannot be encoded as canonical JSON.
    """
    put_json(stub, _proposal_key(stub, proposal["proposal_id"]), proposal)


def list_proposals(stub: Any) -> list[dict[str, Any]]:
    """Every proposal (open and executed), in id order.

    Raises:
        TooMany: more than :data:`~qcchain_contracts.common.MAX_LIST` proposals (use :func:`proposals_page`).
    """
    return list_by_prefix(stub, "gov.proposal", [])


def proposals_page(stub: Any, page_size: int, bookmark: str) -> tuple[list[dict[str, Any]], str]:
    """One page of proposals in id order: (proposals, next bookmark or "").

    Raises:
        InvalidInput: bad page size or bookmark.
    """
    entries, nxt = page_by_prefix(stub, "gov.proposal", [], page_size, bookmark)
    return [get_json(stub, kv.key) or {} for kv in entries], nxt


def nonce_key(stub: Any, nonce: str) -> str:
    """Composite key of a used proposal nonce."""
    return stub.create_composite_key("gov.nonce", [nonce])


def nonce_used(stub: Any, nonce: str) -> bool:
    """Whether a proposal already used ``nonce``."""
    return bool(stub.get_state(nonce_key(stub, nonce)))


def spend_nonce(stub: Any, nonce: str, proposal_id: str) -> None:
    """Record that ``proposal_id`` used ``nonce``."""
    stub.put_state(nonce_key(stub, nonce), proposal_id.encode("ascii"))
