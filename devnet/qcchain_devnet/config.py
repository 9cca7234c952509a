"""The devnet's configuration, derived from the consortium description.

The consortium file (``network/consortium.yaml``, loaded by :func:`qcchain_consortium.consortium.load_consortium`)
names the orgs, channels, chaincodes, endorsement policies and collections. The devnet serves all of
them from one process on one endpoint; this module turns the consortium into a :class:`DevnetConfig`
(pure, no I/O except reading the consortium) that the crypto-material generator, the connection-profile
writer, the daemon and the devnet core (``qcchain_devnet.node.DevNet``) all read.

There is one consortium model in the distribution (``qcchain_consortium.consortium``); the dataclasses
here are the devnet's read-only view of it (host names, chaincode version, tuples) and the default is
the project's own ``network/consortium.yaml`` -- there is no built-in copy of the consortium.

Membership (issue 18): the consortium file plus the membership overlay ``<state dir>/orgs.json`` — the same
events a Fabric network keeps (:mod:`qcchain_consortium.orgoverlay`: join, leave, channel, channel-join),
folded in order by :func:`load_devnet_config` when the devnet starts. ``qcchain devnet add-org`` /
``remove-org`` append an event once governance decided it on chain and restart the devnet (ledgers kept),
so a joined org gets its MSP, crypto material, connection profile, channels and collection membership, and
a removed org's identities are refused by the channels' MSP check. Changes take a restart (a few seconds):
the devnet does not change its channels while it runs.

The errors raised by the devnet's outer shell (this module, ``material``, ``profiles``, ``daemon``) are
defined here too (``errors.py`` belongs to the devnet core); they derive from ``errors.DevnetError`` and
each also inherits the matching built-in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qcchain_consortium import orgoverlay
from qcchain_consortium.consortium import DEFAULT_PATH, CollectionDef, Consortium, load_consortium
from qcchain_consortium.errors import ConsortiumError, ConsortiumFileNotFound

from .errors import DevnetError

log = logging.getLogger(__name__)

__all__ = [
    "DevnetShellError", "ConfigError", "MaterialError", "DaemonError", "PortInUseError",
    "AlreadyRunningError", "OrgConfig", "OrdererConfig", "CollectionConfig", "ChaincodeConfig",
    "ChannelConfig", "DevnetConfig", "default_config", "config_from_consortium", "load_devnet_config",
    "load_consortium_with_overlay",
    "DEFAULT_PORT", "DEFAULT_HOST", "DevnetTLS", "crypto_dir_of", "peer_org_dir", "orderer_org_dir",
    "user_msp_dir", "peer_dir",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7051
CHAINCODE_VERSION_LABEL = "1.0"


class DevnetShellError(DevnetError):
    """Base of the errors raised by the devnet's outer shell (config, material, profiles, daemon)."""


class ConfigError(DevnetShellError, ValueError):
    """The consortium cannot be turned into a devnet configuration (names the offending item)."""


class MaterialError(DevnetShellError, ValueError):
    """Crypto material on disk is incomplete or inconsistent (names the offending file)."""


class DaemonError(DevnetShellError, RuntimeError):
    """The devnet process cannot be started, stopped or queried (names the reason)."""


class PortInUseError(DaemonError, OSError):
    """The requested TCP port is already taken on the loopback interface."""


class AlreadyRunningError(DaemonError):
    """A devnet already runs from the same state directory (its PID file names a live process)."""


def crypto_dir_of(state_dir: Path) -> Path:
    """Where the devnet keeps its crypto material: ``<state dir>/crypto-config``."""
    return state_dir / "crypto-config"


def peer_org_dir(crypto_dir: Path, domain: str) -> Path:
    """``<crypto>/peerOrganizations/<domain>``."""
    return crypto_dir / "peerOrganizations" / domain


def orderer_org_dir(crypto_dir: Path, domain: str) -> Path:
    """``<crypto>/ordererOrganizations/<domain>``."""
    return crypto_dir / "ordererOrganizations" / domain


def user_msp_dir(crypto_dir: Path, domain: str, user: str) -> Path:
    """The MSP dir of ``<user>@<domain>`` (``user`` is e.g. ``Admin`` or ``User1``)."""
    return peer_org_dir(crypto_dir, domain) / "users" / f"{user}@{domain}" / "msp"


def peer_dir(crypto_dir: Path, domain: str, host: str) -> Path:
    """The directory of peer ``host`` (holds ``msp/`` — its signing identity — and ``tls/``)."""
    return peer_org_dir(crypto_dir, domain) / "peers" / host


@dataclass(frozen=True)
class DevnetTLS:
    """The devnet's TLS files: its TLS CA certificate and the one server certificate and key."""

    ca_cert: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class OrgConfig:
    """A member org: its peers are ``peer<i>.<domain>``; users ``Admin@<domain>``, ``User1@<domain>``."""

    name: str
    msp_id: str
    role: str
    domain: str
    peers: int = 1
    users: int = 1

    @property
    def peer_hosts(self) -> list[str]:
        """Host names of the org's peers, ``peer0.<domain>`` first."""
        return [f"peer{i}.{self.domain}" for i in range(self.peers)]


