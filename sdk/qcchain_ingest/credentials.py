"""appid / AppSecret credentials of using units (D-B.1): issue, list, revoke, rotate, authenticate.

A secret is shown once and stored only as a salted scrypt hash (``scrypt$N$r$p$salt$hash``). Rotation
keeps the previous secret valid for a grace period; revocation is effective at once and bumps the
credential's ``generation``, which kills every token issued before. Authentication compares in constant
time, hashes a dummy secret for unknown appids (no timing hint which part was wrong), counts attempts
per appid in a window (rate limit) and locks the appid out after repeated failures. Counters live in the
shared database, so replicas agree. Secrets are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from qcchain_model.creditcode import validate_credit_code
from qcchain_model.errors import InvalidCreditCode

from .db import credentials
from .errors import AuthFailed, CredentialError, RateLimited

log = logging.getLogger(__name__)

__all__ = ["Policy", "CredentialStore", "hash_secret", "check_secret"]

_SCRYPT = (2 ** 14, 8, 1)
_APPID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DUMMY = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32


@dataclass(frozen=True)
class Policy:
    """Lock-out and rate-limit settings (seconds / counts)."""

    max_failures: int = 5
    lockout_s: int = 900
    window_s: int = 60
    max_attempts: int = 30
    grace_s: int = 86400


def hash_secret(secret: str) -> str:
    """A fresh salted scrypt hash of ``secret``."""
    n, r, p = _SCRYPT
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    """Constant-time check of ``secret`` against a stored hash (False for a malformed hash)."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        computed = hashlib.scrypt(secret.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                  dklen=32)
        return hmac.compare_digest(computed, bytes.fromhex(digest))
    except (ValueError, TypeError):
        return False


class CredentialStore:
    """Credentials in the service database. ``now`` is injected (seconds)."""

    def __init__(self, engine: Engine, now: Callable[[], float], policy: Policy = Policy()) -> None:
        self.engine, self.now, self.policy = engine, now, policy

    def issue(self, org_no: str, name: str) -> dict[str, str]:
        """A new appid bound to one using unit; returns ``{"appid", "secret"}`` (the secret is shown once).

        Raises:
            CredentialError: the credit code is invalid or the name empty / longer than 200 characters.
        """
        try:
            validate_credit_code(org_no)
        except InvalidCreditCode as exc:
            raise CredentialError(f"org-no: {exc}") from exc
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise CredentialError("name must be 1..200 characters")
        appid, secret = "qc" + secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(credentials.insert().values(
                appid=appid, org_no=org_no, name=name.strip(), secret_hash=hash_secret(secret), prev_hash="",
                prev_until=0, status="active", generation=1, created_at=int(self.now()), failures=0,
                window_start=0, attempts=0, locked_until=0))
        log.info("issued appid %s for unit %s", appid, org_no)
        return {"appid": appid, "secret": secret}

    def list(self) -> list[dict[str, Any]]:
        """Every credential without hashes, sorted by appid."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(credentials).order_by(credentials.c.appid)).mappings().all()
        return [{"appid": r["appid"], "org_no": r["org_no"], "name": r["name"], "status": r["status"],
                 "created_at": r["created_at"], "locked": r["locked_until"] > self.now(),
                 "previous_secret_valid_until": r["prev_until"] if r["prev_hash"] else 0} for r in rows]

    def _row(self, conn: Any, appid: str) -> Any:
        if not isinstance(appid, str) or not _APPID.match(appid):
            return None
        return conn.execute(select(credentials).where(credentials.c.appid == appid)).mappings().first()

    def get(self, appid: str) -> dict[str, Any] | None:
        """The credential row of ``appid`` (with hashes: internal use), or None."""
        with self.engine.connect() as conn:
            row = self._row(conn, appid)
        return dict(row) if row else None

    def revoke(self, appid: str) -> None:
        """Revoke at once (outstanding tokens die with it). Raises CredentialError: unknown appid."""
        with self.engine.begin() as conn:
            row = self._row(conn, appid)
            if row is None:
                raise CredentialError("unknown appid")
            conn.execute(update(credentials).where(credentials.c.appid == appid).values(
                status="revoked", generation=row["generation"] + 1, prev_hash="", prev_until=0))
        log.info("revoked appid %s", appid)

    def rotate(self, appid: str) -> dict[str, str]:
        """A new secret; the old one stays valid for the grace period. Raises CredentialError: unknown/revoked."""
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            row = self._row(conn, appid)
            if row is None or row["status"] != "active":
                raise CredentialError("unknown or revoked appid")
            conn.execute(update(credentials).where(credentials.c.appid == appid).values(
                secret_hash=hash_secret(secret), prev_hash=row["secret_hash"],
                prev_until=int(self.now()) + self.policy.grace_s))
        log.info("rotated the secret of appid %s", appid)
        return {"appid": appid, "secret": secret}

    def _count_attempt(self, conn: Any, row: Any, now: int) -> None:
        """Rate limit per appid. Raises RateLimited: too many attempts or locked out."""
        if row["locked_until"] > now:
            raise RateLimited("authentication failed")
        fresh = now - row["window_start"] >= self.policy.window_s
        attempts = 1 if fresh else row["attempts"] + 1
        conn.execute(update(credentials).where(credentials.c.appid == row["appid"]).values(
            attempts=attempts, window_start=now if fresh else row["window_start"]))
        if attempts > self.policy.max_attempts:
            raise RateLimited("authentication failed")

    def authenticate(self, appid: Any, secret: Any) -> dict[str, Any]:
        """The credential if ``secret`` is its current (or in-grace previous) secret.

        Raises:
            AuthFailed: unknown appid, wrong secret, revoked, locked out (one message for all).
            RateLimited: too many attempts for this appid.
        """
        now = int(self.now())
        secret = secret if isinstance(secret, str) else ""
        with self.engine.begin() as conn:
            row = self._row(conn, appid) if isinstance(appid, str) else None
            if row is None:
                check_secret(secret, _DUMMY)  # same work as a known appid
                raise AuthFailed("authentication failed")
            self._count_attempt(conn, row, now)
            ok = check_secret(secret, row["secret_hash"])
            if not ok and row["prev_hash"] and row["prev_until"] > now:
                ok = check_secret(secret, row["prev_hash"])
            if ok and row["status"] == "active":
                conn.execute(update(credentials).where(credentials.c.appid == appid).values(failures=0))
                return dict(row)
            failures = row["failures"] + 1
            locked = now + self.policy.lockout_s if failures >= self.policy.max_failures else row["locked_until"]
            conn.execute(update(credentials).where(credentials.c.appid == appid).values(
                failures=0 if failures >= self.policy.max_failures else failures, locked_until=locked))
        log.warning("authentication of appid %s failed (%d in a row)", appid, failures)
        raise AuthFailed("authentication failed")
