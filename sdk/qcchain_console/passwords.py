"""Password hashing with scrypt (a memory-hard, slow KDF; stdlib ``hashlib.scrypt``).

Stored form: ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``; verification is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from .errors import UserError

N, R, P = 2**15, 8, 1
MIN_LENGTH = 10
_MAXMEM = 128 * 1024 * 1024


def check_strength(password: str) -> None:
    """Raises UserError when the password is shorter than :data:`MIN_LENGTH` or all one character class."""
    if len(password) < MIN_LENGTH:
        raise UserError(f"password must have at least {MIN_LENGTH} characters")
    classes = sum(any(f(c) for c in password) for f in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum()))
    if classes < 2:
        raise UserError("password must mix at least two of: lower case, upper case, digits, symbols")


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password``. Raises UserError if it is too weak."""
    check_strength(password)
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; False (never raises) on a malformed stored hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=_MAXMEM, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)
