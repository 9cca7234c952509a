"""The console's client of the ingesting org's admin API (``/jsdspcloud/admin`` on the ingestion server,
HTTPS, ``Authorization: Bearer <admin key>``): batches per unit and txcode, refusals with their reasons,
overdue units, appid credentials (list, issue, revoke).

The console does not import the ingestion service's code (same layer): it speaks its HTTP API. The admin
key is read from a file (issued by ``qcchain ingest admin-key issue``) and never logged; a secret that an
issue returns is handed to the page once and kept nowhere.
"""

from __future__ import annotations

import logging
import re
import ssl
from pathlib import Path
from typing import Any

import httpx

from .errors import ConfigError, IngestAdminError

log = logging.getLogger(__name__)

__all__ = ["IngestAdmin", "ADMIN_PATH"]

ADMIN_PATH = "/jsdspcloud/admin"
_KEY = re.compile(r"^qcadm\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$")
_APPID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class IngestAdmin:
    """Calls of the admin API. Thread-safe (one pooled HTTPS client)."""

    def __init__(self, url: str, key_file: Path, ca_file: Path | None = None, timeout: float = 15.0) -> None:
        """Raises ConfigError: the URL is not https, the key file is unreadable or not an admin key, the
        CA file is unusable."""
        if not url.startswith("https://"):
            raise ConfigError("--ingest-url must be an https:// URL")
        try:
            key = key_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--ingest-key-file {key_file}: unreadable ({type(exc).__name__})") from exc
        if not _KEY.match(key):
            raise ConfigError(f"--ingest-key-file {key_file}: not an admin key (qcchain ingest admin-key issue)")
        try:
            verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--ingest-ca {ca_file}: unusable ({type(exc).__name__})") from exc
        self.url_shown = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url_shown + ADMIN_PATH, verify=verify, timeout=timeout,
                                  headers={"authorization": f"Bearer {key}"})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The ``data`` of a successful answer. Raises IngestAdminError: unreachable, refused, not JSON."""
        try:
            answer = self._http.request(method, path, **kwargs)
            body = answer.json()
        except httpx.HTTPError as exc:
            raise IngestAdminError(f"the ingestion server is unreachable ({type(exc).__name__})") from exc
        except ValueError as exc:
            raise IngestAdminError(f"the ingestion server answered HTTP {answer.status_code} without JSON") from exc
        if not isinstance(body, dict) or body.get("rescode") != "1":
            msg = str(body.get("msg", "")) if isinstance(body, dict) else ""
            raise IngestAdminError(f"the ingestion server refused ({answer.status_code}): {' '.join(msg.split())[:200]}")
        return body.get("data")

    def credentials(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/credentials"))

    def issue(self, org_no: str, name: str) -> dict[str, str]:
        """``{"appid", "secret"}``: show the secret once. Raises IngestAdminError (bad credit code, name...)."""
        return dict(self._call("POST", "/credentials", json={"org_no": org_no, "name": name}))

    def revoke(self, appid: str) -> dict[str, str]:
        """Raises IngestAdminError: malformed or unknown appid."""
        if not _APPID.match(appid):
            raise IngestAdminError("an appid is 1..40 letters, digits, '_' or '-'")
        return dict(self._call("POST", f"/credentials/{appid}/revoke"))

    def batches(self, appid: str = "", txcode: str = "", limit: int = 50) -> list[dict[str, Any]]:
        return list(self._call("GET", "/batches", params={"appid": appid, "txcode": txcode, "limit": str(limit)}))

    def units(self) -> dict[str, Any]:
        return dict(self._call("GET", "/units"))

    def refusals(self, appid: str = "", limit: int = 100) -> list[dict[str, Any]]:
        return list(self._call("GET", "/refusals", params={"appid": appid, "limit": str(limit)}))

    def overdue(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/overdue"))
