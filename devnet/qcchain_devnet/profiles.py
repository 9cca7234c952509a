"""Connection profiles and ``devnet.json`` written by the devnet.

One Fabric common connection profile per member org (fabric-samples ``connection-org1.json`` shape plus
identity paths, exactly the format of docs/INTERFACES.md "Connection profile") at
``<dir>/connection-profiles/connection-<org lower-case>.json``. Every peer of the devnet is served on
the one gateway endpoint, so each peer entry has the same ``url`` and the devnet TLS CA as
``tlsCACerts``; ``ssl-target-name-override`` keeps the peer's own host name (covered by the devnet
server certificate's SANs).

``<dir>/devnet.json`` describes the running devnet: endpoint, TLS CA, channels, chaincodes, PID.

:func:`node_config` gives the devnet core its view of the same config and material
(``qcchain_devnet.model.NodeConfig``: org CA certs, each org's peer signing identity, TLS pair).

Profiles are derived data: they are rewritten at every start (the port may change); crypto material is
never touched here.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from .config import (ConfigError, DevnetConfig, DevnetTLS, MaterialError, OrgConfig, orderer_org_dir,
                     user_msp_dir)

log = logging.getLogger(__name__)

__all__ = ["profile_path", "build_profile", "write_profiles", "write_devnet_json", "read_devnet_json",
           "node_config", "DEVNET_JSON"]

DEVNET_JSON = "devnet.json"


def profile_path(state_dir: Path, org_name: str) -> Path:
    """``<dir>/connection-profiles/connection-<org lower-case>.json``."""
    return state_dir / "connection-profiles" / f"connection-{org_name.lower()}.json"


def _write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON to ``path`` through a temporary sibling, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_profile(config: DevnetConfig, org: OrgConfig, crypto_dir: Path, tls_ca_pem: str) -> dict[str, Any]:
    """The connection profile of ``org`` (a dict in the INTERFACES.md format)."""
    scheme = "grpcs" if config.tls else "grpc"
    users = ["Admin", *(f"User{i}" for i in range(1, org.users + 1))]
    peers: dict[str, Any] = {}
    for host in org.peer_hosts:
        entry: dict[str, Any] = {"url": f"{scheme}://{config.host}:{config.port}",
                                 "grpcOptions": {"ssl-target-name-override": host, "hostnameOverride": host}}
        if config.tls:
            entry["tlsCACerts"] = {"pem": tls_ca_pem}
        peers[host] = entry
    channels = {ch.name: {"peers": {host: {} for host in org.peer_hosts},
                          "chaincodes": [cc.name for cc in ch.chaincodes]}
                for ch in config.channels if org.name in ch.members or org.msp_id in ch.members}
    return {
        "name": f"qcchain-devnet-{org.name.lower()}",
        "version": "1.0.0",
        "client": {"organization": org.name},
        "organizations": {org.name: {
            "mspid": org.msp_id,
            "peers": list(org.peer_hosts),
            "users": {u: {"mspConfigPath": str(user_msp_dir(crypto_dir.resolve(), org.domain, u))}
                      for u in users},
        }},
        "peers": peers,
        "channels": channels,
    }


def write_profiles(state_dir: Path, config: DevnetConfig, crypto_dir: Path, tls: DevnetTLS) -> list[Path]:
    """Write one connection profile per member org; return their paths.

    Raises:
        OSError: the profiles directory cannot be written.
    """
    tls_ca_pem = tls.ca_cert.read_text(encoding="ascii") if config.tls else ""
    paths = []
    for org in config.orgs:
        path = profile_path(state_dir, org.name)
        _write_json_atomic(path, build_profile(config, org, crypto_dir, tls_ca_pem))
        paths.append(path)
    log.debug("wrote %d connection profiles", len(paths))
    return paths


def write_devnet_json(state_dir: Path, config: DevnetConfig, tls: DevnetTLS, pid: int | None,
                      extra: dict[str, Any] | None = None) -> Path:
    """Write ``<dir>/devnet.json`` (endpoint, TLS CA path, channels, chaincodes, PID, profiles).

    Raises:
        OSError: the file cannot be written.
    """
    info = config.to_dict()
    info.update({
        "runtime": "devnet (development runtime: no consensus, one process; production runs on Fabric)",
        "pid": pid,
        "url": f"{'grpcs' if config.tls else 'grpc'}://{config.host}:{config.port}",
        "tls_ca_cert": str(tls.ca_cert.resolve()) if config.tls else None,
        "connection_profiles": {org.name: str(profile_path(state_dir, org.name).resolve())
                                for org in config.orgs},
    })
    info.update(extra or {})
    path = state_dir / DEVNET_JSON
    _write_json_atomic(path, info)
    return path


def read_devnet_json(state_dir: Path) -> dict[str, Any] | None:
    """The content of ``<dir>/devnet.json``, or None if absent or unreadable."""
    try:
        value = json.loads((state_dir / DEVNET_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# ----------------------------------------------------------------------------- the core's view

def _msp_ids(config: DevnetConfig, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(config.org(n).msp_id for n in names)


def _first_pem(directory: Path) -> bytes:
    files = sorted(directory.glob("*.pem"))
    if not files:
        raise MaterialError(f"no certificate in {directory}")
    return files[0].read_bytes()


def _identity(name: str, msp_id: str, org_msp: Path, node_msp: Path, host: str) -> Any:
    from .model import OrgIdentity

    return OrgIdentity(name=name, msp_id=msp_id, ca_certs=(_first_pem(org_msp / "cacerts"),),
                       tls_ca_certs=(_first_pem(org_msp / "tlscacerts"),),
                       peer_cert=_first_pem(node_msp / "signcerts"),
                       peer_key=(node_msp / "keystore" / "priv_sk").read_bytes(), peer_host=host)


def node_config(config: DevnetConfig) -> Any:
    """The devnet core's ``model.NodeConfig``: org identities (CA certs, peer0's signing identity),
    channels with MSP-ID members, chaincodes with their CCaaS address and package id, TLS pair.

    Raises:
        ConfigError: the material location is not set, or a channel names an unknown org.
        MaterialError: a certificate or key file is missing.
    """
    from .model import ChaincodeDef, ChannelDef, CollectionDef, NodeConfig

    if config.crypto_dir is None:
        raise ConfigError("crypto material location not set (call with_material first)")
    try:
        orgs = tuple(_identity(o.name, o.msp_id, config.org_msp_dir(o), config.peer_msp_dir(o), o.peer_hosts[0])
                     for o in config.orgs)
        od = orderer_org_dir(config.crypto_dir, config.orderer.domain)
        host = config.orderer.node_hosts[0]
        orderer = _identity(config.orderer.name, config.orderer.msp_id, od / "msp", od / "orderers" / host / "msp",
                            host)
        tls_cert = config.tls_files.cert.read_bytes() if config.tls and config.tls_files else None
        tls_key = config.tls_files.key.read_bytes() if config.tls and config.tls_files else None
    except OSError as exc:
        raise MaterialError(f"crypto material incomplete: {exc}") from exc
    channels = tuple(ChannelDef(name=ch.name, members=_msp_ids(config, ch.members), chaincodes=tuple(
        ChaincodeDef(name=cc.name, endorsement_policy=cc.endorsement_policy, version=cc.version,
                     address=config.chaincode_addresses.get(cc.name, ""),
                     package_id=config.package_ids.get(cc.name, ""),
                     collections=tuple(CollectionDef(name=c.name, members=_msp_ids(config, c.members),
                                                     member_only_read=c.member_only_read,
                                                     member_only_write=c.member_only_write)
                                       for c in cc.collections))
        for cc in ch.chaincodes)) for ch in config.channels)
    return NodeConfig(orgs=orgs, channels=channels, host=config.host, port=config.port, tls_cert=tls_cert,
                      tls_key=tls_key, orderer=orderer)
