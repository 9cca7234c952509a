"""Admitted orderer/peer nodes: node records (``gov.node`` [node_id]), the certificate fingerprints ever
admitted (``gov.nodecert`` [sha256], never reused) and the genesis marker (``gov.meta`` ["node_genesis"]).

The admission, removal and attestation rules are in :mod:`qcchain_contracts.noderegistry`.
"""

from __future__ import annotations

import re
from typing import Any

from qcchain_core.canonical import canonical_loads

from ..common import get_json, put_json

__all__ = ["NODE_ID", "MAX_NODES", "node_of", "list_nodes", "put_node", "cert_binding", "bind_cert",
           "genesis_admission", "put_genesis_admission"]

#: A node id: host name syntax (letters, digits, ``.``, ``_``, ``-``; at most 255 characters).
NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
MAX_NODES = 1000  # governance:nodes answers at most this many


def _node_key(stub: Any, node_id: str) -> str:
    return stub.create_composite_key("gov.node", [node_id])


def _cert_key(stub: Any, fingerprint: str) -> str:
    return stub.create_composite_key("gov.nodecert", [fingerprint])


def _genesis_key(stub: Any) -> str:
    return stub.create_composite_key("gov.meta", ["node_genesis"])


def node_of(stub: Any, node_id: str) -> dict[str, Any] | None:
    """The stored node record (with status, history, joins) or None."""
    if not isinstance(node_id, str) or not NODE_ID.match(node_id):
        return None
    return get_json(stub, _node_key(stub, node_id))


def list_nodes(stub: Any, limit: int = MAX_NODES) -> list[dict[str, Any]]:
    """Node records in node-id order, at most ``limit``."""
    out: list[dict[str, Any]] = []
    with stub.get_state_by_partial_composite_key("gov.node", []) as results:
        for kv in results:
            out.append(canonical_loads(kv.value))
            if len(out) >= limit:
                break
    return out


def put_node(stub: Any, record: dict[str, Any]) -> None:
    """Write a node record under its ``node_id``."""
    put_json(stub, _node_key(stub, record["node_id"]), record)


def cert_binding(stub: Any, fingerprint: str) -> dict[str, Any] | None:
    """``{node_id, field, proposal_id}`` if the certificate fingerprint was ever admitted, else None."""
    return get_json(stub, _cert_key(stub, fingerprint))


def bind_cert(stub: Any, fingerprint: str, node_id: str, field: str, proposal_id: str) -> None:
    """Bind a certificate fingerprint to the node it was admitted for (for good)."""
    put_json(stub, _cert_key(stub, fingerprint), {"node_id": node_id, "field": field, "proposal_id": proposal_id})


def genesis_admission(stub: Any) -> dict[str, Any] | None:
    """The genesis admission marker of this channel, or None."""
    return get_json(stub, _genesis_key(stub))


def put_genesis_admission(stub: Any, marker: dict[str, Any]) -> None:
    """Write the genesis admission marker (once per channel)."""
    put_json(stub, _genesis_key(stub), marker)
