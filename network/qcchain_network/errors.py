"""Errors of network derivation, rendering and operation (each also inherits the matching built-in).

The consortium model's own errors (:class:`NetworkError`, :class:`Problem`, :class:`ConsortiumError`,
:class:`ConsortiumFileNotFound`, :class:`PolicySyntaxError`) are defined in :mod:`qcchain_consortium.errors`
and handed on here, so one ``except NetworkError`` catches both.
"""

from __future__ import annotations

from qcchain_consortium.errors import (
    ConsortiumError,
    ConsortiumFileNotFound,
    NetworkError,
    PolicySyntaxError,
    Problem,
)

__all__ = ["NetworkError", "Problem", "ConsortiumError", "ConsortiumFileNotFound", "PolicySyntaxError", "RenderError",
           "BinaryNotFound", "CertificateError", "RegistryError"]


class RenderError(NetworkError, OSError):
    """Generated files cannot be written (names the path)."""


class BinaryNotFound(NetworkError, FileNotFoundError):
    """A Fabric binary is neither in ``FABRIC_BIN`` nor on ``PATH``."""


class CertificateError(NetworkError, ValueError):
    """A certificate file cannot be read or parsed (names the file)."""


class RegistryError(NetworkError, RuntimeError):
    """The on-chain node registry refused or could not be asked (names the node and what to do)."""
