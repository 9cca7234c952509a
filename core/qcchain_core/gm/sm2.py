"""SM2 (GB/T 32918): keys, signatures with SM3 and a user ID, public-key encryption.

Signature: ``e = SM3(Z_A || M)`` with ``Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)``
(GB/T 32918.2 §5.5, §6.1), then the SM2 signature of ``e``, DER-encoded ``SEQUENCE {r, s}``. The default
user ID is ``"1234567812345678"`` (GM/T 0009). ``Z_A`` is computed here, once per (key, ID), so every
backend binds the ID identically.

Encryption (GB/T 32918.4) output is the DER form ``SEQUENCE {x INTEGER, y INTEGER, hash OCTET STRING(32),
ciphertext OCTET STRING}`` — i.e. C1 || C3 || C2 in the order of the 2016 standard, ASN.1-encoded as in
GM/T 0009. :func:`ciphertext_to_raw` / :func:`ciphertext_from_raw` convert to and from the raw
``04 || x || y || C3 || C2`` bytes other systems may use.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from ..errors import CryptoError, DecryptionError, InvalidKey, InvalidSignature
from . import _native
from .sm3 import _require_bytes, sm3

__all__ = ["DEFAULT_UID", "SM2PrivateKey", "SM2PublicKey", "compute_z", "ciphertext_to_raw",
           "ciphertext_from_raw"]

_log = logging.getLogger(__name__)

DEFAULT_UID = b"1234567812345678"

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_CURVE_BYTES = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
_MAX_UID = 8191  # ENTL is a 16-bit count of bits
_Z_CACHE_SIZE = 8
_KDF_RETRIES = 8  # fresh k per attempt; all-zero KDF output twice in a row is 2^-16 even for 1 byte


def compute_z(public_point: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """``Z_A`` of GB/T 32918.2 §5.5 for the 65-byte ``04||X||Y`` point and user ID ``uid``.

    Raises:
        InvalidKey: ``public_point`` is not a 65-byte uncompressed point.
        ValueError: ``uid`` is longer than 8191 bytes.
        TypeError: an argument is not bytes-like.
    """
    point = _require_bytes("public_point", public_point)
    ident = _require_bytes("uid", uid)
    if len(point) != 65 or point[0] != 4:
        raise InvalidKey("SM2 public point must be 65 bytes 04||X||Y")
    if len(ident) > _MAX_UID:
        raise ValueError(f"SM2 user ID is {len(ident)} bytes; at most {_MAX_UID} fit the 16-bit ENTL")
    entl = (len(ident) * 8).to_bytes(2, "big")
    return sm3(entl + ident + _CURVE_BYTES + point[1:])


def _der_len(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _der_int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return _der(0x02, body)


def ciphertext_from_raw(raw: bytes) -> bytes:
    """Convert raw ``04||x||y||C3||C2`` (C1 uncompressed, with its ``04``) into this module's DER form.

    Raises:
        DecryptionError: no ``04`` prefix, or too short to hold C1, C3 and one byte of C2.
    """
    blob = _require_bytes("raw", raw)
    if blob[:1] != b"\x04":
        raise DecryptionError("raw SM2 ciphertext must start with the uncompressed point prefix 04")
    if len(blob) < 98:
        raise DecryptionError(f"raw SM2 ciphertext is {len(blob)} bytes; C1 and C3 alone need 97")
    x, y = int.from_bytes(blob[1:33], "big"), int.from_bytes(blob[33:65], "big")
    body = _der_int(x) + _der_int(y) + _der(0x04, blob[65:97]) + _der(0x04, blob[97:])
    return _der(0x30, body)


def _der_read(blob: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """Read one TLV with ``tag`` at ``pos``; returns (value, next position). Raises DecryptionError."""
    if pos + 2 > len(blob) or blob[pos] != tag:
        raise DecryptionError("SM2 ciphertext is not the DER SEQUENCE {x, y, hash, ciphertext}")
    length, pos = blob[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(blob):
            raise DecryptionError("SM2 ciphertext has a bad DER length")
        length, pos = int.from_bytes(blob[pos:pos + count], "big"), pos + count
    if pos + length > len(blob):
        raise DecryptionError("SM2 ciphertext is truncated")
    return blob[pos:pos + length], pos + length


def ciphertext_to_raw(der: bytes) -> bytes:
    """Convert this module's DER ciphertext into raw ``04||x||y||C3||C2``.

    Raises:
        DecryptionError: not the expected DER structure, or truncated.
    """
    blob = _require_bytes("der", der)
    seq, end = _der_read(blob, 0, 0x30)
    if end != len(blob):
        raise DecryptionError("SM2 ciphertext has trailing bytes after the DER SEQUENCE")
    x, pos = _der_read(seq, 0, 0x02)
    y, pos = _der_read(seq, pos, 0x02)
    c3, pos = _der_read(seq, pos, 0x04)
    c2, pos = _der_read(seq, pos, 0x04)
    if pos != len(seq) or len(c3) != 32 or len(x) > 33 or len(y) > 33:
        raise DecryptionError("SM2 ciphertext fields have the wrong sizes")
    xi, yi = int.from_bytes(x, "big"), int.from_bytes(y, "big")
    return b"\x04" + xi.to_bytes(32, "big") + yi.to_bytes(32, "big") + c3 + c2


def _sec1_pem(d: int, point: bytes) -> bytes:
    """SEC1 ``EC PRIVATE KEY`` PEM for scalar ``d`` on SM2 (with the public point when given)."""
    body = _der_int(1) + _der(0x04, d.to_bytes(32, "big")) + _der(0xA0, bytes.fromhex("06082a811ccf5501822d"))
    if point:
        body += _der(0xA1, _der(0x03, b"\x00" + point))
    der = _der(0x30, body)
    return b"-----BEGIN EC PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END EC PRIVATE KEY-----\n"


def _backend(backend: str | None) -> _native.Backend:
    return _native.default() if backend is None else _native.load(backend)


class SM2PublicKey:
    """An SM2 public key. Construct with :meth:`from_pem`, :meth:`from_bytes` or ``private.public_key()``."""

    __slots__ = ("_key", "_point", "_z")

    def __init__(self, key: Any) -> None:
        """Internal: wrap a native key. Use the ``from_*`` constructors."""
        self._key = key
        self._point = key.backend.public_der(key)[len(_native.SPKI_PREFIX):]
        self._z: dict[bytes, bytes] = {}

    @classmethod
    def from_pem(cls, pem: bytes, *, backend: str | None = None) -> "SM2PublicKey":
        """Load a ``PUBLIC KEY`` PEM (SubjectPublicKeyInfo, curve SM2).

        Raises:
            InvalidKey: malformed PEM, not SM2, or point not on the curve.
            TypeError: ``pem`` is not bytes-like.
        """
        return cls(_backend(backend).load_public_pem(_require_bytes("pem", pem)))

    @classmethod
    def from_bytes(cls, data: bytes, *, backend: str | None = None) -> "SM2PublicKey":
        """Load a 65-byte uncompressed point ``04||X||Y``.

        Raises:
            InvalidKey: wrong length/prefix or point not on the curve.
            TypeError: ``data`` is not bytes-like.
        """
        point = _require_bytes("data", data)
        if len(point) != 65 or point[0] != 4:
            raise InvalidKey(f"SM2 public key must be 65 bytes 04||X||Y, got {len(point)} bytes")
        return cls(_backend(backend).load_public_der(_native.SPKI_PREFIX + point))

    def to_bytes(self) -> bytes:
        """The 65-byte uncompressed point ``04||X||Y``."""
        return self._point

    def to_pem(self) -> bytes:
        """``PUBLIC KEY`` PEM. Raises CryptoError if the native library fails."""
        return self._key.backend.public_pem(self._key)

    def key_id(self) -> str:
        """Stable identifier: hex SM3 of the 65-byte uncompressed point."""
        return sm3(self._point).hex()

    def z(self, uid: bytes = DEFAULT_UID) -> bytes:
        """``Z_A`` for this key and ``uid`` (cached). Raises ValueError/TypeError on a bad uid."""
        cached = self._z.get(uid) if isinstance(uid, bytes) else None
        if cached is None:
            cached = compute_z(self._point, uid)
            if len(self._z) >= _Z_CACHE_SIZE:
                self._z.clear()
            self._z[bytes(uid)] = cached
        return cached

    def digest(self, data: bytes, uid: bytes = DEFAULT_UID) -> bytes:
        """``e = SM3(Z_A || data)``, the value actually signed. Raises TypeError/ValueError."""
        return sm3(self.z(uid) + _require_bytes("data", data))

    def verify(self, signature: bytes, data: bytes, uid: bytes = DEFAULT_UID) -> None:
        """Check a DER signature over ``data`` with user ID ``uid``.

        Raises:
            InvalidSignature: the signature is malformed, or not valid for this key, data and uid.
            TypeError: an argument is not bytes-like.
        """
        sig = _require_bytes("signature", signature)
        if not self._key.backend.verify(self._key, sig, self.digest(data, uid)):
            raise InvalidSignature("SM2 signature does not verify for this key, data and user ID")

    def encrypt(self, plaintext: bytes) -> bytes:
        """GB/T 32918.4 encryption; DER C1C3C2 (see module doc).

        Raises:
            ValueError: ``plaintext`` is empty (the standard's KDF needs at least one byte).
            TypeError: ``plaintext`` is not bytes-like.
            CryptoError: the native library failed.
        """
        data = _require_bytes("plaintext", plaintext)
        if not data:
            raise ValueError("SM2 plaintext must not be empty")
        for _attempt in range(_KDF_RETRIES):
            sealed = self._key.backend.encrypt(self._key, data)
            # GB/T 32918.4 A5: an all-zero KDF output t means C2 = M; the standard picks a new k
            # (OpenSSL/Tongsuo do not check; for a 1-byte message it happens once in 256).
            if ciphertext_to_raw(sealed)[97:] != data:
                return sealed
        raise CryptoError(f"SM2 encryption gave an all-zero KDF output {_KDF_RETRIES} times")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other._point == self._point

    def __hash__(self) -> int:
        return hash(self._point)

    def __repr__(self) -> str:
        return f"SM2PublicKey(key_id={self.key_id()[:16]}...)"


class SM2PrivateKey:
    """An SM2 private key. Never logged or printed (``repr`` shows only the key id)."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: Any) -> None:
        """Internal: wrap a native key. Use :meth:`generate` or :meth:`from_pem`."""
        self._key = key
        self._public = SM2PublicKey(key)

    @classmethod
    def generate(cls, *, backend: str | None = None) -> "SM2PrivateKey":
        """A new random key pair. Raises OSError if no native SM2 library is available."""
        return cls(_backend(backend).generate())

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None, *,
                 backend: str | None = None) -> "SM2PrivateKey":
        """Load a PKCS#8 (optionally encrypted) or SEC1 PEM private key on curve SM2.

        Raises:
            InvalidKey: malformed PEM, not SM2, encrypted without a password, or wrong password.
            TypeError: ``pem`` or ``password`` is not bytes-like.
        """
        data = _require_bytes("pem", pem)
        pwd = None if password is None else _require_bytes("password", password)
        encrypted = b"ENCRYPTED" in data
        if encrypted and pwd is None:
            raise InvalidKey("private key PEM is encrypted: a password is required")
        if pwd is not None and not encrypted and b"PRIVATE KEY" in data:
            raise InvalidKey("a password was given but the private key PEM is not encrypted")
        return cls(_backend(backend).load_private_pem(data, pwd))

    @classmethod
    def from_scalar(cls, d: int | bytes, *, backend: str | None = None) -> "SM2PrivateKey":
        """Build a key from the secret scalar ``d`` (1 ≤ d ≤ n-2), e.g. for the standard's test vectors.

        Raises:
            InvalidKey: ``d`` out of range or not 32 bytes.
        """
        value = int.from_bytes(d, "big") if isinstance(d, (bytes, bytearray)) else int(d)
        if isinstance(d, (bytes, bytearray)) and len(d) != 32:
            raise InvalidKey(f"SM2 private scalar must be 32 bytes, got {len(d)}")
        if not 1 <= value <= N - 2:
            raise InvalidKey("SM2 private scalar out of range [1, n-2]")
        be = _backend(backend)
        point = cls(be.load_private_pem(_sec1_pem(value, b""), None)).public_key().to_bytes()
        return cls(be.load_private_pem(_sec1_pem(value, point), None))  # PEM export keeps the point

    @property
    def backend(self) -> str:
        """Name of the native backend holding this key."""
        return str(self._key.backend.name)

    def public_key(self) -> SM2PublicKey:
        """The matching public key (shares the native key object)."""
        return self._public

    def sign(self, data: bytes, uid: bytes = DEFAULT_UID) -> bytes:
        """DER signature over ``SM3(Z_A || data)`` with user ID ``uid``.

        Raises:
            TypeError: an argument is not bytes-like.
            ValueError: ``uid`` longer than 8191 bytes.
            CryptoError: the native library failed.
        """
        return self._key.backend.sign(self._key, self._public.digest(data, uid))

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt a DER C1C3C2 ciphertext made by :meth:`SM2PublicKey.encrypt` (or any GM/T 0009 one).

        Raises:
            DecryptionError: malformed, truncated, tampered or for another key.
            TypeError: ``ciphertext`` is not bytes-like.
        """
        blob = _require_bytes("ciphertext", ciphertext)
        raw = ciphertext_to_raw(blob)  # structural check first: clear error, no native parsing of junk
        plain = self._key.backend.decrypt(self._key, blob)
        if plain == raw[97:]:  # GB/T 32918.4 B4: an all-zero KDF output t is an error
            raise DecryptionError("SM2 ciphertext has an all-zero KDF output (GB/T 32918.4 B4)")
        return plain

    def to_pem(self, password: bytes | None = None) -> bytes:
        """PKCS#8 PEM; encrypted (PBES2: PBKDF2-HMAC-SHA256 + SM4-CBC) when ``password`` is given.

        Raises:
            ValueError: ``password`` is empty.
            TypeError: ``password`` is not bytes-like.
            CryptoError: the native library failed.
        """
        pwd = None if password is None else _require_bytes("password", password)
        if pwd is not None and not pwd:
            raise ValueError("password must not be empty (pass None for an unencrypted PEM)")
        return self._key.backend.private_pem(self._key, pwd)

    def __repr__(self) -> str:
        return f"SM2PrivateKey(key_id={self._public.key_id()[:16]}...)"

