"""Errors raised by :mod:`qcchain_core`.

Every error also inherits the matching built-in (``ValueError``), so callers that do not know
this package can still catch it.
"""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error raised by qcchain_core."""


class CanonicalJSONError(CoreError, ValueError):
    """A value cannot be encoded as canonical JSON (non-finite float, non-string key, bytes...)."""


class CryptoError(CoreError, ValueError):
    """Base of cryptographic failures."""


class InvalidSignature(CryptoError):
    """A signature does not verify under the given public key and data."""


class InvalidKey(CryptoError):
    """Key material is malformed, of the wrong curve/size, or cannot be decrypted (bad password)."""


class DecryptionError(CryptoError):
    """A ciphertext is malformed, truncated, or fails authentication."""
