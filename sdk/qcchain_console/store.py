"""The console's own database (SQLite through SQLAlchemy): staff accounts and the console audit log.

Every chain write made from the console is recorded here with the staff account that made it
(:meth:`Store.record`), next to the chain's own record of the org's identity.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Integer, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from . import ROLES
from .errors import AuthError, UserError
from .passwords import N, P, R, hash_password, verify_password

log = logging.getLogger(__name__)

__all__ = ["Store", "Staff", "AuditEntry", "LOCK_AFTER", "LOCK_SECONDS"]

LOCK_AFTER = 5          # consecutive failures before the account is locked
LOCK_SECONDS = 15 * 60  # how long it stays locked
_DUMMY = f"scrypt${N}${R}${P}${'00' * 16}${'00' * 32}"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class _Base(DeclarativeBase):
    pass


class _StaffRow(_Base):
    __tablename__ = "staff"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(Integer)
    last_login: Mapped[int] = mapped_column(Integer, default=0)


class _AuditRow(_Base):
    __tablename__ = "console_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))
    result: Mapped[str] = mapped_column(Text)
    tx_id: Mapped[str] = mapped_column(String(128), default="")


@dataclass(frozen=True)
class Staff:
    """A staff account as the console shows it (never the hash)."""

    username: str
    role: str
    disabled: bool
    locked_until: int
    created_at: int
    last_login: int


@dataclass(frozen=True)
class AuditEntry:
    """One chain write made through the console, attributed to a staff account."""

    at: int
    username: str
    action: str
    target: str
    result: str
    tx_id: str


def _staff(row: _StaffRow) -> Staff:
    return Staff(row.username, row.role, bool(row.disabled), row.locked_until, row.created_at, row.last_login)


class Store:
    """Staff accounts and the console audit log in ``<state>/console.db``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.engine = create_engine(f"sqlite:///{self.path}", future=True)
        _Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def _get(self, session: Session, username: str) -> _StaffRow:
        row = session.get(_StaffRow, username)
        if row is None:
            raise UserError(f"no staff account {username!r}")
        return row

    # ------------------------------------------------------------------ accounts
    def add(self, username: str, role: str, password: str) -> Staff:
        """Create an account. Raises UserError (bad name or role, weak password, name taken)."""
        if not _NAME.match(username or ""):
            raise UserError("user name must be 1-64 letters, digits, '.', '_', '@', '-'")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        hashed = hash_password(password)
        with self._session.begin() as session:
            if session.get(_StaffRow, username) is not None:
                raise UserError(f"staff account {username!r} exists")
            row = _StaffRow(username=username, role=role, password_hash=hashed, disabled=0, failures=0,
                            locked_until=0, created_at=int(time.time()), last_login=0)
            session.add(row)
        log.info("staff account %s added (role %s)", username, role)
        return _staff(row)

    def list(self) -> list[Staff]:
        with self._session() as session:
            return [_staff(r) for r in session.scalars(select(_StaffRow).order_by(_StaffRow.username))]

    def get(self, username: str) -> Staff | None:
        with self._session() as session:
            row = session.get(_StaffRow, username)
            return None if row is None else _staff(row)

    def set_disabled(self, username: str, disabled: bool) -> Staff:
        """Disable (or enable) an account. Raises UserError if it does not exist."""
        with self._session.begin() as session:
            row = self._get(session, username)
            row.disabled = int(disabled)
        log.info("staff account %s %s", username, "disabled" if disabled else "enabled")
        return _staff(row)

    def reset(self, username: str, password: str) -> Staff:
        """Set a new password and clear the lock-out. Raises UserError (unknown account, weak password)."""
        hashed = hash_password(password)
        with self._session.begin() as session:
            row = self._get(session, username)
            row.password_hash, row.failures, row.locked_until = hashed, 0, 0
        log.info("staff account %s: password reset", username)
        return _staff(row)

    def authenticate(self, username: str, password: str, now: int | None = None) -> Staff:
        """The account if the password is right and the account usable.

        Raises:
            AuthError: unknown user, wrong password, disabled or locked account (one message for the
                first two, so user names cannot be probed).
        """
        now = int(time.time()) if now is None else now
        refusal = ""
        with self._session.begin() as session:  # committed even when refused: failures must count
            row = session.get(_StaffRow, username) if _NAME.match(username or "") else None
            if row is None:
                verify_password(password, _DUMMY)  # same cost for unknown names
                refusal = "wrong user name or password"
            elif row.locked_until > now:
                refusal = "account locked after repeated failures; try later or ask an admin to reset it"
            elif not verify_password(password, row.password_hash):
                row.failures += 1
                if row.failures >= LOCK_AFTER:
                    row.locked_until, row.failures = now + LOCK_SECONDS, 0
                    log.warning("staff account %s locked after %d failed logins", username, LOCK_AFTER)
                refusal = "wrong user name or password"
            elif row.disabled:
                refusal = "account disabled"
            else:
                row.failures, row.last_login = 0, now
        if refusal or row is None:
            raise AuthError(refusal)
        return _staff(row)

    # ------------------------------------------------------------------ audit log
    def record(self, username: str, action: str, target: str, result: str, tx_id: str = "") -> None:
        """Append a console audit entry (what was written on chain, by whom, with what outcome)."""
        with self._session.begin() as session:
            session.add(_AuditRow(at=int(time.time()), username=username, action=action, target=target[:256],
                                  result=result[:2000], tx_id=tx_id))

    def audit_log(self, limit: int = 500) -> list[AuditEntry]:
        with self._session() as session:
            rows = session.scalars(select(_AuditRow).order_by(_AuditRow.id.desc()).limit(limit))
            return [AuditEntry(r.at, r.username, r.action, r.target, r.result, r.tx_id) for r in rows]
