"""Typed client of the ``grading`` contract (``grading:decide``, ``grading:categories``)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ..contractlike import ContractLike

log = logging.getLogger(__name__)

__all__ = ["GradingClient", "Decision"]


@dataclass(frozen=True)
class Decision:
    """A grading decision: grade floor, audiences and the rules that produced it."""

    category: str
    grade: str
    audiences: tuple[str, ...]
    reason: str


class GradingClient:
    """``grading`` contract of the ``qcchain`` chaincode (evaluate only).

    Errors of the gateway stages propagate unchanged (``qcchain_gateway.errors``).
    """

    def __init__(self, contract: ContractLike) -> None:
        self._contract = contract

    def _evaluate(self, fn: str, *args: str) -> Any:
        return json.loads(self._contract.evaluate_transaction(f"grading:{fn}", *args))

    def decide(self, category: str, sender_role: str, exec_type: str, receiver_role: str | None = None) -> Decision:
        """The grade floor of ``category`` on a route. Raises EndorseError on refusal (unknown category...)."""
        raw = self._evaluate("decide", category, sender_role, receiver_role or "", exec_type)
        return Decision(raw["category"], raw["grade"], tuple(raw["audiences"]), raw["reason"])

    def categories(self) -> list[dict[str, Any]]:
        """Every category with group, base grade, reference, senders and placement."""
        result: list[dict[str, Any]] = self._evaluate("categories")
        return result
