"""qcchain Gateway SDK: a Python client of Hyperledger Fabric's Gateway service.

Shaped like the official ``fabric-gateway`` clients::

    from qcchain_sdk import connect, Identity, new_private_key_signer
    with connect(identity, grpc_channel, signer) as gateway:
        contract = gateway.get_network("qcchannel").get_contract("qcchain", "records")
        result = contract.submit_transaction("create", "id1", "{}")
"""

from __future__ import annotations

from qcchain_sdk import aio
from qcchain_sdk.checkpoint import Checkpoint, FileCheckpointer, InMemoryCheckpointer
from qcchain_sdk.client import Timeouts
from qcchain_sdk.commit import Commit, Status, SubmittedTransaction
from qcchain_sdk.connection import new_channel
from qcchain_sdk.contract import Contract
from qcchain_sdk.errors import (
    CommitError,
    CommitStatusError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    GatewayError,
    SdkError,
    SubmitError,
)
from qcchain_sdk.events import ChaincodeEvent, ChaincodeEventsRequest, ChaincodeEventStream
from qcchain_sdk.gateway import Gateway, connect
from qcchain_sdk.identity import HashFunction, Identity, Signer, new_private_key_signer, sha256, sha384
from qcchain_sdk.network import Network
from qcchain_sdk.proposal import Proposal
from qcchain_sdk.transaction import Transaction

__all__ = [
    "aio",
    "ChaincodeEvent",
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
