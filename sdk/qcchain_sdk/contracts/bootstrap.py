"""Bootstrap a fresh consortium channel so people can act as each role: the members and policies
(``governance:bootstrap``, by the regulator), each org admin's SM2 key registered with proof of
possession, and the chaincode and its ``records`` contract deployed through majority governance — the
first three steps of the demo's story, without the rest.
"""

from __future__ import annotations

import json
import logging

from .story import Story, StoryConfig, StoryOrg

log = logging.getLogger(__name__)

__all__ = ["already_bootstrapped", "bootstrap_consortium"]


def already_bootstrapped(org: StoryOrg) -> bool:
    """Whether the channel already has consortium members (then bootstrap must not run again).

    Raises:
        qcchain_gateway.errors.EvaluateError: the read failed for another reason than "no members yet".
    """
    from qcchain_gateway.errors import EvaluateError

    try:
        return bool(json.loads(org.contract("governance").evaluate_transaction("members")))
    except EvaluateError as exc:
        if exc.chaincode_status in (404, 403):  # not bootstrapped: no members / nobody is a member
            return False
        raise


def bootstrap_consortium(orgs: dict[str, StoryOrg], config: StoryConfig) -> list[str]:
    """Members + policies, every org admin's key (``org.key``) registered, ``qcchain`` and ``records``
    deployed (version 1, ``config.package_digests[0]``) with the majority's signatures. Returns the step log.

    Raises:
        StoryError: a step did not hold (its name first).
        qcchain_gateway.errors.GatewayError: a transaction was refused.
    """
    story = Story(orgs, config)
    story.members()
    story.keys()
    digest = config.package_digests[0]
    story.govern("deploy", story.majority, version="1", package_digest=digest)
    story.govern("deploy", story.majority, contract="records", version="1", package_digest=digest)
    log.info("consortium bootstrapped: %d orgs", len(orgs))
    result: list[str] = story.steps
    return result
