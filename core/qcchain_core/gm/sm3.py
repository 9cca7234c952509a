"""SM3 hash (GB/T 32905-2016) and HMAC-SM3 (RFC 2104 with SM3), on OpenSSL via ``cryptography``."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _hmac

__all__ = ["DIGEST_SIZE", "sm3", "hmac_sm3", "SM3Hasher"]

DIGEST_SIZE = 32
_SM3 = hashes.SM3()


def _require_bytes(name: str, value: object) -> bytes:
    """Return ``value`` as bytes. Raises TypeError naming ``name`` if it is not bytes-like."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{name} must be bytes, not {type(value).__name__}")


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data``.

    Raises:
        TypeError: ``data`` is not bytes-like.
    """
    h = hashes.Hash(_SM3)
    h.update(_require_bytes("data", data))
    return h.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC-SM3 of ``data`` under ``key`` (any length; keys over 64 bytes are hashed first).

    Raises:
        TypeError: ``key`` or ``data`` is not bytes-like.
    """
    h = _hmac.HMAC(_require_bytes("key", key), _SM3)
    h.update(_require_bytes("data", data))
    return h.finalize()


class SM3Hasher:
    """Incremental SM3: ``update()`` any number of times, then ``digest()`` (once)."""

    def __init__(self, data: bytes = b"") -> None:
        self._h = hashes.Hash(_SM3)
        if data:
            self.update(data)

    def update(self, data: bytes) -> None:
        """Feed more data. Raises TypeError if not bytes-like, AlreadyFinalized after digest()."""
        self._h.update(_require_bytes("data", data))

    def digest(self) -> bytes:
        """Finish and return the 32-byte digest. Raises AlreadyFinalized if called twice."""
        return self._h.finalize()
