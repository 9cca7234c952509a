"""Verification of Fabric ledger structures against registered trust anchors (pure; rules rung).

Used by the cross-chain contract (:mod:`.crosschain`) and by auditors offline: everything a bundle claims is
re-derived from the protobuf bytes, nothing is taken from the bundle's prose.

* :func:`load_anchors` — a registered source network: channel, chaincode, member MSPs and orderer MSPs
  (root + intermediate certificates, CRLs), the chaincode's endorsement policy (Fabric signature-policy
  text: ``AND`` / ``OR`` / ``OutOf`` over ``'MSP.role'``), the orderer signatures a block needs.
* :func:`verify_block` — data hash, and the orderer signatures of ``metadata[SIGNATURES]`` over
  ``value || signature_header || DER(header)`` by certificates chained to a registered orderer MSP; the
  block must be trimmed (``qcchain_sdk.crosschain.bundle.trimmed_block``): no unsigned metadata (last config, orderer, the peer's
  commit hash), canonical encoding, one validation flag per transaction. The flags themselves are set by
  the committing peer and signed by nobody: only the proven transaction's flag (VALID) is read.
* :func:`verify_transaction` — transaction ``index`` of a verified block: marked VALID, for the source
  channel, creator signature, every endorsement signature over ``proposal_response_payload || endorser``
  by a certificate of a registered, unrevoked MSP identity valid at the transaction time, the endorsement
  policy satisfied, and the chaincode's write set returned.

Every failure raises :class:`~.errors.InvalidInput` (or :class:`~.errors.Forbidden` for an identity
outside the anchors) whose message says what did not hold.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2

from .crosschain_block import require_trimmed
from .errors import Forbidden, InvalidInput
from .fabricpolicy import parse_policy, policy_satisfied

log = logging.getLogger(__name__)

__all__ = ["MspAnchor", "TrustAnchors", "ProvenTx", "load_anchors", "verify_block", "verify_transaction",
           "header_der", "endorsements", "require_proposal_hash", "read_versions"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENDORSER_TRANSACTION = 3
_MAX_CERTS = 16


@dataclass(frozen=True)
class MspAnchor:
    """One registered MSP: its CA certificates and CRLs (parsed)."""

    msp_id: str
    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]


@dataclass(frozen=True)
class TrustAnchors:
    """A registered source network (see :func:`load_anchors`)."""

    channel: str
    chaincode: str
    msps: dict[str, MspAnchor]
    orderer_msps: dict[str, MspAnchor]
    endorsement_policy: str
    orderer_signatures: int


@dataclass(frozen=True)
class ProvenTx:
    """A verified transaction: where it is, when, who endorsed it and what it wrote to the chaincode."""

    tx_id: str
    block: int
    index: int
    timestamp: int
    endorsers: tuple[str, ...]
    writes: dict[str, tuple[bytes, bool]]  # key -> (value, is_delete)


def _pems(value: Any, what: str, loader: Any) -> tuple[Any, ...]:
    if not isinstance(value, list) or len(value) > _MAX_CERTS or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{what} must be a list of at most {_MAX_CERTS} PEM strings")
    try:
        return tuple(loader(v.encode("ascii")) for v in value)
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidInput(f"{what}: not a PEM certificate / CRL ({exc.__class__.__name__})") from exc


def _msp_anchors(value: Any, what: str) -> dict[str, MspAnchor]:
    if not isinstance(value, dict) or not value or len(value) > 64:
        raise InvalidInput(f"{what} must be an object of 1..64 MSPs")
    out = {}
    for msp_id, spec in sorted(value.items()):
        if not isinstance(msp_id, str) or not _NAME.match(msp_id) or not isinstance(spec, dict):
            raise InvalidInput(f"{what}: bad MSP entry {msp_id!r}")
        if sorted(spec) != ["crls", "intermediate_certs", "root_certs"]:
            raise InvalidInput(f"{what}.{msp_id} must have exactly root_certs, intermediate_certs, crls")
        roots = _pems(spec["root_certs"], f"{what}.{msp_id}.root_certs", x509.load_pem_x509_certificate)
        if not roots:
            raise InvalidInput(f"{what}.{msp_id}.root_certs is empty")
        out[msp_id] = MspAnchor(msp_id, roots,
                                _pems(spec["intermediate_certs"], f"{what}.{msp_id}.intermediate_certs",
                                      x509.load_pem_x509_certificate),
                                _pems(spec["crls"], f"{what}.{msp_id}.crls", x509.load_pem_x509_crl))
    return out


ANCHOR_FIELDS = ("channel", "chaincode", "msps", "orderer_msps", "endorsement_policy", "orderer_signatures")


def load_anchors(doc: Any) -> TrustAnchors:
    """Parse and check a source document ``{channel, chaincode, msps, orderer_msps, endorsement_policy,
    orderer_signatures}`` (MSP entries: ``{root_certs, intermediate_certs, crls}`` as PEM lists).

    Raises:
        InvalidInput: a missing/extra field, a bad name, PEM, policy (unknown MSP in it) or count.
    """
    if not isinstance(doc, dict) or sorted(doc) != sorted(ANCHOR_FIELDS):
        raise InvalidInput(f"a source must have exactly the fields {', '.join(ANCHOR_FIELDS)}")
    for field in ("channel", "chaincode"):
        if not isinstance(doc[field], str) or not _NAME.match(doc[field]):
            raise InvalidInput(f"source {field} must be a channel/chaincode name")
    msps = _msp_anchors(doc["msps"], "msps")
    orderers = _msp_anchors(doc["orderer_msps"], "orderer_msps")
    count = doc["orderer_signatures"]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 64:
        raise InvalidInput("orderer_signatures must be 1..64")
    if not isinstance(doc["endorsement_policy"], str):
        raise InvalidInput("endorsement_policy must be a signature-policy string")
    unknown = sorted({msp for msp, _role in parse_policy(doc["endorsement_policy"]).principals()} - set(msps))
    if unknown:
        raise InvalidInput(f"endorsement_policy names MSPs not registered for the source: {', '.join(unknown)}")
    return TrustAnchors(doc["channel"], doc["chaincode"], msps, orderers, doc["endorsement_policy"], count)


# --- certificates ------------------------------------------------------------------------------------

def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _revoked(cert: x509.Certificate, issuer: x509.Certificate, crls: tuple[Any, ...]) -> bool:
    for crl in crls:
        if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):
            continue
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return True
    return False


def _valid_at(cert: x509.Certificate, at: int, what: str) -> None:
    moment = dt.datetime.fromtimestamp(at, dt.timezone.utc)
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        raise InvalidInput(f"{what} certificate was not valid at the transaction time {at}")


def check_identity(raw: bytes, msps: dict[str, MspAnchor], at: int, what: str) -> tuple[str, x509.Certificate, frozenset[str]]:
    """Decode a ``SerializedIdentity`` and chain its certificate to a registered MSP (root or via one
    intermediate), unrevoked by the MSP's CRLs, valid at ``at``. Returns (msp id, certificate, its OUs).

    Raises:
        Forbidden: the MSP is not registered, or the certificate does not chain to it.
        InvalidInput: undecodable identity, revoked, or outside its validity.
    """
    try:
        ident = identities_pb2.SerializedIdentity.FromString(raw)
        cert = x509.load_pem_x509_certificate(ident.id_bytes)
    except Exception as exc:  # noqa: BLE001 - any decode failure is a bad identity
        raise InvalidInput(f"{what} identity cannot be decoded") from exc
    anchor = msps.get(ident.mspid)
    if anchor is None:
        raise Forbidden(f"{what} identity is of MSP {ident.mspid!r}, which is not registered for this source")
    chain: list[x509.Certificate] = []
    for root in anchor.roots:
        if _issued_by(cert, root):
            chain = [root]
            break
    else:
        for inter in anchor.intermediates:
            root = next((r for r in anchor.roots if _issued_by(inter, r)), None)
            if root is not None and _issued_by(cert, inter):
                chain = [inter, root]
                break
    if not chain:
        raise Forbidden(f"{what} certificate does not chain to a registered CA of {ident.mspid}")
    if _revoked(cert, chain[0], anchor.crls) or (len(chain) == 2 and _revoked(chain[0], chain[1], anchor.crls)):
        raise InvalidInput(f"{what} certificate (serial {cert.serial_number:x}) of {ident.mspid} is revoked")
    _valid_at(cert, at, what)
    ous = frozenset(a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)
                    if isinstance(a.value, str))
    return ident.mspid, cert, ous


def _verify_sig(cert: x509.Certificate, data: bytes, signature: bytes, what: str) -> None:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InvalidInput(f"{what}: only ECDSA identities are supported")
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise InvalidInput(f"{what} signature does not verify") from exc


# --- blocks and transactions -------------------------------------------------------------------------

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_int(n: int) -> bytes:
    raw = n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big")
    return b"\x02" + _der_len(len(raw)) + raw


def header_der(header: common_pb2.BlockHeader) -> bytes:
    """ASN.1 DER of (number, previous_hash, data_hash): what orderers sign and hash (``protoutil``)."""
    body = (_der_int(header.number) + b"\x04" + _der_len(len(header.previous_hash)) + header.previous_hash
            + b"\x04" + _der_len(len(header.data_hash)) + header.data_hash)
    return b"\x30" + _der_len(len(body)) + body


def verify_block(raw: bytes, anchors: TrustAnchors) -> common_pb2.Block:
    """Decode a block and check its data hash and orderer signatures. Returns the block.

    Raises:
        InvalidInput: undecodable, data hash wrong, too few valid orderer signatures.
    """
    try:
        block = common_pb2.Block.FromString(raw)
        meta = common_pb2.Metadata.FromString(block.metadata.metadata[0])
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput("block cannot be decoded (or has no signatures metadata)") from exc
    require_trimmed(block, raw)
    if hashlib.sha256(b"".join(block.data.data)).digest() != block.header.data_hash:
        raise InvalidInput(f"block {block.header.number}: data hash does not match its transactions")
    signed = header_der(block.header)
    signers: set[str] = set()
    problems: list[str] = []
    for sig in meta.signatures:
        try:
            shdr = common_pb2.SignatureHeader.FromString(sig.signature_header)
            msp, cert, _ous = check_identity(shdr.creator, anchors.orderer_msps, _block_time(block), "orderer")
            _verify_sig(cert, meta.value + sig.signature_header + signed, sig.signature, "orderer")
        except (InvalidInput, Forbidden) as exc:
            problems.append(str(exc))
            continue
        signers.add(f"{msp}/{cert.fingerprint(hashes.SHA256()).hex()}")
    if len(signers) < anchors.orderer_signatures:
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise InvalidInput(f"block {block.header.number}: {len(signers)} valid orderer signature(s), "
                           f"{anchors.orderer_signatures} required{detail}")
    return block


def _block_time(block: common_pb2.Block) -> int:
    """Timestamp of the block's first transaction (the orderer's certificate must be valid then)."""
    try:
        env = common_pb2.Envelope.FromString(block.data.data[0])
        payload = common_pb2.Payload.FromString(env.payload)
        return int(common_pb2.ChannelHeader.FromString(payload.header.channel_header).timestamp.seconds)
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput("block has no decodable first transaction") from exc


def verify_transaction(block: common_pb2.Block, index: int, anchors: TrustAnchors) -> ProvenTx:
    """Check transaction ``index`` of a verified block (see module doc). Returns what it proves.

    Raises:
        InvalidInput: out of range, not VALID, another channel/chaincode, bad signature, revoked or
            expired certificate, endorsement policy not satisfied.
        Forbidden: a creator or endorser identity outside the registered MSPs.
    """
    number = block.header.number
    flags = block.metadata.metadata[2] if len(block.metadata.metadata) > 2 else b""
    if not 0 <= index < len(block.data.data) or index >= len(flags):
        raise InvalidInput(f"block {number} has no transaction {index}")
    if flags[index] != 0:
        raise InvalidInput(f"transaction {index} of block {number} is marked invalid (code {flags[index]})")
    try:
        env = common_pb2.Envelope.FromString(block.data.data[index])
        payload = common_pb2.Payload.FromString(env.payload)
        chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        shdr = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
        tx = transaction_pb2.Transaction.FromString(payload.data)
        cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(cap.action.proposal_response_payload)
        action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        rwset = rwset_pb2.TxReadWriteSet.FromString(action.results)
    except Exception as exc:  # noqa: BLE001
        raise InvalidInput(f"transaction {index} of block {number} cannot be decoded") from exc
    if chdr.type != _ENDORSER_TRANSACTION or chdr.channel_id != anchors.channel:
        raise InvalidInput(f"transaction {chdr.tx_id} is not an endorser transaction of channel {anchors.channel}")
    if action.chaincode_id.name != anchors.chaincode or action.response.status != 200:
        raise InvalidInput(f"transaction {chdr.tx_id} is not a successful invocation of {anchors.chaincode}")
    at = int(chdr.timestamp.seconds)
    _msp, creator, _ous = check_identity(shdr.creator, anchors.msps, at, "creator")
    _verify_sig(creator, env.payload, env.signature, "creator")
    require_proposal_hash(payload, cap, prp, chdr.tx_id)
    endorsers = endorsements(cap, at, anchors)
    if not policy_satisfied(parse_policy(anchors.endorsement_policy), endorsers):
        raise InvalidInput(f"endorsements of {chdr.tx_id} ({', '.join(m for m, _ in endorsers) or 'none'}) do not "
                           f"satisfy the endorsement policy {anchors.endorsement_policy}")
    return ProvenTx(chdr.tx_id, number, index, at, tuple(m for m, _ in endorsers), _writes(rwset, anchors.chaincode))


def require_proposal_hash(payload: Any, cap: Any, prp: Any, tx_id: str) -> None:
    """The endorsed proposal is the one in the envelope: ``proposal_hash`` = SHA-256(channel header ||
    signature header || proposal payload without transient), as Fabric's validator checks.

    Raises:
        InvalidInput: it is another proposal's response.
    """
    expected = hashlib.sha256(payload.header.channel_header + payload.header.signature_header
                              + cap.chaincode_proposal_payload).digest()
    if expected != prp.proposal_hash:
        raise InvalidInput(f"the endorsements of {tx_id} are for another proposal (proposal hash differs)")


def endorsements(cap: Any, at: int, anchors: TrustAnchors) -> list[tuple[str, frozenset[str]]]:
    """(MSP, OUs) of each distinct endorser of a ``ChaincodeActionPayload``: identity chained to a registered
    MSP, unrevoked, valid at ``at``, signature over ``proposal_response_payload || endorser``.

    Raises:
        Forbidden: an endorser outside the registered MSPs. InvalidInput: revoked, expired, bad signature.
    """
    prp_bytes = cap.action.proposal_response_payload
    out, seen = [], set()
    for endorsement in cap.action.endorsements:
        msp, cert, ous = check_identity(endorsement.endorser, anchors.msps, at, "endorser")
        _verify_sig(cert, prp_bytes + endorsement.endorser, endorsement.signature, f"endorsement by {msp}")
        fingerprint = cert.fingerprint(hashes.SHA256())
        if fingerprint not in seen:
            seen.add(fingerprint)
            out.append((msp, ous))
    return out


def _writes(rwset: Any, chaincode: str) -> dict[str, tuple[bytes, bool]]:
    out: dict[str, tuple[bytes, bool]] = {}
    for ns in rwset.ns_rwset:
        if ns.namespace != chaincode:
            continue
        kv = kv_rwset_pb2.KVRWSet.FromString(ns.rwset)
        for write in kv.writes:
            out[write.key] = (bytes(write.value), bool(write.is_delete))
    return out


def read_versions(rwset: Any, chaincode: str) -> dict[str, tuple[int, int] | None]:
    """Key -> (block, tx) version read by a transaction in ``chaincode``'s namespace (None: read as absent)."""
    out: dict[str, tuple[int, int] | None] = {}
    for ns in rwset.ns_rwset:
        if ns.namespace != chaincode:
            continue
        for read in kv_rwset_pb2.KVRWSet.FromString(ns.rwset).reads:
            out[read.key] = (int(read.version.block_num), int(read.version.tx_num)) if read.HasField("version") else None
    return out
