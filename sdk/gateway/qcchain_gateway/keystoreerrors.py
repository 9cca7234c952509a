"""Errors of the file keystore (:mod:`qcchain_gateway.keystore`).

Kept apart from :mod:`qcchain_gateway.errors` (the Gateway call errors): a keystore failure is a local file
or key problem, never a Gateway answer. Each also inherits the matching built-in.
"""

from __future__ import annotations

from qcchain_gateway.errors import SdkError

__all__ = ["KeyExistsError", "KeyNotFoundError", "KeystoreError", "WeakPasswordError", "WrongPasswordError"]


class KeystoreError(SdkError, ValueError):
    """A keystore operation failed (bad label, unreadable file, unsupported key)."""


class KeyNotFoundError(KeystoreError, LookupError):
    """No key is stored under the requested label."""


class KeyExistsError(KeystoreError, FileExistsError):
    """A key is already stored under the label and overwriting was not requested."""


class WrongPasswordError(KeystoreError):
    """The keystore file could not be decrypted with the given password."""


class WeakPasswordError(KeystoreError):
    """A new key's password does not meet the keystore's minimum strength."""
