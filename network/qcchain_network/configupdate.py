"""Channel configuration updates that add or remove a consenter (etcdraft or BFT), the official route.

Pure part: edit the decoded ``common.Config`` JSON (``configtxlator proto_decode``): the consenter set
(etcdraft: ``Orderer.values.ConsensusType.value.metadata.consenters``; BFT in Fabric v3:
``Orderer.values.Orderers.value.consenter_mapping``) and the orderer org's ``Endpoints``. Fabric tools
part: fetch the latest config block as the orderer org admin (``peer channel fetch config``), then
``configtxlator proto_encode`` both configs, ``compute_update``, wrap it in an envelope, and submit it
with ``peer channel update`` (signed by the orderer org admin, which satisfies the Orderer group's
``Admins`` = MAJORITY Admins mod_policy of a single orderer org) — as fabric-samples' test-network
scripts and Fabric's "Adding or removing orderers" documentation do.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import admin
from .derive import Layout, OrdererNode
from .errors import NetworkError

log = logging.getLogger(__name__)

MINIMUM = {"etcdraft": 3, "BFT": 4}  # consenters below which crash / Byzantine fault tolerance is lost


class ConfigUpdateError(NetworkError, ValueError):
    """The channel config cannot be changed as asked (names the channel / node and why)."""


class BelowMinimum(ConfigUpdateError):
    """Removing the consenter would leave fewer than the consensus type's fault-tolerance minimum."""


@dataclass(frozen=True)
class Consenter:
    """One consenter of a channel, as its config lists it."""

    host: str
    port: int
    tls_cert_pem: bytes
    id: int = 0  # BFT only
    identity_pem: bytes = b""  # BFT only

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


