"""Errors of :mod:`qcchain_sdk.lifecycle` (contract scaffolding, review, packaging, governed proposals).

Each also inherits the matching built-in, so callers may catch ``ValueError`` / ``PermissionError`` /
``FileExistsError`` / ``RuntimeError`` without importing this module.
"""

from __future__ import annotations

from qcchain_gateway.errors import SdkError


class LifecycleError(SdkError):
    """Base class of every error raised by :mod:`qcchain_sdk.lifecycle`."""


class ScaffoldError(LifecycleError, FileExistsError):
    """A contract project cannot be created (bad name, target directory not empty)."""


class ProjectError(LifecycleError, ValueError):
    """A contract project is unusable: missing/invalid ``contract.json``, no sources, a syntax error."""


class ReviewFailed(LifecycleError, ValueError):
    """The security review found high-severity hazards (the message counts them)."""


class ProposalFileError(LifecycleError, ValueError):
    """A proposal file is missing, not canonical JSON of the expected shape, or inconsistent."""


class SignatureError(LifecycleError, ValueError):
    """A signature in a proposal file does not verify, or a key signs twice."""


class ThresholdNotMet(LifecycleError, PermissionError):
    """The proposal's valid signatures do not meet the governance rule of its operation."""


class GovernanceStateError(LifecycleError, RuntimeError):
    """The chain refuses the operation (state, unknown key, proposal already executed, ...)."""
