"""Errors raised by :mod:`qcchain_model` (each also inherits the matching built-in)."""

from __future__ import annotations


class ModelError(Exception):
    """Base of every error raised by :mod:`qcchain_model`."""


class InvalidCreditCode(ModelError, ValueError):
    """A unified social credit code (GB 32100-2015) is malformed or has a wrong check character."""


class SchemaViolations(ModelError, ValueError):
    """A record breaks its category's JSON Schema (or the category is unknown).

    ``violations`` lists every problem as :class:`qcchain_model.tables.Violation` (JSON path + reason,
    never the submitted value); ``str()`` joins them in one line.
    """

    def __init__(self, message: str, violations: list) -> None:  # list[Violation]; typed loosely to avoid a cycle
        super().__init__(message)
        self.violations = violations


class InvalidProof(ModelError, ValueError):
    """A Merkle inclusion proof is malformed or does not lead to the expected root."""


class UnknownGrade(ModelError, ValueError):
    """A data grade is not one of L1..L4."""
