"""Independent reference implementation on the pure-Python ``gmssl`` package (tests and benchmarks only).

``gmssl`` is *not* a runtime dependency of ``qcchain-core``; it is imported lazily and
:class:`ReferenceUnavailable` is raised when it is missing (install the root project's ``[test]`` extra).

The adapter speaks the same wire forms as :mod:`qcchain_core.gm`: DER ``SEQUENCE {r, s}`` signatures over
``SM3(Z_A || M)``, DER C1C3C2 ciphertexts, ``ciphertext || tag`` SM4-GCM. Where ``gmssl`` lacks a piece it is
built here from ``gmssl``'s primitives only (Z_A for any user ID from its SM3, the C3 check its decrypt
omits, HMAC from its SM3, GCM from its SM4 block function) so nothing of the native backend is reused.
"""

from __future__ import annotations

import importlib
import secrets
from types import ModuleType
from typing import Any

from qcchain_core.errors import CoreError, DecryptionError, InvalidSignature

__all__ = ["ReferenceUnavailable", "sm3", "hmac_sm3", "z", "public_point", "sign", "verify", "encrypt",
           "decrypt", "sm4_cbc_encrypt", "sm4_cbc_decrypt", "sm4_gcm_encrypt", "sm4_gcm_decrypt",
           "scalar_from_pem", "gmssl_sm2", "N"]


class ReferenceUnavailable(CoreError, ImportError):
    """The optional ``gmssl`` package is not installed."""


def _gm(name: str) -> ModuleType:
    """Import ``gmssl.<name>``. Raises ReferenceUnavailable if gmssl is absent."""
    try:
        return importlib.import_module(f"gmssl.{name}")
    except ImportError as exc:
        raise ReferenceUnavailable("the gmssl reference backend needs the 'gmssl' package "
                                   "(pip install 'qcchain[test]')") from exc


N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def sm3(data: bytes) -> bytes:
    """SM3 digest by gmssl."""
    return bytes.fromhex(_gm("sm3").sm3_hash(list(data)))


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104, block 64) built on gmssl's SM3."""
    if len(key) > 64:
        key = sm3(key)
    key = key.ljust(64, b"\0")
    inner = sm3(bytes(b ^ 0x36 for b in key) + data)
    return sm3(bytes(b ^ 0x5C for b in key) + inner)


def gmssl_sm2(d: int | None, point: bytes | None) -> Any:
    """A ``gmssl.sm2.CryptSM2`` (C1C3C2 mode) for scalar ``d`` and/or point ``04||X||Y``."""
    table = _gm("sm2").default_ecc_table
    obj = _gm("sm2").CryptSM2(private_key="" if d is None else f"{d:064x}", public_key="", ecc_table=table,
                              mode=1)
    obj.public_key = "" if point is None else point[1:].hex()  # gmssl's own lstrip("04") mangles keys
    return obj


def public_point(d: int) -> bytes:
    """``04||X||Y`` = d·G by gmssl's point arithmetic."""
    obj = gmssl_sm2(d, None)
    return b"\x04" + bytes.fromhex(obj._kg(d, obj.ecc_table["g"]))


def z(point: bytes, uid: bytes) -> bytes:
    """Z_A (GB/T 32918.2 §5.5) with gmssl's SM3 and curve table."""
    table = _gm("sm2").default_ecc_table
    head = (len(uid) * 8).to_bytes(2, "big") + uid
    return sm3(head + bytes.fromhex(table["a"] + table["b"] + table["g"]) + point[1:])


def _der_sig(r: int, s: int) -> bytes:
    asn1 = importlib.import_module("Cryptodome.Util.asn1")
    return bytes(asn1.DerSequence([r, s]).encode())


def sign(d: int, data: bytes, uid: bytes, k: int | None = None) -> bytes:
    """DER SM2 signature by gmssl; ``k`` fixes the nonce (for the standard's example)."""
    point = public_point(d)
    e = sm3(z(point, uid) + data)
    while True:
        nonce = k if k is not None else secrets.randbelow(N - 1) + 1
        raw = gmssl_sm2(d, point).sign(e, f"{nonce:064x}")
        if raw is not None:
            return _der_sig(int(raw[:64], 16), int(raw[64:], 16))
        if k is not None:
            raise ValueError("the fixed nonce k gives r = 0 or s = 0")


def verify(point: bytes, signature: bytes, data: bytes, uid: bytes) -> None:
    """Verify a DER signature with gmssl. Raises InvalidSignature."""
    asn1 = importlib.import_module("Cryptodome.Util.asn1")
    try:
        seq = asn1.DerSequence().decode(signature, strict=True)
        r, s = int(seq[0]), int(seq[1])
    except (ValueError, IndexError, TypeError) as exc:
        raise InvalidSignature("reference: signature is not DER SEQUENCE {r, s}") from exc
    if not (0 < r < N and 0 < s < N):
        raise InvalidSignature("reference: r or s out of range")
    e = sm3(z(point, uid) + data)
    if not gmssl_sm2(None, point).verify(f"{r:064x}{s:064x}", e):
        raise InvalidSignature("reference: signature does not verify")


