"""Builds Fabric transaction proposals exactly as the official Gateway clients do.

Transaction id = hex(SHA-256(nonce || creator)) with a 24-byte random nonce (Fabric checks this).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2
from google.protobuf import timestamp_pb2

from qcchain_gateway.errors import SdkError

NONCE_SIZE = 24

Argument = str | bytes


class ArgumentError(SdkError, TypeError):
    """A transaction argument or transient value has the wrong type."""


@dataclass(frozen=True)
class TransactionContext:
    """Nonce, creator and the transaction id derived from them."""

    nonce: bytes
    creator: bytes
    transaction_id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "transaction_id", hashlib.sha256(self.nonce + self.creator).hexdigest())

    @classmethod
    def new(cls, creator: bytes) -> "TransactionContext":
        """A fresh context with a random nonce."""
        return cls(os.urandom(NONCE_SIZE), creator)


def as_bytes(value: Argument, what: str) -> bytes:
    """UTF-8 for ``str``, as-is for ``bytes``.

    Raises:
        ArgumentError: for any other type.
    """
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ArgumentError(f"{what} must be str or bytes, not {type(value).__name__}")


def build_proposed_transaction(
    ctx: TransactionContext,
    channel: str,
    chaincode: str,
    transaction_name: str,
    arguments: Sequence[Argument] = (),
    transient: Mapping[str, Argument] | None = None,
    endorsing_organizations: Sequence[str] | None = None,
) -> gateway_pb2.ProposedTransaction:
    """An unsigned ``gateway.ProposedTransaction`` for invoking ``transaction_name``.

    Raises:
        ArgumentError: if an argument, transient key or value, or organisation has the wrong type.
    """
    args = [as_bytes(transaction_name, "transaction name")]
    args += [as_bytes(a, f"argument {i}") for i, a in enumerate(arguments)]
    transient_map = {}
    for key, value in (transient or {}).items():
        if not isinstance(key, str):
            raise ArgumentError(f"transient key must be str, not {type(key).__name__}")
        transient_map[key] = as_bytes(value, f"transient value {key!r}")
    orgs = list(endorsing_organizations or [])
    for org in orgs:
        if not isinstance(org, str) or not org:
            raise ArgumentError(f"endorsing organization must be a non-empty MSP ID string, not {org!r}")

    proposal = proposal_pb2.Proposal(
        header=_header(ctx, channel, chaincode).SerializeToString(),
        payload=proposal_pb2.ChaincodeProposalPayload(
            input=chaincode_pb2.ChaincodeInvocationSpec(
                chaincode_spec=chaincode_pb2.ChaincodeSpec(
                    chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
                    input=chaincode_pb2.ChaincodeInput(args=args),
                )
            ).SerializeToString(),
            TransientMap=transient_map,
        ).SerializeToString(),
    )
    return gateway_pb2.ProposedTransaction(
        transaction_id=ctx.transaction_id,
        proposal=proposal_pb2.SignedProposal(proposal_bytes=proposal.SerializeToString()),
        endorsing_organizations=orgs,
    )


def _header(ctx: TransactionContext, channel: str, chaincode: str) -> common_pb2.Header:
    timestamp = timestamp_pb2.Timestamp()
    timestamp.GetCurrentTime()
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.ENDORSER_TRANSACTION,
        timestamp=timestamp,
        channel_id=channel,
        tx_id=ctx.transaction_id,
        epoch=0,
        extension=proposal_pb2.ChaincodeHeaderExtension(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode)
        ).SerializeToString(),
    )
    signature_header = common_pb2.SignatureHeader(creator=ctx.creator, nonce=ctx.nonce)
    return common_pb2.Header(
        channel_header=channel_header.SerializeToString(),
        signature_header=signature_header.SerializeToString(),
    )
