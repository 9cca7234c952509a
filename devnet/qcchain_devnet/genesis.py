"""Block 0 of a devnet channel: a minimal but well-formed config block (``common.ConfigEnvelope``).

The channel group holds the Application group with one group per member org whose ``MSP`` value is a
``FabricMSPConfig`` (name, root and TLS root certificates), plus the Orderer org when known, the
hashing values and the V3_0 capability, the shape ``configtxgen -outputBlock`` produces.
"""

from __future__ import annotations

import os

from fabric_protos.common import common_pb2, configtx_pb2, configuration_pb2
from fabric_protos.msp import msp_config_pb2

from .model import ChannelDef, NodeConfig, OrgIdentity
from .protoutil import block_data_hash, timestamp_now

__all__ = ["genesis_block"]


def _value(msg: object, mod_policy: str = "Admins") -> configtx_pb2.ConfigValue:
    return configtx_pb2.ConfigValue(value=msg.SerializeToString(), mod_policy=mod_policy)  # type: ignore[attr-defined]


def _org_group(org: OrgIdentity) -> configtx_pb2.ConfigGroup:
    fabric_msp = msp_config_pb2.FabricMSPConfig(name=org.msp_id, root_certs=list(org.ca_certs),
                                                tls_root_certs=list(org.tls_ca_certs))
    msp = msp_config_pb2.MSPConfig(type=0, config=fabric_msp.SerializeToString())
    return configtx_pb2.ConfigGroup(values={"MSP": _value(msp)}, mod_policy="Admins")


def genesis_block(config: NodeConfig, channel: ChannelDef) -> common_pb2.Block:
    """The genesis config block of ``channel`` (number 0, empty previous hash)."""
    caps = configuration_pb2.Capabilities(capabilities={"V3_0": configuration_pb2.Capability()})
    app = configtx_pb2.ConfigGroup(
        groups={o.name: _org_group(o) for o in config.orgs if o.msp_id in channel.members},
        values={"Capabilities": _value(caps)}, mod_policy="Admins")
    groups = {"Application": app}
    if config.orderer is not None:
        groups["Orderer"] = configtx_pb2.ConfigGroup(groups={config.orderer.name: _org_group(config.orderer)},
                                                     mod_policy="Admins")
    root = configtx_pb2.ConfigGroup(groups=groups, mod_policy="Admins", values={
        "HashingAlgorithm": _value(configuration_pb2.HashingAlgorithm(name="SHA256")),
        "BlockDataHashingStructure": _value(configuration_pb2.BlockDataHashingStructure(width=4294967295)),
        "Capabilities": _value(caps)})
    cfg_env = configtx_pb2.ConfigEnvelope(config=configtx_pb2.Config(sequence=0, channel_group=root))
    chdr = common_pb2.ChannelHeader(type=common_pb2.CONFIG, channel_id=channel.name, timestamp=timestamp_now())
    shdr = common_pb2.SignatureHeader(nonce=os.urandom(24))
    payload = common_pb2.Payload(header=common_pb2.Header(channel_header=chdr.SerializeToString(),
                                                          signature_header=shdr.SerializeToString()),
                                 data=cfg_env.SerializeToString())
    block = common_pb2.Block()
    block.header.number = 0
    block.data.data.append(common_pb2.Envelope(payload=payload.SerializeToString()).SerializeToString())
    block.header.data_hash = block_data_hash(block.data)
    meta = common_pb2.Metadata(value=common_pb2.OrdererBlockMetadata(
        last_config=common_pb2.LastConfig(index=0)).SerializeToString()).SerializeToString()
    block.metadata.metadata.extend([meta, b"", bytes([0]), b"", b""])
    return block
