"""Errors raised by the qcchain business contracts.

Every error is a :class:`qcchain_shim.errors.ChaincodeError` (so the runtime turns it into an error
response with its message and status; nothing is written) and also inherits the matching built-in:
``PermissionError`` for refusals, ``LookupError`` for missing things, ``ValueError`` for bad input,
``RuntimeError`` for state conflicts. Messages name what was wrong and never carry payloads or keys.
"""

from __future__ import annotations

from qcchain_shim.errors import ChaincodeError

__all__ = [
    "MAX_MESSAGE",
    "bounded",
    "ContractError",
    "Forbidden",
    "NotFound",
    "Conflict",
    "InvalidInput",
    "Frozen",
    "Destroyed",
    "InvalidSignatureError",
    "TooMany",
]


#: Longest message an error carries. The peer returns it in the gRPC status of every endorser's answer; a
#: message echoing a 5,000-character argument overflowed the client's 8 KiB metadata limit, so the client
#: got RESOURCE_EXHAUSTED instead of the 4xx (found by tests/security/test_sec_gateway_fuzz.py).
MAX_MESSAGE = 1000


def bounded(message: str) -> str:
    """``message`` on one line and at most :data:`MAX_MESSAGE` characters (cut ones end with ``…``). Pure."""
    text = " ".join(message.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


class ContractError(ChaincodeError):
    """Base of every business-contract error (status 500 unless a subclass says otherwise). Its message is
    one line of at most :data:`MAX_MESSAGE` characters."""

    status_code = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(bounded(message), status if status is not None else self.status_code)


class Forbidden(ContractError, PermissionError):
    """The caller (MSP, role, admin attribute or key) is not allowed to do this."""

    status_code = 403


class NotFound(ContractError, LookupError):
    """A record, member, key, proposal, policy or contract does not exist."""

    status_code = 404


class Conflict(ContractError):
    """The ledger state forbids the operation (duplicate id, replayed nonce, wrong lifecycle state)."""

    status_code = 409


class InvalidInput(ContractError, ValueError):
    """An argument or payload is malformed (schema, format, size, unknown category...)."""

    status_code = 400


class Frozen(Forbidden):
    """The contract is frozen by governance: writes are refused, reads still allowed."""

    status_code = 423


class Destroyed(Forbidden):
    """The contract was destroyed by governance: every transaction is refused, permanently."""

    status_code = 410


class InvalidSignatureError(Forbidden):
    """An SM2 signature does not verify, or its key is unknown, revoked, expired or not the signer's."""

    status_code = 401


class TooMany(InvalidInput):
    """A list would hold more entries than the contract returns or decides over at once (page it instead)."""

    status_code = 413
