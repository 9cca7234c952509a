"""The keystore's encrypted key file format, and its password rule.

A key file is PEM-armoured (``-----BEGIN QCCHAIN ENCRYPTED PRIVATE KEY-----``) canonical JSON::

    {"v": 1, "kdf": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": hex16,
     "cipher": "sm4-gcm", "nonce": hex12, "data": hex}

* the key-encryption key is scrypt(password, salt, N=2**17, r=8, p=1, 16 bytes) — 128 MiB and about
  0.3-1 s per unlock, the OWASP minimum for scrypt; a fresh random 16-byte salt per file;
* ``data`` is SM4-GCM(kek, nonce, unencrypted PKCS#8 PEM of the key, aad = the header without ``data``),
  so the KDF parameters cannot be swapped without failing the tag.

Files in the legacy format (OpenSSL PKCS#8 ``ENCRYPTED PRIVATE KEY``, PBKDF2 with 2,048 iterations), or
with weaker scrypt parameters than :data:`SCRYPT_N`/:data:`SCRYPT_R`/:data:`SCRYPT_P`, are read and then
re-encrypted by :class:`qcchain_gateway.keystore.FileKeystore` on their next successful unlock.

:func:`check_strength` is the password rule for new keys: at least 12 characters drawn from at least three
of lowercase, uppercase, digits and other characters, or a passphrase of at least 20 characters.
"""

from __future__ import annotations

import base64
import json
import os
import re

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from qcchain_core.canonical import canonical_json
from qcchain_core.errors import CryptoError
from qcchain_core.gm import sm4_gcm_decrypt, sm4_gcm_encrypt

from qcchain_gateway.keystoreerrors import KeystoreError, WeakPasswordError, WrongPasswordError

__all__ = ["SCRYPT_N", "SCRYPT_R", "SCRYPT_P", "MIN_LENGTH", "PASSPHRASE_LENGTH", "PASSWORD_RULE", "check_strength",
           "is_current", "is_sealed", "seal", "unseal"]

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16  # a file asking for more is refused (no memory/CPU bomb)
MIN_LENGTH, PASSPHRASE_LENGTH = 12, 20
PASSWORD_RULE = (f"at least {MIN_LENGTH} characters with three of lowercase, uppercase, digits and symbols, "
                 f"or a passphrase of at least {PASSPHRASE_LENGTH} characters")
_BEGIN, _END = b"-----BEGIN QCCHAIN ENCRYPTED PRIVATE KEY-----", b"-----END QCCHAIN ENCRYPTED PRIVATE KEY-----"
_CLASSES = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"), re.compile(r"[^a-zA-Z0-9]"))


def check_strength(password: bytes) -> None:
    """Refuse a password for a new key that is shorter or simpler than :data:`PASSWORD_RULE`.

    Raises:
        WeakPasswordError: one line stating the rule (the password is never echoed).
    """
    text = password.decode("utf-8", errors="replace")
    classes = sum(1 for pattern in _CLASSES if pattern.search(text))
    if len(text) >= PASSPHRASE_LENGTH or (len(text) >= MIN_LENGTH and classes >= 3):
        return
    raise WeakPasswordError(f"keystore password is too weak: use {PASSWORD_RULE}")


def _kek(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=16, n=n, r=r, p=p).derive(password)


def seal(pem: bytes, password: bytes) -> bytes:
    """Encrypt an unencrypted PKCS#8 PEM under ``password`` (current parameters); returns the file bytes."""
    salt, nonce = os.urandom(16), os.urandom(12)
    header = {"v": 1, "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex(),
              "cipher": "sm4-gcm", "nonce": nonce.hex()}
    data = sm4_gcm_encrypt(_kek(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P), nonce, pem, canonical_json(header))
    body = base64.encodebytes(canonical_json({**header, "data": data.hex()}))
    return _BEGIN + b"\n" + body + _END + b"\n"


def is_sealed(data: bytes) -> bool:
    """True when ``data`` is in this module's format (else it is a legacy PKCS#8 file)."""
    return data.lstrip().startswith(_BEGIN)


def _header(data: bytes, where: str) -> dict:
    try:
        body = data.strip()[len(_BEGIN):-len(_END)]
        doc = json.loads(base64.b64decode(body, validate=False))
        if not isinstance(doc, dict) or doc.get("v") != 1 or doc.get("kdf") != "scrypt" or doc.get("cipher") != "sm4-gcm":
            raise ValueError("unknown version, kdf or cipher")
        n, r, p = (doc[k] for k in ("n", "r", "p"))
        if not all(isinstance(x, int) and x > 0 for x in (n, r, p)) or n > _MAX_N or r > _MAX_R or p > _MAX_P:
            raise ValueError("scrypt parameters out of range")
        bytes.fromhex(doc["salt"]), bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["data"])
        return doc
    except (ValueError, KeyError, TypeError) as exc:
        raise KeystoreError(f"{where}: not a readable keystore file ({exc})") from exc


def is_current(data: bytes) -> bool:
    """True when a sealed file uses at least the current scrypt parameters (no re-encryption needed)."""
    if not is_sealed(data):
        return False
    doc = _header(data, "key file")
    return doc["n"] >= SCRYPT_N and doc["r"] >= SCRYPT_R and doc["p"] >= SCRYPT_P


def unseal(data: bytes, password: bytes, where: str) -> bytes:
    """The unencrypted PKCS#8 PEM inside a sealed file.

    Raises:
        WrongPasswordError: the password does not open it (or the file was altered).
        KeystoreError: not a readable keystore file.
    """
    doc = _header(data, where)
    header = {k: v for k, v in doc.items() if k != "data"}
    kek = _kek(password, bytes.fromhex(doc["salt"]), doc["n"], doc["r"], doc["p"])
    try:
        return sm4_gcm_decrypt(kek, bytes.fromhex(doc["nonce"]), bytes.fromhex(doc["data"]), canonical_json(header))
    except CryptoError as exc:
        raise WrongPasswordError(f"cannot decrypt {where}: wrong password or corrupt file") from exc