@dataclass(frozen=True)
class OrdererConfig:
    """The orderer org (the devnet orders in-process; its material exists for layout parity)."""

    name: str = "Orderer"
    msp_id: str = "OrdererMSP"
    domain: str = "qcchain.example"
    nodes: int = 1

    @property
    def node_hosts(self) -> list[str]:
        """Host names of the orderer nodes (``orderer<i>.<domain>``; one node is ``orderer.<domain>``)."""
        if self.nodes == 1:
            return [f"orderer.{self.domain}"]
        return [f"orderer{i}.{self.domain}" for i in range(self.nodes)]


@dataclass(frozen=True)
class CollectionConfig:
    """A private data collection (fields as Fabric's ``StaticCollectionConfig``)."""

    name: str
    policy: str
    members: tuple[str, ...]
    required_peer_count: int = 0
    max_peer_count: int = 1
    block_to_live: int = 0
    member_only_read: bool = True
    member_only_write: bool = True


@dataclass(frozen=True)
class ChaincodeConfig:
    """A chaincode definition on a channel."""

    name: str
    endorsement_policy: str
    collections: tuple[CollectionConfig, ...] = ()
    version: str = CHAINCODE_VERSION_LABEL


@dataclass(frozen=True)
class ChannelConfig:
    """A channel: member org names and the chaincodes defined on it."""

    name: str
    members: tuple[str, ...]
    chaincodes: tuple[ChaincodeConfig, ...]