def encrypt(point: bytes, plaintext: bytes) -> bytes:
    """GB/T 32918.4 encryption by gmssl, converted to DER C1C3C2."""
    from qcchain_core.gm.sm2 import ciphertext_from_raw  # noqa: PLC0415 - pure DER helper, no native code

    for _attempt in range(8):
        raw = gmssl_sm2(None, point).encrypt(plaintext)
        if raw is not None:  # gmssl answers None on an all-zero KDF output instead of drawing a new k
            return ciphertext_from_raw(b"\x04" + raw)
    raise DecryptionError("reference: all-zero KDF output 8 times")


def decrypt(d: int, ciphertext: bytes) -> bytes:
    """Decrypt DER C1C3C2 with gmssl and check C3 (gmssl itself does not). Raises DecryptionError."""
    from qcchain_core.gm.sm2 import ciphertext_to_raw  # noqa: PLC0415

    raw = ciphertext_to_raw(ciphertext)[1:]
    obj = gmssl_sm2(d, None)
    xy = obj._kg(d, raw[:64].hex())
    if xy is None:
        raise DecryptionError("reference: C1 is not a valid point")
    plain = obj.decrypt(raw)
    if plain is None:
        raise DecryptionError("reference: all-zero KDF output (GB/T 32918.4 B4)")
    if sm3(bytes.fromhex(xy[:64]) + plain + bytes.fromhex(xy[64:128])) != raw[64:96]:
        raise DecryptionError("reference: C3 hash mismatch")
    return bytes(plain)


def _sm4(key: bytes, decrypt_mode: bool = False) -> Any:
    mod = _gm("sm4")
    obj = mod.CryptSM4()
    obj.set_key(key, mod.SM4_DECRYPT if decrypt_mode else mod.SM4_ENCRYPT)
    return obj


def sm4_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC + PKCS#7 by gmssl."""
    return bytes(_sm4(key).crypt_cbc(iv, plaintext))


def sm4_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """SM4-CBC + PKCS#7 removal by gmssl."""
    return bytes(_sm4(key, True).crypt_cbc(iv, ciphertext))


_R = 0xE1 << 120


def _gmul(x: int, y: int) -> int:
    """Multiplication in GF(2^128) with GCM's bit order (SP 800-38D Algorithm 1)."""
    out = 0
    for i in range(127, -1, -1):
        if (y >> i) & 1:
            out ^= x
        x = (x >> 1) ^ _R if x & 1 else x >> 1
    return out


def _gcm(key: bytes, nonce: bytes, data: bytes, aad: bytes, decrypting: bool) -> tuple[bytes, bytes]:
    cipher = _sm4(key)

    def block(b: bytes) -> bytes:
        return bytes(cipher.one_round(cipher.sk, list(b)))

    h = int.from_bytes(block(bytes(16)), "big")
    j0 = nonce + b"\0\0\0\1"
    out = bytearray()
    for i in range(0, len(data), 16):
        ctr = (int.from_bytes(j0[12:], "big") + 1 + i // 16) & 0xFFFFFFFF
        stream = block(j0[:12] + ctr.to_bytes(4, "big"))
        out += bytes(a ^ b for a, b in zip(data[i:i + 16], stream))
    ct = data if decrypting else bytes(out)
    acc = 0
    for part in (aad, ct):
        for i in range(0, len(part), 16):
            acc = _gmul(acc ^ int.from_bytes(part[i:i + 16].ljust(16, b"\0"), "big"), h)
    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(ct) * 8).to_bytes(8, "big")
    acc = _gmul(acc ^ int.from_bytes(lengths, "big"), h)
    tag = bytes(a ^ b for a, b in zip(acc.to_bytes(16, "big"), block(j0)))
    return bytes(out), tag


def sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """SM4-GCM (12-byte nonce) from gmssl's SM4 block function; ``ciphertext || tag``."""
    ct, tag = _gcm(key, nonce, plaintext, aad, False)
    return ct + tag


def sm4_gcm_decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """Inverse of :func:`sm4_gcm_encrypt`. Raises DecryptionError on a bad tag."""
    if len(data) < 16:
        raise DecryptionError("reference: data shorter than the tag")
    plain, tag = _gcm(key, nonce, data[:-16], aad, True)
    if not secrets.compare_digest(tag, data[-16:]):
        raise DecryptionError("reference: GCM tag mismatch")
    return plain


def scalar_from_pem(pem: bytes) -> int:
    """The secret scalar of an *unencrypted* PKCS#8 SM2 PEM (parsed with pycryptodomex's DER)."""
    import base64  # noqa: PLC0415

    asn1 = importlib.import_module("Cryptodome.Util.asn1")
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
    outer = asn1.DerSequence().decode(base64.b64decode(body))
    inner = asn1.DerSequence().decode(asn1.DerOctetString().decode(outer[2]).payload)
    return int.from_bytes(asn1.DerOctetString().decode(inner[1]).payload, "big")
