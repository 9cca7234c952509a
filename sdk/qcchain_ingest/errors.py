"""Errors raised by :mod:`qcchain_ingest` (each also inherits the matching built-in)."""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    """Base of every error raised by :mod:`qcchain_ingest`."""


class Refused(IngestError, ValueError):
    """A request is refused; ``violations`` lists ``{index, field, reason}`` (never submitted values)."""

    def __init__(self, message: str, violations: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []


class AuthFailed(IngestError, PermissionError):
    """Unknown appid, wrong secret, locked out, or a token that is invalid, expired or revoked (no hint which)."""


class RateLimited(AuthFailed):
    """Too many attempts for one appid in the current window."""


class CredentialError(IngestError, LookupError):
    """An administrative credential operation names an unknown or revoked appid, or bad issue fields."""


class ChainError(IngestError, RuntimeError):
    """The chain refused or did not confirm an anchoring transaction (``refused`` = the contract said no)."""

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class StateError(IngestError, RuntimeError):
    """The service's database is unusable (cannot connect, wrong schema)."""