@dataclass(frozen=True)
class DevnetConfig:
    """Everything the devnet needs, independent of where its state lives.

    ``chaincode_addresses`` maps a chaincode name to the ``host:port`` of its CCaaS server and
    ``package_ids`` to its package id (``label:sha256hex``); both are filled in by the daemon once the
    chaincode servers run (see :meth:`with_chaincode_servers`). ``crypto_dir`` (cryptogen layout; each
    org's peer signing identity is ``peer_msp_dir(org)``) and ``tls_files`` (the devnet's TLS server
    pair; None when ``tls`` is off) are filled in once the material exists (:meth:`with_material`).
    """

    name: str
    orgs: tuple[OrgConfig, ...]
    orderer: OrdererConfig
    channels: tuple[ChannelConfig, ...]
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tls: bool = True
    chaincode_module: str = ""
    chaincode_addresses: dict[str, str] = field(default_factory=dict)
    package_ids: dict[str, str] = field(default_factory=dict)
    crypto_dir: Path | None = None
    tls_files: DevnetTLS | None = None

    def with_material(self, crypto_dir: Path, tls_files: DevnetTLS) -> DevnetConfig:
        """A copy that knows where the crypto material and the devnet TLS pair are."""
        return replace(self, crypto_dir=crypto_dir, tls_files=tls_files)

    def peer_msp_dir(self, org: OrgConfig, index: int = 0) -> Path:
        """The MSP dir (signing identity) of the org's ``index``-th peer.

        Raises:
            ConfigError: the material location is not known yet, or the org has no such peer.
        """
        if self.crypto_dir is None:
            raise ConfigError("crypto material location not set (call with_material first)")
        if not 0 <= index < org.peers:
            raise ConfigError(f"org {org.name!r} has no peer {index}")
        return peer_dir(self.crypto_dir, org.domain, org.peer_hosts[index]) / "msp"

    def org_msp_dir(self, org: OrgConfig) -> Path:
        """The org's verifying MSP dir (CA and TLS CA certs, NodeOUs config.yaml).

        Raises:
            ConfigError: the material location is not known yet.
        """
        if self.crypto_dir is None:
            raise ConfigError("crypto material location not set (call with_material first)")
        return peer_org_dir(self.crypto_dir, org.domain) / "msp"

    def org(self, name: str) -> OrgConfig:
        """The org called ``name`` (org name or MSP ID). Raises: ConfigError if there is none."""
        for org in self.orgs:
            if name in (org.name, org.msp_id):
                return org
        raise ConfigError(f"no org named {name!r} in the devnet consortium")

    def chaincode_names(self) -> list[str]:
        """Every chaincode name defined on any channel, sorted."""
        return sorted({cc.name for ch in self.channels for cc in ch.chaincodes})

    def with_endpoint(self, host: str, port: int) -> DevnetConfig:
        """A copy listening on ``host:port``."""
        return replace(self, host=host, port=port)

    def with_chaincode_servers(self, addresses: dict[str, str], package_ids: dict[str, str]) -> DevnetConfig:
        """A copy that knows where each chaincode server listens and its package id."""
        return replace(self, chaincode_addresses=dict(addresses), package_ids=dict(package_ids))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (orgs, channels, chaincodes, endpoint) for ``devnet.json``."""
        return {
            "name": self.name,
            "endpoint": f"{self.host}:{self.port}",
            "tls": self.tls,
            "orgs": [{"name": o.name, "mspid": o.msp_id, "role": o.role, "domain": o.domain,
                      "peers": o.peer_hosts} for o in self.orgs],
            "channels": {ch.name: {"members": list(ch.members),
                                   "chaincodes": {cc.name: {"endorsement_policy": cc.endorsement_policy,
                                                            "collections": [c.name for c in cc.collections]}
                                                  for cc in ch.chaincodes}}
                         for ch in self.channels},
            "chaincode_servers": {name: {"address": self.chaincode_addresses.get(name),
                                         "package_id": self.package_ids.get(name)}
                                  for name in self.chaincode_names()},
        }


def default_config() -> DevnetConfig:
    """The devnet configuration of the project's consortium (``network/consortium.yaml``).

    Raises:
        ConfigError: the project's consortium file is missing or invalid.
    """
    return load_devnet_config(DEFAULT_PATH)


def _collection(raw: CollectionDef) -> CollectionConfig:
    return CollectionConfig(
        name=str(raw.name), policy=str(raw.policy), members=tuple(str(m) for m in raw.members),
        required_peer_count=int(raw.required_peer_count), max_peer_count=int(raw.max_peer_count),
        block_to_live=int(raw.block_to_live), member_only_read=bool(raw.member_only_read),
        member_only_write=bool(raw.member_only_write))


def config_from_consortium(consortium: Consortium) -> DevnetConfig:
    """Derive a :class:`DevnetConfig` from a ``qcchain_consortium.consortium.Consortium``.

    Raises:
        ConfigError: the consortium lacks a field the devnet needs, has no org or channel, or a channel
            names an org that is not a member of the consortium.
    """
    try:
        orgs = tuple(OrgConfig(name=str(o.name), msp_id=str(o.msp_id), role=str(o.role),
                               domain=str(o.domain), peers=max(1, int(o.peers)))
                     for o in consortium.orgs)
        ord_org = consortium.orderer
        orderer = OrdererConfig(name=str(ord_org.name), msp_id=str(ord_org.msp_id),
                                domain=str(ord_org.domain))
        channels = tuple(ChannelConfig(
            name=str(ch.name), members=tuple(str(m) for m in ch.members),
            chaincodes=tuple(ChaincodeConfig(name=str(cc.name), endorsement_policy=str(cc.endorsement_policy),
                                             collections=tuple(_collection(c) for c in cc.collections))
                             for cc in ch.chaincodes))
            for ch in consortium.channels)
        name = str(consortium.name)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ConfigError(f"consortium cannot be used by the devnet: {exc}") from exc
    config = DevnetConfig(name=name, orgs=orgs, orderer=orderer, channels=channels)
    _check(config)
    return config


def _check(config: DevnetConfig) -> None:
    if not config.orgs:
        raise ConfigError("consortium has no member org")
    if not config.channels:
        raise ConfigError("consortium has no channel")
    names = {o.name for o in config.orgs} | {o.msp_id for o in config.orgs}
    for channel in config.channels:
        unknown = [m for m in channel.members if m not in names]
        if unknown:
            raise ConfigError(f"channel {channel.name!r} names unknown org(s): {', '.join(unknown)}")


def load_consortium_with_overlay(consortium_path: Path | None = None, state_dir: Path | None = None) -> Consortium:
    """The consortium file (None: the project's ``network/consortium.yaml``) with the membership overlay of
    ``state_dir`` (``orgs.json``, when there is one) folded in.

    Raises:
        ConfigError: the consortium file does not exist or is invalid, or the overlay is malformed or does
            not apply (the message names the problem).
    """
    try:
        consortium = load_consortium(consortium_path)
    except ConsortiumFileNotFound as exc:
        raise ConfigError(f"consortium file not found: {consortium_path or DEFAULT_PATH}") from exc
    except ConsortiumError as exc:
        raise ConfigError(f"invalid consortium: {exc}") from exc
    if state_dir is not None:
        try:
            consortium = orgoverlay.fold(consortium, orgoverlay.load(state_dir))
        except orgoverlay.OrgOverlayError as exc:
            raise ConfigError(f"membership overlay: {exc}") from exc
    return consortium


def load_devnet_config(consortium_path: Path | None = None, state_dir: Path | None = None) -> DevnetConfig:
    """The devnet configuration from a consortium file (None: the project's ``network/consortium.yaml``) and
    the membership overlay of ``state_dir`` (see :func:`load_consortium_with_overlay`).

    Raises:
        ConfigError: the consortium file does not exist or is invalid, or the overlay does not apply.
    """
    return config_from_consortium(load_consortium_with_overlay(consortium_path, state_dir))
