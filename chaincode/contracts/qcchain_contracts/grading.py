"""The ``Grading`` contract (``grading:decide``, ``grading:categories``, both evaluate): the on-chain
``"grading"`` policy at work. The rules themselves are in :mod:`qcchain_contracts.grading_rules`.
"""

from __future__ import annotations

import logging
from typing import Any

from qcchain_shim import Context, Contract, transaction

from .grading_rules import decide_grade, placement_of
from .lifecycle import require_serving
from .store.policies import get_policy

log = logging.getLogger(__name__)

__all__ = ["Grading"]


def _grading_policy(ctx: Context) -> dict[str, Any]:
    require_serving(ctx, "grading", False)
    policy: dict[str, Any] = get_policy(ctx.stub, "grading")
    return policy


class Grading(Contract):
    """``grading:decide`` and ``grading:categories`` (evaluate): the on-chain grading policy at work."""

    name = "grading"

    @transaction(evaluate=True)
    def decide(self, ctx: Context, category: str, sender_role: str, receiver_role: str, exec_type: str) -> dict:
        """Grade floor and audiences for a route (``receiver_role`` "" = none).

        Raises:
            InvalidInput, Forbidden: as :func:`decide_grade`. NotFound: no grading policy on chain.
            Destroyed: the grading contract was destroyed.
        """
        decision = decide_grade(_grading_policy(ctx), category, sender_role, receiver_role or None, exec_type)
        return {"category": category, "grade": decision.grade, "audiences": list(decision.audiences),
                "reason": decision.reason}

    @transaction(evaluate=True)
    def categories(self, ctx: Context) -> list:
        """Every category with its group, base grade, reference, senders and placement.

        Raises:
            NotFound: no grading policy on chain. Destroyed: the grading contract was destroyed.
        """
        policy = _grading_policy(ctx)
        return [{"category": name, "group": spec["group"], "base": spec["base"], "ref": spec.get("ref", ""),
                 "tx_code": spec.get("tx_code"), "senders": spec.get("senders"),
                 "placement": placement_of(policy, spec["base"])}
                for name, spec in sorted(policy["categories"].items())]
