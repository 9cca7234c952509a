"""The devnet core's runtime model: orgs with their MSP material, channels, chaincodes, and the MSP
that deserializes and validates identities (X.509 issued by the org's CA, NodeOU roles).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fabric_protos.msp import identities_pb2
from google.protobuf.message import DecodeError

from .errors import AccessDenied, ChaincodeNotFound, ChannelNotFound
from .policy import Policy, Signer, parse_policy
from .protoutil import serialize_identity, sign_ecdsa, verify_ecdsa

log = logging.getLogger(__name__)

__all__ = [
    "MSP",
    "ChaincodeDef",
    "ChannelDef",
    "CollectionDef",
    "Identity",
    "NodeConfig",
    "OrgIdentity",
    "PeerSigner",
    "SignatureMemo",
]

_MEMO_MAX = 50000


class SignatureMemo:
    """Signatures this process made or already verified, keyed by SHA-256(identity || data).

    Lets the committer skip re-verifying an endorsement the devnet itself signed, or an envelope
    signature the orderer step checked, without trusting anything it has not seen signed.
    """

    def __init__(self) -> None:
        self._known: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(identity: bytes, data: bytes) -> bytes:
        digest = hashlib.sha256(identity)  # fed piecewise: no copy of the (large) data
        digest.update(b"\x00")
        digest.update(data)
        return digest.digest()

    def add(self, identity: bytes, data: bytes, signature: bytes) -> None:
        """Remember that ``signature`` is ``identity``'s valid signature over ``data``."""
        with self._lock:
            self._known[self._key(identity, data)] = signature
            if len(self._known) > _MEMO_MAX:
                self._known.popitem(last=False)

    def known(self, identity: bytes, data: bytes, signature: bytes) -> bool:
        """True if exactly this signature was remembered for ``identity`` and ``data``."""
        return self._known.get(self._key(identity, data)) == signature


@dataclass(frozen=True)
class OrgIdentity:
    """A member org: MSP ID, CA certificates (PEM) and its peer's signing identity (cert + PKCS#8 key PEM)."""

    name: str
    msp_id: str
    ca_certs: tuple[bytes, ...]
    tls_ca_certs: tuple[bytes, ...] = ()
    peer_cert: bytes = b""
    peer_key: bytes = b""
    peer_host: str = ""


@dataclass(frozen=True)
class CollectionDef:
    """A private data collection: member MSP IDs and access flags."""

    name: str
    members: tuple[str, ...]
    member_only_read: bool = True
    member_only_write: bool = True
    endorsement_policy: str = ""


@dataclass(frozen=True)
class ChaincodeDef:
    """A chaincode on a channel: endorsement policy, collections, CCaaS address and package id."""

    name: str
    endorsement_policy: str
    collections: tuple[CollectionDef, ...] = ()
    address: str = ""
    package_id: str = ""
    version: str = "1.0"

    def collection(self, name: str) -> CollectionDef | None:
        """The collection called ``name``, or None."""
        return next((c for c in self.collections if c.name == name), None)


@dataclass(frozen=True)
class ChannelDef:
    """A channel: member MSP IDs and its chaincodes."""

    name: str
    members: tuple[str, ...]
    chaincodes: tuple[ChaincodeDef, ...]

    def chaincode(self, name: str) -> ChaincodeDef:
        """The chaincode called ``name``. Raises: ChaincodeNotFound."""
        for cc in self.chaincodes:
            if cc.name == name:
                return cc
        raise ChaincodeNotFound(f"chaincode {name} is not defined on channel {self.name}")

    def policy(self, cc: ChaincodeDef) -> Policy:
        """The chaincode's endorsement policy over this channel's members. Raises: PolicyError."""
        return parse_policy(cc.endorsement_policy, self.members)


