"""Crypto material for the devnet, in exactly the directory layout ``cryptogen`` writes.

Follows hyperledger/fabric ``cmd/cryptogen`` and ``internal/cryptogen/{ca,msp,csp}`` (v3):

- per org ``<crypto>/peerOrganizations/<domain>/`` (``ordererOrganizations`` for the orderer org) with
  ``ca/`` (``ca.<domain>-cert.pem`` + ``priv_sk``), ``tlsca/`` (``tlsca.<domain>-cert.pem`` + ``priv_sk``),
  the verifying ``msp/`` (``admincerts/`` empty, ``cacerts/``, ``tlscacerts/``, ``config.yaml``),
  ``peers/peer0.<domain>/`` (or ``orderers/orderer.<domain>/``) and ``users/{Admin,User1}@<domain>/``;
- each identity has ``msp/{admincerts,cacerts,tlscacerts,keystore/priv_sk,signcerts/<cn>-cert.pem,config.yaml}``
  and ``tls/{ca.crt,server.crt,server.key}`` (``client.*`` for users);
- ECDSA P-256 keys as PKCS#8 PEM, X.509 certs signed with ECDSA-SHA256 (low-S, as cryptogen's signer),
  CA subject ``C=US, ST=California, L=San Francisco, O=<domain>, CN=ca.<domain>``, leaf subject without
  ``O`` and with the NodeOU (``OU=peer|client|admin|orderer``), CA SKI = SHA-256 of the public point,
  10-year validity back-dated 5 minutes, node TLS SANs ``<cn>, <hostname>, localhost, 127.0.0.1``;
- NodeOUs enabled: ``config.yaml`` with Client/Peer/Admin/Orderer OU identifiers.

The devnet serves every org on one endpoint, and one TLS server certificate can only be issued by one
CA, while each org's TLS CA can only vouch for its own hosts. So the devnet has its own TLS CA
(``<crypto>/devnet/tlsca/``) that issues one server certificate (``<crypto>/devnet/tls/server.{crt,key}``)
whose SANs cover every peer host name, ``localhost`` and ``127.0.0.1``; profiles give that CA's cert as
``tlsCACerts`` for every peer. The per-org TLS material is still generated for layout parity.

Existing material is reused and never overwritten: each CA and identity directory is created in a
temporary sibling and renamed into place when complete. The one exception is the devnet's own TLS
server certificate, re-issued by the same devnet TLS CA when the host names it must cover change.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .config import (DevnetConfig, DevnetTLS, MaterialError, orderer_org_dir, peer_dir, peer_org_dir,
                     user_msp_dir)

log = logging.getLogger(__name__)

__all__ = ["CA", "DevnetTLS", "ensure_material", "ensure_org", "ensure_devnet_tls", "peer_org_dir",
           "user_msp_dir", "peer_dir", "orderer_org_dir", "NODE_OUS_CONFIG"]

_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_VALIDITY = _dt.timedelta(days=3650)
_LOCAL_SANS = ("localhost", "127.0.0.1")
PEER, ORDERER, CLIENT, ADMIN = "peer", "orderer", "client", "admin"

NODE_OUS_CONFIG = """NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: {ca}
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: {ca}
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: {ca}
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: {ca}
    OrganizationalUnitIdentifier: orderer
"""


@dataclass(frozen=True)
class CA:
    """A certificate authority: its name (CN), key and self-signed certificate."""

    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate in PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)


# ----------------------------------------------------------------------------- primitives

def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _subject(cn: str, org: str | None = None, ous: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
             x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
             x509.NameAttribute(NameOID.LOCALITY_NAME, "San Francisco")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou) for ou in ous]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _low_s(cert: x509.Certificate) -> bool:
    _, s = decode_dss_signature(cert.signature)
    return s <= _P256_N // 2


def _sign(builder: x509.CertificateBuilder, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """Sign; retry until the signature is low-S (Fabric normalises to low S; cryptogen signs low-S)."""
    for _ in range(64):
        cert = builder.sign(key, hashes.SHA256())
        if _low_s(cert):
            return cert
    raise MaterialError("could not produce a low-S certificate signature")  # pragma: no cover


def _ski(key: ec.EllipticCurvePublicKey) -> bytes:
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(point)
    return digest.finalize()


def _base_builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    not_before = _dt.datetime.now(_dt.timezone.utc).replace(second=0, microsecond=0) - _dt.timedelta(minutes=5)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(not_before)
            .not_valid_after(not_before + _VALIDITY))


def new_ca(name: str, org: str) -> CA:
    """A fresh self-signed CA named ``name`` (CN) for organisation ``org`` (cryptogen ``ca.NewCA``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _subject(name, org=org)
    builder = (_base_builder(subject, subject, key.public_key())
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=True, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=True, crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                     ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier(_ski(key.public_key())), critical=False))
    return CA(name=name, key=key, cert=_sign(builder, key))


