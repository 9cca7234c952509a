"""M (multimedia) fields: files stored once, content-addressed by SM3, in a filesystem blob store; a record
carries ``{name, media_type, sm3, size}``. A file is served only against a grant logged on chain by an
entitled org (``ingest:media_access``) together with the one-time nonce whose SM3 the grant holds.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from qcchain_core.gm import sm3

from .db import media_grants
from .errors import AuthFailed, Refused

log = logging.getLogger(__name__)

__all__ = ["BlobStore", "media_ref", "GRANT_TTL", "check_grant"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MEDIA_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,64}$")
MAX_NAME = 200
GRANT_TTL = 600


def media_ref(name: str, media_type: str, data: bytes) -> dict[str, Any]:
    """The M-field value of a file. Raises Refused: bad name, media type or empty file."""
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or "/" in name or "\\" in name:
        raise Refused("name must be a file name of 1..200 characters", [{"index": None, "field": "name", "reason": "invalid"}])
    if not _MEDIA_TYPE.match(media_type):
        raise Refused("the Content-Type must be a media type such as application/pdf",
                      [{"index": None, "field": "Content-Type", "reason": "not a media type"}])
    if not data:
        raise Refused("the file is empty")
    return {"name": name, "media_type": media_type, "sm3": sm3(data).hex(), "size": len(data)}


class BlobStore:
    """Files under ``root/<sm3[:2]>/<sm3>``; writes are atomic (temp file + rename) and idempotent."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        if not _HEX64.match(digest):
            raise LookupError("not an SM3 digest")
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        """Store ``data``; returns its SM3 (hex). Raises OSError: not writable."""
        digest = sm3(data).hex()
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
        return digest

    def get(self, digest: str) -> bytes:
        """The file with this SM3, re-hashed on read. Raises LookupError: absent or corrupted."""
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise LookupError("no such file") from None
        if sm3(data).hex() != digest:
            raise LookupError("the stored file does not match its SM3")
        return data


def check_grant(engine: Engine, entry: dict[str, Any] | None, digest: str, nonce_hex: str, now: Callable[[], float]) -> None:
    """Accept an on-chain media grant once: it names this file, is fresh and the nonce matches.

    Raises:
        AuthFailed: no grant, another file, stale, wrong nonce or already used (one message for all).
    """
    failed = AuthFailed("no valid media grant for this file")
    try:
        nonce = bytes.fromhex(nonce_hex)
    except ValueError:
        raise failed from None
    if (entry is None or entry.get("sm3") != digest or not hmac.compare_digest(sm3(nonce).hex(), str(entry.get("nonce_sm3")))
            or not 0 <= now() - int(entry.get("at", 0)) <= GRANT_TTL):
        raise failed
    try:
        with engine.begin() as conn:
            conn.execute(media_grants.insert().values(grant=entry["grant"], sm3=digest, used_at=int(now())))
    except IntegrityError:
        raise failed from None
    log.info("served file %s to %s (grant %s)", digest[:16], entry.get("msp"), entry["grant"][:16])
