"""Fabric common connection profiles (the JSON the devnet and the network generator write).

``load_profile(path)`` validates and returns a :class:`ConnectionProfile`; ``connect_profile(path,
user="Admin")`` opens the gRPC channel to the org's first peer (TLS root from ``tlsCACerts.pem`` or
``tlsCACerts.path``, ``ssl-target-name-override``) and loads the user's identity from its
``mspConfigPath``. Relative paths are resolved against the profile's directory.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcchain_gateway.connection import new_channel
from qcchain_gateway.errors import IdentityError, ProfileError
from qcchain_gateway.gateway import Gateway, connect
from qcchain_gateway.msp import load_identity

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeerProfile:
    """A peer endpoint: ``url`` (grpc:// or grpcs://), TLS root PEM, TLS server name override."""

    name: str
    url: str
    tls_ca_pem: bytes | None
    server_name_override: str | None

    @property
    def target(self) -> str:
        """``host:port`` without the scheme."""
        return self.url.split("://", 1)[-1]

    @property
    def tls(self) -> bool:
        """True for ``grpcs://`` URLs."""
        return self.url.startswith("grpcs://")


@dataclass(frozen=True)
class OrgProfile:
    """An organisation: MSP ID, its peers and its users' MSP directories."""

    name: str
    msp_id: str
    peers: list[str]
    users: dict[str, Path]


@dataclass(frozen=True)
class ConnectionProfile:
    """A parsed connection profile."""

    path: Path
    name: str
    organization: str
    organizations: dict[str, OrgProfile]
    peers: dict[str, PeerProfile]
    channels: dict[str, Any] = field(default_factory=dict)


def _require(mapping: Any, key: str, where: str, path: Path, kind: type = dict) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ProfileError(f"connection profile {path}: missing field {where}.{key}".replace(" .", " "))
    value = mapping[key]
    if not isinstance(value, kind) or (kind is str and not value):
        raise ProfileError(f"connection profile {path}: field {where}.{key} must be a non-empty {kind.__name__}")
    return value


def load_profile(path: str | Path) -> ConnectionProfile:
    """Read and validate the connection profile at ``path``.

    Raises:
        ProfileError: the file is missing or not JSON, or a needed field is missing/mistyped (named).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"connection profile {path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ProfileError(f"connection profile {path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProfileError(f"connection profile {path}: top level must be a JSON object")
    client_org = _require(_require(data, "client", "", path), "organization", "client", path, str)
    orgs = {n: _org(n, o, path) for n, o in _require(data, "organizations", "", path).items()}
    peers = {n: _peer(n, p, path) for n, p in _require(data, "peers", "", path).items()}
    if client_org not in orgs:
        raise ProfileError(f"connection profile {path}: client.organization {client_org!r} is not in organizations")
    for org in orgs.values():
        for peer in org.peers:
            if peer not in peers:
                raise ProfileError(f"connection profile {path}: organizations.{org.name}.peers names unknown peer {peer!r}")
    channels = data.get("channels", {})
    return ConnectionProfile(path, str(data.get("name", "")), client_org, orgs, peers, channels if isinstance(channels, dict) else {})


def _org(name: str, raw: Any, path: Path) -> OrgProfile:
    where = f"organizations.{name}"
    msp_id = _require(raw, "mspid", where, path, str)
    peers = _require(raw, "peers", where, path, list)
    users_raw = raw.get("users", {}) if isinstance(raw, dict) else {}
    users: dict[str, Path] = {}
    for user, entry in (users_raw or {}).items():
        msp_path = Path(_require(entry, "mspConfigPath", f"{where}.users.{user}", path, str))
        users[user] = msp_path if msp_path.is_absolute() else path.parent / msp_path
    return OrgProfile(name, msp_id, [str(p) for p in peers], users)


def _peer(name: str, raw: Any, path: Path) -> PeerProfile:
    where = f"peers.{name}"
    url = _require(raw, "url", where, path, str)
    if not url.startswith(("grpc://", "grpcs://")):
        raise ProfileError(f"connection profile {path}: {where}.url must start with grpc:// or grpcs://, got {url!r}")
    tls_pem: bytes | None = None
    tls = raw.get("tlsCACerts")
    if tls is not None:
        if isinstance(tls, dict) and isinstance(tls.get("pem"), str) and tls["pem"]:
            tls_pem = tls["pem"].encode()
        elif isinstance(tls, dict) and isinstance(tls.get("path"), str) and tls["path"]:
            ca_path = Path(tls["path"]) if Path(tls["path"]).is_absolute() else path.parent / tls["path"]
            try:
                tls_pem = ca_path.read_bytes()
            except OSError as exc:
                raise ProfileError(f"connection profile {path}: {where}.tlsCACerts.path {ca_path}: cannot read: {exc.strerror}") from exc
        else:
            raise ProfileError(f"connection profile {path}: {where}.tlsCACerts needs 'pem' or 'path'")
    if url.startswith("grpcs://") and tls_pem is None:
        raise ProfileError(f"connection profile {path}: missing field {where}.tlsCACerts (needed for grpcs://)")
    options = raw.get("grpcOptions") or {}
    override = options.get("ssl-target-name-override") or options.get("hostnameOverride") if isinstance(options, dict) else None
    return PeerProfile(name, url, tls_pem, override or None)


def connect_profile(
    path: str | Path, user: str = "Admin", org: str | None = None, peer: str | None = None, **options: Any
) -> Gateway:
    """Connect as ``user`` of ``org`` (default: the profile's client organisation) via its first peer.

    ``options`` go to :func:`~qcchain_gateway.gateway.connect` (timeouts, ``hash``). The returned gateway
    owns its gRPC channel: close it (or use ``with``).

    Raises:
        ProfileError: the profile is invalid, or names no such org/user/peer.
        IdentityError: the user's MSP directory is unusable (names the directory or file).
    """
    profile = load_profile(path)
    org_name = org or profile.organization
    org_profile = profile.organizations.get(org_name)
    if org_profile is None:
        raise ProfileError(f"connection profile {profile.path}: no organization {org_name!r}")
    msp_dir = org_profile.users.get(user)
    if msp_dir is None:
        raise ProfileError(f"connection profile {profile.path}: missing field organizations.{org_name}.users.{user}")
    peer_name = peer or (org_profile.peers[0] if org_profile.peers else None)
    if peer_name is None or peer_name not in profile.peers:
        raise ProfileError(f"connection profile {profile.path}: organization {org_name!r} has no peer {peer_name!r}")
    endpoint = profile.peers[peer_name]
    try:
        identity, signer = load_identity(msp_dir, org_profile.msp_id)
    except IdentityError as exc:
        raise IdentityError(f"user {user} of {org_name} (profile {profile.path}): {exc}") from exc
    tls_root = endpoint.tls_ca_pem if endpoint.tls else None
    channel = new_channel(endpoint.target, tls_root, endpoint.server_name_override if endpoint.tls else None)
    logger.debug("connecting %s@%s via %s", user, org_name, endpoint.target)
    return connect(identity, channel, signer, close_connection=True, **options)
