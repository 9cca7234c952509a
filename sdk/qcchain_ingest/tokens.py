"""Access tokens (D-B.2): bound to an appid, expiring (default 2 h), valid across restarts and replicas.

A token is ``v1.<kid>.<payload>.<mac>`` (base64url): payload = canonical JSON ``{"a": appid, "e": expiry,
"g": credential generation}``, mac = HMAC-SM3 under the key ``kid`` kept in the shared database (created
by the first replica that needs one, read by the others). Verification checks the MAC in constant time,
the expiry, and that the credential is still active at the same generation — so a revocation kills its
tokens at once. Tokens are never logged.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.errors import CanonicalJSONError
from qcchain_core.gm import hmac_sm3

from .credentials import CredentialStore
from .db import token_keys
from .errors import AuthFailed

log = logging.getLogger(__name__)

__all__ = ["TokenService", "DEFAULT_TTL"]

DEFAULT_TTL = 7200
KEY_LIFETIME = 30 * 86400


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenService:
    """Issues and checks tokens; signing keys come from the shared database."""

    def __init__(self, engine: Engine, store: CredentialStore, now: Callable[[], float], ttl: int = DEFAULT_TTL) -> None:
        self.engine, self.store, self.now, self.ttl = engine, store, now, ttl
        self._keys: dict[str, bytes] = {}

    def _current_key(self) -> tuple[str, bytes]:
        now = int(self.now())
        with self.engine.connect() as conn:
            row = conn.execute(select(token_keys).where(token_keys.c.created_at > now - KEY_LIFETIME)
                               .order_by(token_keys.c.created_at.desc(), token_keys.c.kid)).first()
        if row is None:
            kid, secret = secrets.token_hex(8), secrets.token_bytes(32)
            try:
                with self.engine.begin() as conn:
                    conn.execute(token_keys.insert().values(kid=kid, secret=secret.hex(), created_at=now))
            except IntegrityError:  # another replica raced us: use whatever is there now
                return self._current_key()
            return kid, secret
        self._keys[row.kid] = bytes.fromhex(row.secret)
        return row.kid, self._keys[row.kid]

    def _key(self, kid: str) -> bytes | None:
        if kid not in self._keys:
            with self.engine.connect() as conn:
                row = conn.execute(select(token_keys).where(token_keys.c.kid == kid)).first()
            if row is None:
                return None
            self._keys[kid] = bytes.fromhex(row.secret)
        return self._keys[kid]

    def issue(self, credential: dict[str, Any]) -> dict[str, Any]:
        """A token for an authenticated credential: ``{"access_token", "expires_in"}``."""
        kid, key = self._current_key()
        payload = canonical_json({"a": credential["appid"], "e": int(self.now()) + self.ttl, "g": credential["generation"]})
        mac = hmac_sm3(key, kid.encode("ascii") + b"." + payload)
        return {"access_token": f"v1.{kid}.{_b64(payload)}.{_b64(mac)}", "expires_in": self.ttl}

    def verify(self, token: Any) -> dict[str, Any]:
        """The active credential the token was issued for.

        Raises:
            AuthFailed: malformed, forged, expired, or its credential revoked (one message for all).
        """
        failed = AuthFailed("access_token is invalid or expired")
        if not isinstance(token, str) or len(token) > 512 or token.count(".") != 3:
            raise failed
        version, kid, body, mac = token.split(".")
        key = self._key(kid) if version == "v1" and len(kid) == 16 else None
        try:
            payload, given = _unb64(body), _unb64(mac)
        except ValueError:
            raise failed from None
        if key is None or not hmac.compare_digest(hmac_sm3(key, kid.encode("ascii") + b"." + payload), given):
            raise failed
        try:
            claims = canonical_loads(payload)
        except (CanonicalJSONError, ValueError):
            raise failed from None
        if not isinstance(claims, dict) or not isinstance(claims.get("e"), int) or claims["e"] <= self.now():
            raise failed
        credential = self.store.get(claims.get("a"))
        if credential is None or credential["status"] != "active" or credential["generation"] != claims.get("g"):
            raise failed
        return credential
