"""The bytes of a Fabric block a cross-chain bundle may carry (pure; rules rung).

An orderer signs the block header (whose data hash covers every transaction) and ``metadata[SIGNATURES]``'s
value; nothing else. So a bundle carries each block *trimmed* (the exporter's
``qcchain_sdk.crosschain.bundle.trimmed_block``): the metadata entries no
orderer signs are emptied (LAST_CONFIG and ORDERER, deprecated; COMMIT_HASH, which each peer computes over its
own ledger) and the block is in canonical protobuf encoding, and :func:`require_trimmed` refuses any other
bytes -- a flipped byte anywhere in a block is then either refused here or breaks a hash or a signature.

Left unsigned, by Fabric's design: ``metadata[TRANSACTIONS_FILTER]``, the validation flags the committing
peer sets. The verifier reads only the proven transaction's flag (VALID); a transaction the peers
invalidated for a reason the block alone does not show (an MVCC read conflict) cannot be told from a valid
one by a bundle (``docs/CROSSCHAIN.md``, gaps). The chaincode never trims: it only checks.
"""

from __future__ import annotations

import logging

from fabric_protos.common import common_pb2

from .errors import InvalidInput

log = logging.getLogger(__name__)

__all__ = ["UNSIGNED_METADATA", "require_trimmed"]

#: ``BlockMetadataIndex`` entries no orderer signs: LAST_CONFIG and ORDERER (deprecated), COMMIT_HASH (each peer
#: computes it over its own ledger). A bundle carries them empty.
UNSIGNED_METADATA = (1, 3, 4)
_TRANSACTIONS_FILTER = 2


def require_trimmed(block: common_pb2.Block, raw: bytes) -> None:
    """Refuse bytes no signature covers: unsigned metadata, unknown fields or another encoding of the block,
    validation flags that are not one per transaction.

    Raises:
        InvalidInput: naming which.
    """
    entries = block.metadata.metadata
    number = block.header.number
    if len(entries) > 5 or any(entries[i] for i in UNSIGNED_METADATA if i < len(entries)):
        raise InvalidInput(f"block {number} carries metadata no orderer signed (last config, orderer, commit hash)")
    if len(entries) <= _TRANSACTIONS_FILTER or len(entries[_TRANSACTIONS_FILTER]) != len(block.data.data):
        raise InvalidInput(f"block {number}: its validation flags are not one per transaction")
    block.DiscardUnknownFields()
    if block.SerializeToString(deterministic=True) != raw:
        raise InvalidInput(f"block {number} is not in canonical protobuf encoding (unknown or re-encoded fields)")
