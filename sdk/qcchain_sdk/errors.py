"""Errors raised by the qcchain application SDK (typed contract clients, node records, contract projects,
governance proposals, the business steps of :mod:`qcchain_sdk.actions`).

Errors of the Fabric Gateway client itself (and the typed chaincode statuses such as
:class:`qcchain_gateway.errors.NotFoundError`) live in :mod:`qcchain_gateway.errors`; every error here also
inherits the matching built-in, so callers may catch ``ValueError`` / ``PermissionError`` /
``FileExistsError`` / ``RuntimeError`` without importing this module.
"""

from __future__ import annotations

__all__ = [
    "AppError",
    "GovernanceStateError",
    "NodeError",
    "PackageMismatch",
    "ProjectError",
    "ProposalFileError",
    "RecipientError",
    "ScaffoldError",
    "SignatureError",
    "ThresholdNotMet",
]


class AppError(Exception):
    """Base of every error raised by :mod:`qcchain_sdk`."""


class NodeError(AppError, ValueError):
    """A node record cannot be built or a node proposal is malformed (unparsable certificate, bad kind or id)."""


class ScaffoldError(AppError, FileExistsError):
    """A contract project cannot be created (bad name, target directory not empty)."""


class ProjectError(AppError, ValueError):
    """A contract project is unusable: missing/invalid ``contract.json``, no sources, a syntax error."""


class PackageMismatch(AppError, ValueError):
    """A chaincode package is not the one a proposal (or the project) names: another digest or label."""


class ProposalFileError(AppError, ValueError):
    """A proposal file is missing, not canonical JSON of the expected shape, or inconsistent."""


class SignatureError(AppError, ValueError):
    """A signature in a proposal file does not verify, or a key signs twice."""


class ThresholdNotMet(AppError, PermissionError):
    """The proposal's valid signatures do not meet the governance rule of its operation."""


class GovernanceStateError(AppError, RuntimeError):
    """The chain refuses the operation (state, unknown key, proposal already executed, ...)."""


class RecipientError(AppError, LookupError):
    """A record's recipient org has no registered, usable SM2 encryption key."""


class GrantKeyError(AppError, LookupError):
    """An L3 data key cannot be wrapped for a grantee (no encryption key, or the owner's key cannot unwrap it)."""


class NotMemberError(AppError, PermissionError):
    """The caller's org is not a member of the consortium on this channel."""