def issue(ca: CA, cn: str, public_key: ec.EllipticCurvePublicKey, *, ous: tuple[str, ...] = (),
          sans: tuple[str, ...] = (), tls: bool = False) -> x509.Certificate:
    """A leaf certificate signed by ``ca`` (cryptogen ``CA.SignCertificate``)."""
    builder = (_base_builder(_subject(cn, ous=ous), ca.cert.subject, public_key)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=tls, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=False, crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier(_ski(ca.key.public_key()), None, None),
                              critical=False))
    if tls:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                               ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(_general_names(sans)), critical=False)
    return _sign(builder, ca.key)


def _general_names(sans: tuple[str, ...]) -> list[x509.GeneralName]:
    import ipaddress

    names: list[x509.GeneralName] = []
    for san in dict.fromkeys(s for s in sans if s):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            names.append(x509.DNSName(san))
    return names


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# ----------------------------------------------------------------------------- directories

class _Staging:
    """Build a directory in a temporary sibling; rename it into place on success, remove it on error."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.path = final

    def __enter__(self) -> Path:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=self.final.parent))
        os.chmod(self.path, 0o755)
        return self.path

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        try:
            os.rename(self.path, self.final)
        except OSError as err:
            shutil.rmtree(self.path, ignore_errors=True)
            raise MaterialError(f"cannot create {self.final}: {err}") from err


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise MaterialError(f"{path}: not a readable PKCS#8 PEM private key ({exc})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise MaterialError(f"{path}: not an ECDSA P-256 private key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise MaterialError(f"{path}: not a readable PEM certificate ({exc})") from exc


def _same_public_key(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*fmt) == cert.public_key().public_bytes(*fmt)


def load_or_create_ca(ca_dir: Path, name: str, org: str) -> CA:
    """The CA kept in ``ca_dir`` (``<name>-cert.pem`` + ``priv_sk``), created if the dir is absent.

    Raises:
        MaterialError: the dir exists but its key or certificate is missing, unreadable or mismatched.
    """
    cert_path, key_path = ca_dir / f"{name}-cert.pem", ca_dir / "priv_sk"
    if ca_dir.exists():
        key, cert = _load_key(key_path), _load_cert(cert_path)
        if not _same_public_key(key, cert):
            raise MaterialError(f"{key_path}: does not match the certificate {cert_path}")
        return CA(name=name, key=key, cert=cert)
    ca = new_ca(name, org)
    with _Staging(ca_dir) as tmp:
        _write(tmp / "priv_sk", _key_pem(ca.key), 0o600)
        _write(tmp / f"{name}-cert.pem", ca.cert_pem)
    log.debug("created CA %s", name)
    return ca


def _write_verifying_msp(msp: Path, sign_ca: CA, tls_ca: CA) -> None:
    for sub in ("admincerts", "cacerts", "tlscacerts"):
        (msp / sub).mkdir(parents=True, exist_ok=True)
    _write(msp / "cacerts" / f"{sign_ca.name}-cert.pem", sign_ca.cert_pem)
    _write(msp / "tlscacerts" / f"{tls_ca.name}-cert.pem", tls_ca.cert_pem)
    _write(msp / "config.yaml", NODE_OUS_CONFIG.format(ca=f"cacerts/{sign_ca.name}-cert.pem").encode())


def ensure_verifying_msp(msp_dir: Path, sign_ca: CA, tls_ca: CA) -> None:
    """The org's verifying MSP (no keys), created if absent (cryptogen ``GenerateVerifyingMSP``)."""
    if msp_dir.exists():
        return
    with _Staging(msp_dir) as tmp:
        _write_verifying_msp(tmp, sign_ca, tls_ca)


def ensure_local_msp(node_dir: Path, cn: str, sans: tuple[str, ...], sign_ca: CA, tls_ca: CA,
                     node_type: str) -> None:
    """An identity's ``msp/`` and ``tls/`` (cryptogen ``GenerateLocalMSP``), created if absent."""
    if node_dir.exists():
        return
    with _Staging(node_dir) as tmp:
        msp, tls = tmp / "msp", tmp / "tls"
        _write_verifying_msp(msp, sign_ca, tls_ca)
        key = ec.generate_private_key(ec.SECP256R1())
        _write(msp / "keystore" / "priv_sk", _key_pem(key), 0o600)
        cert = issue(sign_ca, cn, key.public_key(), ous=(node_type,))
        _write(msp / "signcerts" / f"{cn}-cert.pem", _cert_pem(cert))
        tls_key = ec.generate_private_key(ec.SECP256R1())
        tls_cert = issue(tls_ca, cn, tls_key.public_key(), sans=sans, tls=True)
        prefix = "client" if node_type in (CLIENT, ADMIN) else "server"
        _write(tls / "ca.crt", tls_ca.cert_pem)
        _write(tls / f"{prefix}.crt", _cert_pem(tls_cert))
        _write(tls / f"{prefix}.key", _key_pem(tls_key), 0o600)
    log.debug("created identity %s", cn)


