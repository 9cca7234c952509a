"""Cross-chain ledger records: registered source networks (``xc.source`` [name]), source proposals
(``xc.proposal`` [proposal_id]) and imported certificates (``xc.cert`` [source, record_id]).

A source record: ``{name, status (active | removed), document (the trust anchors, see
:func:`qcchain_contracts.fabricproof.load_anchors`), digest, version (1, 2, ...), updated_at, proposal_id,
history[{operation, proposal_id, at, digest}]}``. An imported certificate: the verified certificate of
:func:`qcchain_contracts.bundleverify.verify_bundle` plus ``source, imported_at, imported_tx, imported_by,
bundle_digest, versions[{block, tx_id, status, imported_tx}]``. Decisions are in :mod:`.crosssources` and
the ``crosschain`` front.
"""

from __future__ import annotations

from typing import Any

from ..common import get_json, list_by_prefix, put_json

__all__ = ["find_source", "put_source", "list_sources", "find_source_proposal", "put_source_proposal",
           "find_certificate", "put_certificate", "list_certificates"]


def find_source(stub: Any, name: str) -> dict[str, Any] | None:
    """The source record (any status), or None."""
    return get_json(stub, stub.create_composite_key("xc.source", [name]))


def put_source(stub: Any, record: dict[str, Any]) -> None:
    """Write a source record under its name. Raises InvalidInput (not canonical JSON)."""
    put_json(stub, stub.create_composite_key("xc.source", [record["name"]]), record)


def list_sources(stub: Any) -> list[dict[str, Any]]:
    """Every source record in name order. Raises TooMany beyond MAX_LIST."""
    return list_by_prefix(stub, "xc.source", [])


def find_source_proposal(stub: Any, proposal_id: str) -> dict[str, Any] | None:
    """A stored source proposal, or None."""
    return get_json(stub, stub.create_composite_key("xc.proposal", [proposal_id]))


def put_source_proposal(stub: Any, proposal: dict[str, Any]) -> None:
    """Write a source proposal under its id. Raises InvalidInput (not canonical JSON)."""
    put_json(stub, stub.create_composite_key("xc.proposal", [proposal["proposal_id"]]), proposal)


def find_certificate(stub: Any, source: str, record_id: str) -> dict[str, Any] | None:
    """An imported certificate, or None."""
    return get_json(stub, stub.create_composite_key("xc.cert", [source, record_id]))


def put_certificate(stub: Any, cert: dict[str, Any]) -> None:
    """Write an imported certificate. Raises InvalidInput (not canonical JSON)."""
    put_json(stub, stub.create_composite_key("xc.cert", [cert["source"], cert["record_id"]]), cert)


def list_certificates(stub: Any, source: str) -> list[dict[str, Any]]:
    """Every certificate imported from ``source`` (all when ""), in key order. Raises TooMany."""
    return list_by_prefix(stub, "xc.cert", [source] if source else [])