def _orderer_group(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(config["channel_group"]["groups"]["Orderer"])
    except (KeyError, TypeError):
        raise ConfigUpdateError("not a channel config: no channel_group.groups.Orderer") from None


def consensus_type(config: dict[str, Any]) -> str:
    """``etcdraft`` or ``BFT``.

    Raises:
        ConfigUpdateError: another consensus type, or not a channel config.
    """
    kind = _orderer_group(config).get("values", {}).get("ConsensusType", {}).get("value", {}).get("type")
    if kind not in MINIMUM:
        raise ConfigUpdateError(f"consensus type {kind!r} is not supported (etcdraft or BFT)")
    return str(kind)


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode("ascii")


def _list(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The mutable consenter list inside ``config``."""
    values = config["channel_group"]["groups"]["Orderer"]["values"]
    if consensus_type(config) == "etcdraft":
        return list(values["ConsensusType"]["value"]["metadata"]["consenters"])
    return list(values["Orderers"]["value"]["consenter_mapping"])


def _set_list(config: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Set the consenters (BFT: and the BlockValidation policy that must match them)."""
    orderer = config["channel_group"]["groups"]["Orderer"]
    if consensus_type(config) == "etcdraft":
        orderer["values"]["ConsensusType"]["value"]["metadata"]["consenters"] = items
    else:
        orderer["values"]["Orderers"]["value"]["consenter_mapping"] = items
        policy = orderer.setdefault("policies", {}).setdefault("BlockValidation", {"mod_policy": "Admins"})
        policy["policy"] = {"type": 1, "value": bft_block_validation(items)}


def bft_quorum(n: int) -> int:
    """SmartBFT quorum of ``n`` consenters: ceil((n + f + 1) / 2) with f = (n - 1) // 3 (Fabric's
    ``ComputeBFTQuorum``)."""
    f = (n - 1) // 3
    return (n + f + 2) // 2


def bft_block_validation(mapping: list[dict[str, Any]]) -> dict[str, Any]:
    """The Orderer group's ``BlockValidation`` signature policy a BFT channel must carry for its consenter
    mapping (Fabric's ``EncodeBFTBlockVerificationPolicy``): quorum-out-of-n signatures of the consenters'
    identities, in mapping order; the orderer refuses a config update whose policy differs."""
    identities = [{"principal": {"id_bytes": c["identity"], "mspid": c["msp_id"]},
                   "principal_classification": "IDENTITY"} for c in mapping]
    rules = [{"signed_by": i} for i in range(len(mapping))]
    return {"identities": identities, "rule": {"n_out_of": {"n": bft_quorum(len(mapping)), "rules": rules}},
            "version": 0}


def consenters(config: dict[str, Any]) -> list[Consenter]:
    """The channel's consenters in config order.

    Raises:
        ConfigUpdateError: not a channel config of a supported consensus type.
    """
    out = []
    for item in _list(config):
        out.append(Consenter(item["host"], int(item["port"]), base64.b64decode(item["server_tls_cert"]),
                             int(item.get("id", 0)), base64.b64decode(item.get("identity", ""))))
    return out


def endpoints(config: dict[str, Any], org_msp: str) -> list[str]:
    """The orderer org's ``Endpoints`` addresses (empty when it has none)."""
    org = _orderer_group(config).get("groups", {}).get(org_msp, {})
    return list(org.get("values", {}).get("Endpoints", {}).get("value", {}).get("addresses", []))


def _set_endpoints(config: dict[str, Any], org_msp: str, addresses: list[str]) -> None:
    groups = config["channel_group"]["groups"]["Orderer"].get("groups", {})
    if org_msp not in groups:
        raise ConfigUpdateError(f"the channel config has no orderer org {org_msp!r}")
    values = groups[org_msp].setdefault("values", {})
    entry = values.setdefault("Endpoints", {"mod_policy": "Admins", "value": {}, "version": "0"})
    entry["value"]["addresses"] = addresses


def add_consenter(config: dict[str, Any], org_msp: str, host: str, port: int, tls_cert_pem: bytes,
                  identity_pem: bytes = b"") -> dict[str, Any]:
    """A copy of ``config`` with one more consenter (BFT: next id, ``identity`` = its signing cert) and its
    address in the orderer org's endpoints (pure).

    Raises:
        ConfigUpdateError: the address or TLS certificate is already a consenter; BFT without identity.
    """
    new = copy.deepcopy(config)
    kind = consensus_type(new)
    current = consenters(new)
    address = f"{host}:{port}"
    if any(c.address == address or c.tls_cert_pem == tls_cert_pem for c in current):
        raise ConfigUpdateError(f"{address} (or its TLS certificate) is already a consenter")
    item: dict[str, Any] = {"host": host, "port": port, "client_tls_cert": _b64(tls_cert_pem),
                            "server_tls_cert": _b64(tls_cert_pem)}
    if kind == "BFT":
        if not identity_pem:
            raise ConfigUpdateError("a BFT consenter needs its signing (identity) certificate")
        item.update(id=max((c.id for c in current), default=0) + 1, msp_id=org_msp, identity=_b64(identity_pem))
    _set_list(new, _list(new) + [item])
    addresses = endpoints(new, org_msp)
    if address not in addresses:
        _set_endpoints(new, org_msp, addresses + [address])
    return new


def remove_consenter(config: dict[str, Any], org_msp: str, host: str, port: int) -> dict[str, Any]:
    """A copy of ``config`` without the consenter at ``host:port`` and its endpoint (pure).

    Raises:
        ConfigUpdateError: no such consenter. BelowMinimum: fewer than the fault-tolerance minimum would
        remain (raft 3, BFT 4).
    """
    new = copy.deepcopy(config)
    kind = consensus_type(new)
    address = f"{host}:{port}"
    items = _list(new)
    kept = [i for i in items if f"{i['host']}:{i['port']}" != address]
    if len(kept) == len(items):
        raise ConfigUpdateError(f"{address} is not a consenter of this channel")
    check_minimum(kind, len(kept))
    _set_list(new, kept)
    _set_endpoints(new, org_msp, [a for a in endpoints(new, org_msp) if a != address])
    return new


def check_minimum(kind: str, remaining: int) -> None:
    """Raises BelowMinimum when ``remaining`` consenters are below the minimum of ``kind``."""
    need = MINIMUM[kind]
    if remaining < need:
        what = "crash" if kind == "etcdraft" else "Byzantine"
        raise BelowMinimum(f"refused: removing it would leave {remaining} {kind} consenter(s); at least {need} "
                           f"are needed to tolerate one {what} fault")


# ----------------------------------------------------------------- Fabric tools (configtxlator, peer)
def orderer_admin_env(layout: Layout) -> dict[str, str]:
    """``peer`` CLI environment acting as the orderer org's Admin (for fetch config and channel update)."""
    dom = layout.consortium.orderer.domain
    return {"FABRIC_CFG_PATH": str(layout.out / "config"), "FABRIC_LOGGING_SPEC": "warning",
            "CORE_PEER_LOCALMSPID": layout.consortium.orderer.msp_id,
            "CORE_PEER_MSPCONFIGPATH": str(layout.orderer_org_dir / "users" / f"Admin@{dom}" / "msp"),
            "CORE_PEER_TLS_ENABLED": "true"}


def _translate(bins: dict[str, Path], verb: str, msg_type: str, src: Path, dst: Path) -> None:
    admin.run_tool([str(bins["configtxlator"]), verb, "--type", msg_type, "--input", str(src), "--output", str(dst)])


def fetch_config(layout: Layout, bins: dict[str, Path], channel: str, via: OrdererNode,
                 block_file: Path) -> tuple[dict[str, Any], int]:
    """The channel's current config (decoded ``common.Config``) and the number of its latest config block,
    which is written to ``block_file``.

    Raises:
        ToolError: ``peer channel fetch`` or ``configtxlator`` failed.
    """
    admin.run_tool([str(bins["peer"]), "channel", "fetch", "config", str(block_file), "-c", channel]
                   + admin.orderer_args(layout, via), env=orderer_admin_env(layout))
    decoded = block_file.with_suffix(".json")
    _translate(bins, "proto_decode", "common.Block", block_file, decoded)
    block = json.loads(decoded.read_text(encoding="utf-8"))
    config = block["data"]["data"][0]["payload"]["data"]["config"]
    return config, int(block["header"]["number"])


def submit_update(layout: Layout, bins: dict[str, Path], channel: str, via: OrdererNode,
                  original: dict[str, Any], modified: dict[str, Any], env: dict[str, str] | None = None) -> None:
    """Compute the config update from ``original`` to ``modified`` and submit it, signed by the orderer
    org admin (or the identity ``env`` sets up for the ``peer`` CLI, e.g. a member org's admin).

    Raises:
        ToolError: a configtxlator step or ``peer channel update`` failed (e.g. the orderer refused it).
    """
    with tempfile.TemporaryDirectory(prefix="cfgupd-") as tmp:
        work = Path(tmp)
        for name, doc in (("original", original), ("modified", modified)):
            (work / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
            _translate(bins, "proto_encode", "common.Config", work / f"{name}.json", work / f"{name}.pb")
        admin.run_tool([str(bins["configtxlator"]), "compute_update", "--channel_id", channel, "--original",
                        str(work / "original.pb"), "--updated", str(work / "modified.pb"), "--output",
                        str(work / "update.pb")])
        _translate(bins, "proto_decode", "common.ConfigUpdate", work / "update.pb", work / "update.json")
        update = json.loads((work / "update.json").read_text(encoding="utf-8"))
        envelope = {"payload": {"header": {"channel_header": {"channel_id": channel, "type": 2}},
                                "data": {"config_update": update}}}
        (work / "envelope.json").write_text(json.dumps(envelope), encoding="utf-8")
        _translate(bins, "proto_encode", "common.Envelope", work / "envelope.json", work / "envelope.pb")
        try:
            admin.run_tool([str(bins["peer"]), "channel", "update", "-f", str(work / "envelope.pb"), "-c", channel]
                           + admin.orderer_args(layout, via), env=env or orderer_admin_env(layout))
        except admin.ToolError as exc:  # the orderer's reason may quote whole policies: keep the head
            text = " ".join(str(exc).split())
            raise admin.ToolError(f"config update of {channel} refused: {text[:400]}"
                                  f"{'…' if len(text) > 400 else ''}") from None
    log.info("config update submitted on %s", channel)
