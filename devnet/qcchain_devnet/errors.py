"""Errors of the devnet core (ledger, endorser, validator, chaincode client, gateway).

Each error also inherits the matching built-in exception, so callers may catch either.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "ChaincodeFailed",
    "ChaincodeNotFound",
    "ChaincodeUnavailable",
    "ChannelNotFound",
    "DevnetError",
    "LedgerCorrupted",
    "LedgerError",
    "PolicyError",
    "PolicySyntaxError",
    "ProposalError",
    "SimulationError",
    "UnpackError",
]


class DevnetError(Exception):
    """Base of every error raised by the devnet core."""


class ProposalError(DevnetError, ValueError):
    """A proposal or envelope is not acceptable (the message says why)."""


class UnpackError(ProposalError):
    """Bytes could not be decoded as the Fabric message they should be."""


class AccessDenied(ProposalError, PermissionError):
    """The creator or signer of a message is not valid on the channel."""


class ChannelNotFound(DevnetError, LookupError):
    """The channel is not served by this devnet."""


class ChaincodeNotFound(DevnetError, LookupError):
    """The chaincode is not defined on the channel."""


class ChaincodeFailed(DevnetError, RuntimeError):
    """The chaincode answered with an error response (status >= 400) or an ERROR message.

    (Named apart from ``qcchain_shim.ChaincodeError``, which contract code raises to fail a transaction.)
    """

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status


class ChaincodeUnavailable(DevnetError, ConnectionError):
    """The chaincode server cannot be reached or its stream broke."""


class SimulationError(DevnetError, ValueError):
    """A chaincode request broke a peer rule (key rules, write after paginated query, ...)."""


class PolicyError(DevnetError, ValueError):
    """An endorsement policy cannot be used."""


class PolicySyntaxError(PolicyError):
    """A signature-policy string does not parse (the message names the position)."""


class LedgerError(DevnetError, RuntimeError):
    """The ledger cannot be read or written."""


class LedgerCorrupted(LedgerError):
    """A stored block fails its hash-chain or data-hash check (names the channel and block)."""


class SnapshotError(LedgerError, ValueError):
    """A ledger snapshot, archive or recovery input is unusable (corrupt, foreign, mismatching manifest)."""
