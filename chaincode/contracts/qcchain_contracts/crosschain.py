"""The ``crosschain`` contract (T-9.2.3): certificates of other chains, imported with verifiable proofs.

* Trust anchors: ``propose_source`` / ``sign_source`` / ``execute_source`` register, update or remove a source
  network by multi-signature governance (:mod:`.crosssources`); ``source``, ``sources``, ``source_proposal``.
* ``verify`` (evaluate) checks a bundle against a registered source entirely in chaincode
  (:mod:`.bundleverify`) and writes nothing; ``import_bundle`` does the same and records the certificate with
  its provenance (source block height, transaction, time), refusing a bundle not newer than the one already
  imported (stale) and one older than ``min_time``; ``certificate`` / ``certificates`` read them back.
* Freshness: ``min_time`` bounds the time the bundle shows the record current -- its attestation's (the
  source's peers' endorsed read, :mod:`.crosschain_attest`) when it has one, else its transaction's.
* Ingested records (anchored by ``ingest:anchor``) come with their batch inclusion proof instead of an SM2
  key proof (:mod:`.crosschain_ingest`); their personal fields (ID card, phones) are stored masked, the
  record's SM3 digest kept, so a holder of the full record can still check it.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_shim import Context, Contract, transaction

from .bundleverify import parse_bundle, verify_bundle
from .common import caller_msp, record_event, require_int, sm3_hex, tx_time
from .crosschain_ingest import masked
from .crosssources import execute_source, propose_source, sign_source
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .fabricproof import load_anchors
from .lifecycle import require_serving
from .placement import require_submitter
from .store.sources import (find_certificate, find_source, find_source_proposal, list_certificates, list_sources,
                            put_certificate)

log = logging.getLogger(__name__)

__all__ = ["CrossChain"]


def _verified(ctx: Context, source: str, bundle: str, record_id: str, min_time: int) -> tuple[dict[str, Any], str]:
    record = find_source(ctx.stub, source) if isinstance(source, str) and source else None
    if record is None:
        raise NotFound(f"source {source!r} is not registered on this channel")
    if record["status"] != "active":
        raise Forbidden(f"source {source} was removed by governance; its bundles are refused")
    raw = bundle.encode("utf-8") if isinstance(bundle, str) else bundle
    parsed = parse_bundle(raw)
    if record_id and parsed["record_id"] != record_id:
        raise InvalidInput(f"bundle is for record {parsed['record_id']}, not {record_id}")
    cert = verify_bundle(parsed, load_anchors(record["document"]))
    require_int(min_time, "min_time", 0)
    prov = cert["provenance"]
    shown = prov["attested_at"] if prov.get("attested_at") is not None else prov["tx_time"]
    if shown < min_time:
        raise Conflict(f"bundle shows the record {'current' if prov.get('attested_at') else 'written'} at time {shown}, "
                       f"older than the demanded bound {min_time}")
    return cert, sm3_hex(raw)


class CrossChain(Contract):
    """``crosschain:*`` — registered source networks and imported certificates."""

    name = "crosschain"

    @transaction
    def propose_source(self, ctx: Context, proposal: dict, anchors: dict, key_id: str, signature: str) -> dict:
        """Open a source proposal (see :mod:`.crosssources`). Raises as :func:`.crosssources.propose_source`."""
        require_serving(ctx, "crosschain", True)
        return propose_source(ctx, proposal, anchors, key_id, signature)

    @transaction
    def sign_source(self, ctx: Context, proposal_id: str, key_id: str, signature: str) -> dict:
        """Add the caller's org's signature. Raises as :func:`.crosssources.sign_source`."""
        require_serving(ctx, "crosschain", True)
        return sign_source(ctx, proposal_id, key_id, signature)

    @transaction
    def execute_source(self, ctx: Context, proposal_id: str) -> dict:
        """Execute at threshold. Raises as :func:`.crosssources.execute_source`."""
        require_serving(ctx, "crosschain", True)
        return execute_source(ctx, proposal_id)

    @transaction(evaluate=True)
    def source_proposal(self, ctx: Context, proposal_id: str) -> dict:
        """A source proposal. Raises NotFound."""
        proposal = find_source_proposal(ctx.stub, proposal_id) if proposal_id else None
        if proposal is None:
            raise NotFound(f"source proposal {proposal_id!r} does not exist")
        return proposal

    @transaction(evaluate=True)
    def source(self, ctx: Context, name: str) -> dict:
        """A registered source (any status). Raises NotFound."""
        record = find_source(ctx.stub, name) if name else None
        if record is None:
            raise NotFound(f"source {name!r} is not registered on this channel")
        return record

    @transaction(evaluate=True)
    def sources(self, ctx: Context) -> list:
        """Every source: name, status, version, digest. Raises TooMany."""
        return [{k: s.get(k) for k in ("name", "status", "version", "digest", "updated_at")}
                for s in list_sources(ctx.stub)]

    @transaction(evaluate=True)
    def verify(self, ctx: Context, source: str, bundle: str, record_id: str, min_time: int) -> dict:
        """Verify a bundle against a registered source; writes nothing. Returns the certificate.

        Raises:
            NotFound: source unknown. Forbidden: source removed, identity outside its MSPs.
            InvalidInput: any proof check failing (named). Conflict: older than ``min_time``.
        """
        require_serving(ctx, "crosschain", False)
        cert, digest = _verified(ctx, source, bundle, record_id, min_time)
        return {**cert, "source": source, "bundle_digest": digest}

    @transaction
    def import_bundle(self, ctx: Context, source: str, bundle: str, record_id: str, min_time: int) -> dict:
        """Verify and record a certificate with its provenance (by an active member).

        Raises:
            as :meth:`verify`; Forbidden: caller not an active member; Conflict: stale (not newer than the
            imported version, by source block and transaction index).
        """
        require_serving(ctx, "crosschain", True)
        require_submitter(ctx)
        cert, digest = _verified(ctx, source, bundle, record_id, min_time)
        prov = cert["provenance"]
        previous = find_certificate(ctx.stub, source, cert["record_id"])
        if previous is not None:
            old = previous["provenance"]
            if (prov["block"], prov["tx_index"]) <= (old["block"], old["tx_index"]):
                raise Conflict(f"stale bundle: record {cert['record_id']} was already imported from block "
                               f"{old['block']} (this bundle shows block {prov['block']})")
        versions = [*(previous or {}).get("versions", []),
                    {"block": prov["block"], "tx_id": prov["tx_id"], "status": cert["status"], "imported_tx": ctx.stub.get_tx_id()}]
        if prov.get("kind") == "ingested":  # personal fields masked as ingest:get shows them to other orgs
            payload, fields = masked(cert["record"]["payload"])
            cert = {**cert, "record": {**cert["record"], "payload": payload, "masked": fields}}
        stored = {**cert, "source": source, "bundle_digest": digest, "imported_at": tx_time(ctx),
                  "imported_tx": ctx.stub.get_tx_id(), "imported_by": caller_msp(ctx), "versions": versions}
        put_certificate(ctx.stub, stored)
        record_event(ctx, "certificate_imported", {"source": source, "record_id": cert["record_id"],
                                                   "block": prov["block"], "status": cert["status"]})
        return stored

    @transaction(evaluate=True)
    def certificate(self, ctx: Context, source: str, record_id: str) -> dict:
        """An imported certificate with provenance. Raises NotFound."""
        require_serving(ctx, "crosschain", False)
        cert = find_certificate(ctx.stub, source, record_id) if source and record_id else None
        if cert is None:
            raise NotFound(f"no certificate {record_id!r} imported from {source!r}")
        return cert

    @transaction(evaluate=True)
    def certificates(self, ctx: Context, source: str) -> list:
        """Imported certificates (of ``source``, or all for ""): id, source, status, block. Raises TooMany."""
        require_serving(ctx, "crosschain", False)
        return [{"source": c["source"], "record_id": c["record_id"], "status": c["status"],
                 "block": c["provenance"]["block"], "tx_time": c["provenance"]["tx_time"]}
                for c in list_certificates(ctx.stub, source)]
