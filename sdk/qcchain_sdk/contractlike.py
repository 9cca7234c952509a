"""What the SDK's typed clients need of a contract: the one ``Evaluator`` / ``ContractLike`` protocol.

A :class:`qcchain_gateway.contract.Contract` satisfies both; so do the test doubles over a mock ledger.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ContractLike", "Evaluator"]


class Evaluator(Protocol):
    """Anything that evaluates transactions (reads): the auditor and the verifiers need no more."""

    def evaluate_transaction(self, name: str, *args: str | bytes) -> bytes: ...


class ContractLike(Evaluator, Protocol):
    """A contract on a channel that evaluates and submits transactions.

    ``evaluate_transaction`` raises :class:`qcchain_gateway.errors.EvaluateError` (a typed subtype such as
    :class:`~qcchain_gateway.errors.NotFoundError` when the chaincode answered that status);
    ``submit_transaction`` raises the endorse / submit / commit errors of :mod:`qcchain_gateway.errors`.
    """

    channel: str

    def submit_transaction(self, name: str, *args: str | bytes, **options: Any) -> bytes: ...
