"""qcchain_shim: a Python runtime for Hyperledger Fabric chaincode (chaincode-as-a-service).

Modelled on fabric-chaincode-go ``shim``: handler state machine, stub API, contract layer.
Importing this package configures no logging handlers.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_core.grpcenv import apply_grpc_tuning, grpc_imported

logger = logging.getLogger(__name__)

from .contract import Context, Contract, Router, transaction
from .errors import ChaincodeError, InvalidArgumentError, InvalidKeyError, PeerError, ShimError
from .identity import ClientIdentity
from .ledger import KV, KeyModification, QueryMetadata, Response

__all__ = [
    "KV",
    "ChaincodeError",
    "ClientIdentity",
    "Context",
    "Contract",
    "InvalidArgumentError",
    "InvalidKeyError",
    "KeyModification",
    "PeerError",
    "QueryMetadata",
    "Response",
    "Router",
    "ShimError",
    "serve",
    "transaction",
]


def serve(*args: Any, **kwargs: Any) -> None:
    """Serve contracts as chaincode-as-a-service until SIGTERM/SIGINT: ``serve([Records(), Other()])``.

    The configuration comes from the CCaaS environment (``CHAINCODE_ID``, ``CHAINCODE_SERVER_ADDRESS``,
    optional ``CHAINCODE_TLS_*``) unless a :class:`~qcchain_shim.server.ServerConfig` is passed; see
    :func:`qcchain_shim.server.serve` (which also applies the GC settings and transaction time slicing).
    The gRPC server is imported only when this is called, after the gRPC process settings
    (:func:`qcchain_core.grpcenv.apply_grpc_tuning`) are applied: every program that serves through here
    runs with the same settings.

    Raises:
        ConfigError: the configuration is missing or invalid (the message names the variable), or the
            address cannot be bound.
        InvalidArgumentError: a contract is not usable (e.g. two contracts with one name).
    """
    if grpc_imported():
        if apply_grpc_tuning():  # too late for this process (gRPC read its settings at import)
            logger.warning(
                "grpc was imported before serve(): gRPC process settings apply only to child processes; "
                "call qcchain_core.grpcenv.apply_grpc_tuning() before importing grpc")
    else:
        apply_grpc_tuning()
    from .server import serve as _serve

    _serve(*args, **kwargs)
