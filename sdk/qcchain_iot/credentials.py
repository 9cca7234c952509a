"""Per-device MQTT credentials, kept as ONE set of files both brokers read:

* ``passwd`` — Mosquitto's password file (``user:$7$iterations$salt$hash``, PBKDF2-HMAC-SHA512), so
  Mosquitto uses it as is and the embedded broker's auth plugin verifies the same entries;
* ``acl`` — Mosquitto's ACL file: each device may only *write* its own telemetry topic, consumers may
  only *read* telemetry; an org's ``notifier`` only *writes* and its ``listener`` accounts only *read* the
  org's notification topic;
* ``devices.json`` — device id -> org, device type, equipment code (regNo), status, generation.

Secrets are generated here, returned once and never stored in clear. Revoking removes the device from
``passwd`` and ``acl`` (a reload makes the broker refuse it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import CredentialError
from .topics import SUBSCRIPTION, check_id, notification_topic, telemetry_topic

log = logging.getLogger(__name__)

__all__ = ["DeviceEntry", "CredentialStore", "hash_password", "check_password", "ITERATIONS", "KINDS"]

ITERATIONS = 20000
KINDS = ("device", "consumer", "notifier", "listener")
# kind -> (ACL access, topic of an entry)
_ACL = {"device": ("write", lambda e: telemetry_topic(e.org, e.device_id)),
        "consumer": ("read", lambda e: SUBSCRIPTION),
        "notifier": ("write", lambda e: notification_topic(e.org)),
        "listener": ("read", lambda e: notification_topic(e.org))}


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    """Mosquitto ``$7$`` hash of ``password``."""
    salt = secrets.token_bytes(12)
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def check_password(password: str, hashed: str) -> bool:
    """True if ``password`` matches a ``$7$`` hash (constant-time); False for any other format."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations, salt, want = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    if not 1 <= iterations <= 10_000_000:
        return False
    return hmac.compare_digest(hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations), want)


@dataclass
class DeviceEntry:
    device_id: str
    org: str
    kind: str                 # one of KINDS
    device_type: str = ""
    reg_no: str = ""
    status: str = "active"    # active | revoked
    generation: int = 1


class CredentialStore:
    """The credential files in ``directory`` (created if missing)."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.passwd_path, self.acl_path = self.dir / "passwd", self.dir / "acl"
        self._meta_path = self.dir / "devices.json"

    def entries(self) -> dict[str, DeviceEntry]:
        """Every known account. Raises CredentialError: the registry file is corrupt."""
        if not self._meta_path.exists():
            return {}
        try:
            return {k: DeviceEntry(**v) for k, v in json.loads(self._meta_path.read_text()).items()}
        except (ValueError, TypeError) as exc:
            raise CredentialError(f"{self._meta_path} is not a device registry") from exc

    def active_devices(self) -> dict[str, str]:
        """Active device id -> device type."""
        return {e.device_id: e.device_type for e in self.entries().values()
                if e.kind == "device" and e.status == "active"}

    def _hashes(self) -> dict[str, str]:
        if not self.passwd_path.exists():
            return {}
        out = {}
        for line in self.passwd_path.read_text().splitlines():
            if ":" in line:
                user, hashed = line.split(":", 1)
                out[user] = hashed
        return out

    def _write(self, entries: dict[str, DeviceEntry], hashes: dict[str, str]) -> None:
        active = {k: e for k, e in sorted(entries.items()) if e.status == "active" and k in hashes}
        lines = [f"{k}:{hashes[k]}" for k in active]
        acl = []
        for k, e in active.items():
            access, topic = _ACL[e.kind]
            acl += [f"user {k}", f"topic {access} {topic(e)}", ""]
        for path, text in ((self.passwd_path, "\n".join(lines) + "\n"), (self.acl_path, "\n".join(acl) + "\n"),
                           (self._meta_path, json.dumps({k: asdict(e) for k, e in sorted(entries.items())},
                                                        indent=1))):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)

    def issue(self, device_id: str, org: str, kind: str = "device", device_type: str = "",
              reg_no: str = "") -> str:
        """Create (or rotate) an account and return its new password (shown once).

        Raises:
            CredentialError: bad id, org or kind.
        """
        try:
            check_id(device_id, "device id")
            check_id(org, "org")
        except ValueError as exc:
            raise CredentialError(str(exc)) from exc
        if kind not in KINDS:
            raise CredentialError(f"kind must be one of {', '.join(KINDS)}")
        entries, hashes = self.entries(), self._hashes()
        old = entries.get(device_id)
        generation = old.generation + 1 if old else 1
        password = secrets.token_urlsafe(24)
        entries[device_id] = DeviceEntry(device_id, org, kind, device_type, reg_no, "active", generation)
        hashes[device_id] = hash_password(password)
        self._write(entries, hashes)
        log.info("credentials issued for %s (generation %d)", device_id, generation)
        return password

    def credential_hash(self, device_id: str) -> str:
        """The stored password hash (``$7$...``) of an account: what the chain binds a device to.

        Raises:
            CredentialError: unknown account.
        """
        hashed = self._hashes().get(device_id)
        if hashed is None:
            raise CredentialError(f"no broker account {device_id}")
        return hashed

    def revoke(self, device_id: str) -> None:
        """Revoke an account (kept in the registry as revoked). Raises CredentialError: unknown id."""
        entries, hashes = self.entries(), self._hashes()
        if device_id not in entries:
            raise CredentialError(f"unknown device {device_id}")
        entries[device_id].status = "revoked"
        hashes.pop(device_id, None)
        self._write(entries, hashes)
        log.info("credentials revoked for %s", device_id)

    def authenticate(self, username: str | None, password: str | None) -> bool:
        """True if ``username`` is active and ``password`` matches (read from the files each time)."""
        if not username or password is None:
            return False
        hashed = self._hashes().get(username)
        return hashed is not None and check_password(password, hashed)

    def may(self, username: str | None, topic: str, write: bool) -> bool:
        """True if the ACL allows ``username`` to publish (``write``) to / subscribe to ``topic``."""
        entry = self.entries().get(username or "")
        if entry is None or entry.status != "active":
            return False
        access, allowed = _ACL[entry.kind]
        return (access == "write") == write and topic == allowed(entry)
