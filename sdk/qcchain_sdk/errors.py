"""Errors raised by the qcchain application SDK (typed contract clients, node records, lifecycle tools).

Errors of the Fabric Gateway client itself live in :mod:`qcchain_gateway.errors`; every error here also
inherits the matching built-in.
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error raised by :mod:`qcchain_sdk`."""


class NodeError(AppError, ValueError):
    """A node record cannot be built or a node proposal is malformed (unparsable certificate, bad kind or id)."""