@dataclass(frozen=True)
class NodeConfig:
    """Everything :class:`qcchain_devnet.node.DevNet` needs (independent of files)."""

    orgs: tuple[OrgIdentity, ...]
    channels: tuple[ChannelDef, ...]
    host: str = "127.0.0.1"
    port: int = 0
    tls_cert: bytes | None = None
    tls_key: bytes | None = None
    orderer: OrgIdentity | None = None
    batch_size: int = 500
    batch_timeout: float = 0.01
    extra: dict[str, str] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelDef:
        """The channel called ``name``. Raises: ChannelNotFound."""
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise ChannelNotFound(f"failed to get config for channel [{name}]")

    def org(self, msp_id: str) -> OrgIdentity:
        """The org with MSP ID ``msp_id``. Raises: KeyError."""
        for org in self.orgs:
            if org.msp_id == msp_id:
                return org
        raise KeyError(msp_id)


@dataclass(frozen=True)
class Identity:
    """A deserialized, validated identity."""

    msp_id: str
    cert_pem: bytes
    public_key: ec.EllipticCurvePublicKey
    roles: frozenset[str]
    serialized: bytes

    def verify(self, signature: bytes, data: bytes, memo: SignatureMemo | None = None) -> bool:
        """True if ``signature`` over ``data`` is this identity's (ECDSA P-256, low-S).

        With ``memo``, a remembered signature is accepted without recomputation and a newly
        verified one is remembered.
        """
        if memo is not None and memo.known(self.serialized, data, signature):
            return True
        ok = verify_ecdsa(self.public_key, signature, data)
        if ok and memo is not None:
            memo.add(self.serialized, data, signature)
        return ok

    def signer(self) -> Signer:
        """The policy-evaluation view of this identity."""
        return Signer(self.msp_id, self.roles, self.serialized)


class MSP:
    """Deserializes ``SerializedIdentity`` bytes and validates them against the orgs' CA certificates."""

    def __init__(self, orgs: tuple[OrgIdentity, ...]) -> None:
        self._cas: dict[str, list[x509.Certificate]] = {
            o.msp_id: [x509.load_pem_x509_certificate(pem) for pem in o.ca_certs] for o in orgs}
        self._cache: dict[bytes, Identity] = {}
        self._lock = threading.Lock()

    def deserialize(self, serialized: bytes, channel: str, members: tuple[str, ...] | None = None) -> Identity:
        """A validated identity of one of ``members`` (default: every org).

        Raises:
            AccessDenied: the bytes are malformed, the MSP is unknown or not a member, or the certificate
                was not issued by the org's CA.
        """
        cached = self._cache.get(serialized)
        if cached is not None:
            if members is not None and cached.msp_id not in members:
                raise AccessDenied(f"access denied: channel [{channel}] creator org [{cached.msp_id}]")
            return cached
        ident = self._validate(serialized, channel)
        if members is not None and ident.msp_id not in members:
            raise AccessDenied(f"access denied: channel [{channel}] creator org [{ident.msp_id}]")
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[serialized] = ident
        return ident

    def _validate(self, serialized: bytes, channel: str) -> Identity:
        malformed = f"access denied: channel [{channel}] creator org unknown, creator is malformed"
        sid = identities_pb2.SerializedIdentity()
        try:
            sid.ParseFromString(serialized)
            cert = x509.load_pem_x509_certificate(sid.id_bytes)
        except (DecodeError, ValueError) as exc:
            raise AccessDenied(malformed) from exc
        cas = self._cas.get(sid.mspid)
        if cas is None:
            raise AccessDenied(malformed)
        for ca in cas:
            try:
                cert.verify_directly_issued_by(ca)
                break
            except (ValueError, TypeError, InvalidSignature):
                log.debug("certificate of %s not issued by one of its CA certificates", sid.mspid)
        else:
            raise AccessDenied(malformed)
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise AccessDenied(malformed)
        ous = {a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)}
        roles = frozenset(r for r in ("peer", "admin", "client", "orderer") if r in ous)
        return Identity(sid.mspid, sid.id_bytes, key, roles, serialized)


class PeerSigner:
    """An org's peer signing identity (endorsements)."""

    def __init__(self, org: OrgIdentity) -> None:
        self.msp_id = org.msp_id
        self.serialized = serialize_identity(org.msp_id, org.peer_cert)
        key = serialization.load_pem_private_key(org.peer_key, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"peer key of {org.msp_id} is not an ECDSA key")
        self._key = key

    def sign(self, data: bytes) -> bytes:
        """ECDSA-SHA256 (low-S) signature over ``data``."""
        return sign_ecdsa(self._key, data)
