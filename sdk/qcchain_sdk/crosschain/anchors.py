"""A source network's trust-anchor document, read from its channel config block (block 0 or the last
config block): member and orderer MSPs (root + intermediate certificates, CRLs) and the chaincode's
endorsement policy, in the shape ``qcchain_contracts.fabricproof.load_anchors`` takes.

Implicit-meta endorsement rules (``MAJORITY Endorsement``, ``ANY``, ``ALL``) are made explicit over the
channel's application orgs (``OutOf(k, 'MSP.peer', ...)``) as they stand in that config: an explicit policy
is what the receiving chain's governance approves.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fabric_protos.common import common_pb2, configtx_pb2
from fabric_protos.msp import msp_config_pb2

from ..errors import AppError

log = logging.getLogger(__name__)

__all__ = ["AnchorError", "config_msps", "explicit_policy", "source_document"]

_IMPLICIT = re.compile(r"^(MAJORITY|ANY|ALL)\s+Endorsement$")


class AnchorError(AppError, ValueError):
    """A config block or endorsement policy cannot be turned into trust anchors."""


def _msp(group: Any) -> tuple[str, dict[str, list[str]]]:
    value = group.values.get("MSP")
    if value is None:
        raise AnchorError("an org group of the config block has no MSP value")
    fabric = msp_config_pb2.FabricMSPConfig.FromString(msp_config_pb2.MSPConfig.FromString(value.value).config)
    return fabric.name, {"root_certs": [c.decode("ascii") for c in fabric.root_certs],
                         "intermediate_certs": [c.decode("ascii") for c in fabric.intermediate_certs],
                         "crls": [c.decode("ascii") for c in fabric.revocation_list]}


def config_msps(config_block: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(application MSPs, orderer MSPs) of a config block, each ``{msp_id: {root_certs, intermediate_certs,
    crls}}``.

    Raises:
        AnchorError: not a config block.
    """
    try:
        block = common_pb2.Block.FromString(config_block)
        env = common_pb2.Envelope.FromString(block.data.data[0])
        payload = common_pb2.Payload.FromString(env.payload)
        root = configtx_pb2.ConfigEnvelope.FromString(payload.data).config.channel_group
    except Exception as exc:  # noqa: BLE001 - any decode failure
        raise AnchorError("the block is not a channel config block") from exc
    app = dict(_msp(g) for _n, g in sorted(root.groups["Application"].groups.items()))
    orderer = dict(_msp(g) for _n, g in sorted(root.groups["Orderer"].groups.items())) if "Orderer" in root.groups else {}
    return app, orderer


def explicit_policy(rule: str, msp_ids: list[str]) -> str:
    """A signature policy for ``rule``: an implicit-meta rule over ``msp_ids`` made explicit, else unchanged."""
    match = _IMPLICIT.match(rule.strip())
    if match is None:
        return rule
    n = len(msp_ids)
    k = {"MAJORITY": n // 2 + 1, "ANY": 1, "ALL": n}[match[1]]
    return f"OutOf({k}, " + ", ".join(f"'{m}.peer'" for m in sorted(msp_ids)) + ")"


def source_document(config_block: bytes, channel: str, chaincode: str, endorsement_rule: str,
                    orderer_signatures: int = 1) -> dict[str, Any]:
    """The trust-anchor document of ``channel``/``chaincode`` from its config block.

    Raises:
        AnchorError: not a config block, or it has no orderer org.
    """
    app, orderer = config_msps(config_block)
    if not orderer:
        raise AnchorError("the config block has no Orderer group: block signatures cannot be anchored")
    return {"channel": channel, "chaincode": chaincode, "msps": app, "orderer_msps": orderer,
            "endorsement_policy": explicit_policy(endorsement_rule, sorted(app)),
            "orderer_signatures": orderer_signatures}
