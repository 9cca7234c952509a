"""Records contract: graded QC records (REQUIREMENTS T-6, T-7.1, T-8; ARCHITECTURE decisions 5-7).

A write (``records:submit``) carries an *envelope* — canonical JSON with exactly
:data:`qcchain_model.envelope.ENVELOPE_FIELDS` —
and the submitter's SM2 signature (hex, DER) over the envelope bytes by a registered ``sign`` key of the
owner org. ``digest`` is the hex SM3 of the canonical payload (L1-L3) or of the original bytes (L4), so
the signature covers the payload; ``channel`` must equal the transaction's channel, so a signature
cannot be replayed on another channel (the replay guard ``rec.sig`` is per channel). ``version`` is 1 for ``bus_type`` I (insert), previous + 1 for U
(update) and D (delete); every version stays in the key history. The grade is computed on chain by
:func:`.grading_rules.strictest_grade` (the strictest over every route, as the declared route is
self-chosen); the envelope's ``grade`` may be higher, never lower (nor lower than the
previous version's). Placement follows the grade's policy placement:

* ``world_state`` (L1): the payload is an argument, validated against the category's JSON Schema and
  stored with the metadata (L2 too, before issue 13 finding 3: such records stay readable until migrated);
* ``private_encrypted`` (L2, L3): the client encrypts the canonical payload with SM4-GCM under a fresh data key
  and sends transient ``ciphertext`` (12-byte nonce || ciphertext || tag, SM3 = ``ciphertext_digest``) and
  ``wrapped_keys`` (JSON ``{msp_id: {"key_id", "wrapped": hex}}`` — the data key SM2-encrypted for the
  owner and every active member whose role is an audience of the grade, each to its current
  encryption key); stored in the private data collection ``collectionL3``;
* ``off_chain`` (L4): only digest and metadata; ``records:verify_original`` proves an original matches.

Keys: ``rec`` [record_id] (metadata, history = versions); ``rec.idx`` [equipment|category|stage, value,
record_id]; ``rec.sig`` [SM3 of signature] (a signature is accepted once); private ``collectionL3`` [record_id].

This module is the contract front only: the write path is :func:`qcchain_contracts.placement.place_record`
(reusable by other fronts), reads go through :func:`qcchain_contracts.entitlement.entitled_view`, storage
is :mod:`qcchain_contracts.store.records`.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_model.envelope import INDEXES
from qcchain_shim import Context, Contract, transaction

from .common import sm3_hex
from .entitlement import entitled_view
from .errors import InvalidInput, NotFound
from .lifecycle import require_serving
from .placement import place_record
from .store.records import get_record_meta, index_page, stored_record

log = logging.getLogger(__name__)

__all__ = ["Records", "submit_record", "MAX_PAGE"]

MAX_PAGE = 100


def submit_record(ctx: Context, envelope: Any, signature: str, payload: Any) -> dict[str, Any]:
    """``records:submit``: the records contract's serving check, then :func:`.placement.place_record` for the
    caller (L3 payload from the transient map). Returns the stored metadata (without payload).

    Raises:
        Frozen/Destroyed: the records contract may not write; otherwise as :func:`.placement.place_record`.
    """
    require_serving(ctx, "records", write=True)
    return place_record(ctx, envelope, signature, payload)


class Records(Contract):
    """``records:*`` — submit graded QC records, read what the caller is entitled to, verify originals."""

    name = "records"
    write_batch = True  # a submit writes the record, its index entries and its signature key: one batch

    @transaction
    def submit(self, ctx: Context, envelope: dict, signature: str, payload: dict) -> dict:
        """Write one record version (see :func:`submit_record` for what it raises)."""
        return submit_record(ctx, envelope, signature, payload)

    @transaction(evaluate=True)
    def get(self, ctx: Context, record_id: str) -> dict:
        """A record as the caller is entitled to see it. Raises NotFound, Destroyed."""
        require_serving(ctx, "records", write=False)
        meta = stored_record(ctx.stub, record_id)
        if meta is None:
            raise NotFound(f"record {record_id!r} does not exist")
        return entitled_view(ctx, meta)

    @transaction(evaluate=True)
    def query(self, ctx: Context, index: str, value: str, page_size: int, bookmark: str) -> dict:
        """Records by ``equipment`` code, ``category`` or ``stage``, one page at a time.

        Raises: InvalidInput (unknown index, page size outside 1..100), Destroyed.
        """
        require_serving(ctx, "records", write=False)
        if index not in INDEXES:
            raise InvalidInput(f"index {index!r} is not one of {', '.join(INDEXES)}")
        if isinstance(page_size, bool) or not 1 <= page_size <= MAX_PAGE:
            raise InvalidInput(f"page_size must be 1..{MAX_PAGE}")
        records, meta = index_page(ctx.stub, index, value, page_size, bookmark)
        out = [entitled_view(ctx, record) for record in records]
        return {"records": out, "bookmark": meta.bookmark, "fetched": meta.fetched_records_count}

    @transaction(evaluate=True)
    def verify_original(self, ctx: Context, record_id: str, original: bytes) -> dict:
        """Does SM3(original) equal the digest on chain? For L4 originals kept off chain. Raises NotFound, Destroyed."""
        require_serving(ctx, "records", write=False)
        meta = get_record_meta(ctx.stub, record_id)
        if meta is None:
            raise NotFound(f"record {record_id!r} does not exist")
        computed = sm3_hex(original)
        return {"record_id": record_id, "version": meta["version"], "match": computed == meta["digest"],
                "digest": meta["digest"], "computed": computed}