def ensure_org(org_dir: Path, domain: str, nodes: list[str], node_type: str, users: list[str]) -> None:
    """One org in cryptogen layout: CAs, verifying MSP, nodes (``peers``/``orderers``) and users.

    ``nodes`` are host names ``<hostname>.<domain>``; ``users`` are user base names (``Admin`` is an
    admin, any other name a client).

    Raises:
        MaterialError: existing material is inconsistent, or the directory cannot be written.
    """
    try:
        sign_ca = load_or_create_ca(org_dir / "ca", f"ca.{domain}", domain)
        tls_ca = load_or_create_ca(org_dir / "tlsca", f"tlsca.{domain}", domain)
        ensure_verifying_msp(org_dir / "msp", sign_ca, tls_ca)
        nodes_dir = org_dir / ("peers" if node_type == PEER else "orderers")
        for host in nodes:
            sans = (host, host.split(".", 1)[0], *_LOCAL_SANS)
            ensure_local_msp(nodes_dir / host, host, sans, sign_ca, tls_ca, node_type)
        for user in users:
            cn = f"{user}@{domain}"
            ensure_local_msp(org_dir / "users" / cn, cn, (), sign_ca, tls_ca, ADMIN if user == "Admin" else CLIENT)
    except OSError as exc:
        raise MaterialError(f"cannot write crypto material under {org_dir}: {exc}") from exc


# ----------------------------------------------------------------------------- devnet TLS + all

DEVNET_DOMAIN = "devnet.qcchain.example"


def _cert_hosts(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(ext.get_values_for_type(x509.DNSName)) | {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}


def ensure_devnet_tls(crypto_dir: Path, hosts: list[str]) -> DevnetTLS:
    """The devnet TLS CA and a server certificate whose SANs cover ``hosts``, localhost and 127.0.0.1.

    Reuses the existing certificate if it covers every host; otherwise issues a new one from the same
    devnet TLS CA (clients trust the CA, so a re-issued leaf changes nothing for them).

    Raises:
        MaterialError: existing devnet TLS material is inconsistent or cannot be written.
    """
    base = crypto_dir / "devnet"
    tls_dir = base / "tls"
    result = DevnetTLS(ca_cert=base / "tlsca" / f"tlsca.{DEVNET_DOMAIN}-cert.pem",
                       cert=tls_dir / "server.crt", key=tls_dir / "server.key")
    wanted = (*hosts, *_LOCAL_SANS)
    try:
        ca = load_or_create_ca(base / "tlsca", f"tlsca.{DEVNET_DOMAIN}", DEVNET_DOMAIN)
        if tls_dir.exists():
            cert, key = _load_cert(result.cert), _load_key(result.key)
            if not _same_public_key(key, cert):
                raise MaterialError(f"{result.key}: does not match the certificate {result.cert}")
            if set(wanted) <= _cert_hosts(cert):
                return result
            log.info("re-issuing the devnet TLS server certificate for a changed set of host names")
            shutil.rmtree(tls_dir)
        with _Staging(tls_dir) as tmp:
            key = ec.generate_private_key(ec.SECP256R1())
            cert = issue(ca, f"devnet.{DEVNET_DOMAIN}", key.public_key(), sans=wanted, tls=True)
            _write(tmp / "ca.crt", ca.cert_pem)
            _write(tmp / "server.crt", _cert_pem(cert))
            _write(tmp / "server.key", _key_pem(key), 0o600)
    except OSError as exc:
        raise MaterialError(f"cannot write devnet TLS material under {base}: {exc}") from exc
    return result


def ensure_material(crypto_dir: Path, config: DevnetConfig) -> DevnetTLS:
    """Every org's material (peers, ``Admin``, ``User1``..), the orderer org's, and the devnet TLS pair.

    Raises:
        MaterialError: existing material is inconsistent, or ``crypto_dir`` is not writable.
    """
    for org in config.orgs:
        users = ["Admin", *(f"User{i}" for i in range(1, org.users + 1))]
        ensure_org(peer_org_dir(crypto_dir, org.domain), org.domain, org.peer_hosts, PEER, users)
    ensure_org(orderer_org_dir(crypto_dir, config.orderer.domain), config.orderer.domain,
               config.orderer.node_hosts, ORDERER, ["Admin"])
    hosts = [host for org in config.orgs for host in org.peer_hosts]
    return ensure_devnet_tls(crypto_dir, hosts)
