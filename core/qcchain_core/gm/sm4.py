"""SM4 (GB/T 32907-2016) in GCM (authenticated) and CBC with PKCS#7 padding, on OpenSSL via ``cryptography``.

GCM output is ``ciphertext || 16-byte tag`` with a 12-byte nonce (NIST SP 800-38D with SM4 as the block
cipher, as in RFC 8998). A nonce must never be reused under the same key. CBC output is the bare
ciphertext; the caller supplies and transports the 16-byte IV.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..errors import DecryptionError, InvalidKey
from .sm3 import _require_bytes

__all__ = ["KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "BLOCK_SIZE",
           "sm4_gcm_encrypt", "sm4_gcm_decrypt", "sm4_cbc_encrypt", "sm4_cbc_decrypt"]

KEY_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
BLOCK_SIZE = 16


def _check(key: object, iv: object, iv_name: str, iv_size: int) -> tuple[bytes, bytes]:
    """Validate key and IV/nonce sizes. Raises InvalidKey (key), ValueError (iv), TypeError (types)."""
    k = _require_bytes("key", key)
    n = _require_bytes(iv_name, iv)
    if len(k) != KEY_SIZE:
        raise InvalidKey(f"SM4 key must be {KEY_SIZE} bytes, got {len(k)}")
    if len(n) != iv_size:
        raise ValueError(f"SM4 {iv_name} must be {iv_size} bytes, got {len(n)}")
    return k, n


def sm4_gcm_encrypt(key16: bytes, nonce12: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """Encrypt and authenticate; returns ``ciphertext || tag``.

    Raises:
        InvalidKey: key is not 16 bytes.
        ValueError: nonce is not 12 bytes.
        TypeError: an argument is not bytes-like.
    """
    key, nonce = _check(key16, nonce12, "nonce", NONCE_SIZE)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(_require_bytes("aad", aad))
    body = enc.update(_require_bytes("plaintext", plaintext)) + enc.finalize()
    return body + enc.tag


def sm4_gcm_decrypt(key16: bytes, nonce12: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """Verify the tag and decrypt ``ciphertext || tag``; nothing is returned unless the tag verifies.

    Raises:
        DecryptionError: data shorter than a tag, or authentication failed (tampered data, tag,
            AAD, wrong key or nonce).
        InvalidKey: key is not 16 bytes.
        ValueError: nonce is not 12 bytes.
        TypeError: an argument is not bytes-like.
    """
    key, nonce = _check(key16, nonce12, "nonce", NONCE_SIZE)
    blob = _require_bytes("data", data)
    if len(blob) < TAG_SIZE:
        raise DecryptionError(f"SM4-GCM data is {len(blob)} bytes, shorter than the {TAG_SIZE}-byte tag")
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, blob[-TAG_SIZE:])).decryptor()
    dec.authenticate_additional_data(_require_bytes("aad", aad))
    try:
        return dec.update(blob[:-TAG_SIZE]) + dec.finalize()
    except InvalidTag:
        raise DecryptionError("SM4-GCM authentication failed: data, tag, AAD, key or nonce is wrong") from None


def sm4_cbc_encrypt(key16: bytes, iv16: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC with PKCS#7 padding (always adds 1..16 bytes).

    Raises:
        InvalidKey: key is not 16 bytes.
        ValueError: IV is not 16 bytes.
        TypeError: an argument is not bytes-like.
    """
    key, iv = _check(key16, iv16, "iv", BLOCK_SIZE)
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(_require_bytes("plaintext", plaintext)) + padder.finalize()
    enc = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return enc.update(padded) + enc.finalize()


def sm4_cbc_decrypt(key16: bytes, iv16: bytes, ciphertext: bytes) -> bytes:
    """Decrypt SM4-CBC and strip PKCS#7 padding. CBC is not authenticated: prefer GCM.

    Raises:
        DecryptionError: length not a positive multiple of 16, or the padding is invalid.
        InvalidKey: key is not 16 bytes.
        ValueError: IV is not 16 bytes.
        TypeError: an argument is not bytes-like.
    """
    key, iv = _check(key16, iv16, "iv", BLOCK_SIZE)
    blob = _require_bytes("ciphertext", ciphertext)
    if not blob or len(blob) % BLOCK_SIZE:
        raise DecryptionError(f"SM4-CBC ciphertext length {len(blob)} is not a positive multiple of 16")
    dec = Cipher(algorithms.SM4(key), modes.CBC(iv)).decryptor()
    padded = dec.update(blob) + dec.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionError("SM4-CBC padding is invalid (wrong key/IV or corrupted data)") from None
