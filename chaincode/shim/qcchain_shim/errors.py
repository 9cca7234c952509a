"""Errors raised by :mod:`qcchain_shim`.

Every error also inherits the matching built-in, so code that does not know this package can still
catch it (``ValueError`` for bad input, ``RuntimeError`` for failures of the peer or the protocol).
"""

from __future__ import annotations


class ShimError(Exception):
    """Base of every error raised by qcchain_shim."""


class ChaincodeError(ShimError, RuntimeError):
    """Raised by contract code to fail a transaction with ``message`` and ``status`` (default 500).

    The message is returned to the client as the error response; nothing is written.
    """

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class InvalidKeyError(ShimError, ValueError):
    """A ledger key or composite-key attribute breaks the key rules of the Go shim."""


class InvalidArgumentError(ShimError, ValueError):
    """Transaction arguments do not match the function: arity, type, size or encoding."""


class PeerError(ShimError, RuntimeError):
    """The peer answered a request with an ERROR message (or an unexpected message type)."""


class ChaincodeProtocolError(ShimError, RuntimeError):
    """A chaincode-protocol message from the peer was malformed or arrived in the wrong handler state.

    (Named apart from ``qcchain_gateway.errors.ProtocolError``, which is about Gateway replies.)
    """


class ConfigError(ShimError, ValueError):
    """Server configuration (environment variables, TLS files) is missing or invalid."""


class CreatorIdentityError(ShimError, ValueError):
    """The transaction creator's bytes are not a valid SerializedIdentity with an X.509 certificate.

    (Named apart from ``qcchain_gateway.errors.IdentityError``, which is about a client's own MSP material.)
    """
