"""qcchain-gateway: a Python client of Hyperledger Fabric's Gateway service, usable by any Fabric project.

Shaped like the official ``fabric-gateway`` clients::

    from qcchain_gateway import connect, Identity, new_private_key_signer
    with connect(identity, grpc_channel, signer) as gateway:
        contract = gateway.get_network("qcchannel").get_contract("qcchain", "records")
        result = contract.submit_transaction("create", "id1", "{}")

The usage model (evaluate / submit / submit_async / offline signing) and which error arises at which stage
are explained on :class:`Contract` and :class:`Gateway`; :mod:`qcchain_gateway.aio` is the same API for
asyncio programs.
"""

from __future__ import annotations

from qcchain_gateway import aio
from qcchain_gateway.checkpoint import Checkpoint, FileCheckpointer, InMemoryCheckpointer
from qcchain_gateway.client import Timeouts
from qcchain_gateway.commit import Commit, Status, SubmittedTransaction
from qcchain_gateway.connection import new_channel
from qcchain_gateway.contract import Contract
from qcchain_gateway.errors import (
    ChaincodeStatusError,
    CommitError,
    CommitStatusError,
    ConflictError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    EventsError,
    ForbiddenError,
    GatewayError,
    GoneError,
    InvalidInputError,
    LockedError,
    NotFoundError,
    SdkError,
    SubmitError,
    UnauthorizedError,
)
from qcchain_gateway.chaincodeevent import ChaincodeEvent
from qcchain_gateway.events import ChaincodeEventsRequest, ChaincodeEventStream
from qcchain_gateway.gateway import Gateway, connect
from qcchain_gateway.identity import HashFunction, Identity, Signer, new_private_key_signer, sha256, sha384
from qcchain_gateway.network import Network
from qcchain_gateway.proposal import Proposal
from qcchain_gateway.transaction import Transaction

__all__ = [
    "aio",
    "ChaincodeEvent",
    "ChaincodeStatusError",
    "ConflictError",
    "EventsError",
    "ForbiddenError",
    "GoneError",
    "InvalidInputError",
    "LockedError",
    "NotFoundError",
    "UnauthorizedError",
    "ChaincodeEventStream",
    "ChaincodeEventsRequest",
    "Checkpoint",
    "Commit",
    "CommitError",
    "CommitStatusError",
    "Contract",
    "EndorseError",
    "ErrorDetail",
    "EvaluateError",
    "FileCheckpointer",
    "Gateway",
    "GatewayError",
    "HashFunction",
    "Identity",
    "InMemoryCheckpointer",
    "Network",
    "Proposal",
    "SdkError",
    "Signer",
    "Status",
    "SubmitError",
    "SubmittedTransaction",
    "Timeouts",
    "Transaction",
    "connect",
    "new_channel",
    "new_private_key_signer",
    "sha256",
    "sha384",
]
