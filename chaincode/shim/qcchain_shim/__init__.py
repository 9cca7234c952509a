"""qcchain_shim: a Python runtime for Hyperledger Fabric chaincode (chaincode-as-a-service).

Modelled on fabric-chaincode-go ``shim``: handler state machine, stub API, contract layer.
Importing this package configures no logging handlers.
"""

from __future__ import annotations

from typing import Any

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
    :func:`qcchain_shim.server.serve`. The gRPC server is imported only when this is called.

    Raises:
        ConfigError: the configuration is missing or invalid (the message names the variable), or the
            address cannot be bound.
        InvalidArgumentError: a contract is not usable (e.g. two contracts with one name).
    """
    from .server import serve as _serve

    _serve(*args, **kwargs)
