"""The embedded broker's authentication and topic ACL, read from the shared credential files
(:mod:`.credentials`): the same rules Mosquitto applies from ``passwd`` and ``acl``.

The files are re-read when their modification time changes, so a revocation takes effect on the next
connection without restarting the broker.
"""

from __future__ import annotations

from pathlib import Path

from .credentials import CredentialStore, DeviceEntry, check_password
from .errors import ReadingRejected
from .topics import SUBSCRIPTION, notification_topic, parse_topic, telemetry_topic

__all__ = ["BrokerAcl"]


class BrokerAcl:
    """Who may connect, publish, subscribe and receive; refreshed from the files when they change."""

    def __init__(self, directory: str | Path) -> None:
        self.store = CredentialStore(directory)
        self._stamp: tuple[int, ...] | None = None
        self.hashes: dict[str, str] = {}
        self.entries: dict[str, DeviceEntry] = {}

    def refresh(self) -> None:
        """Re-read the files if they changed. Raises CredentialError: the registry is corrupt."""
        paths = (self.store.passwd_path, self.store.dir / "devices.json")
        stamp = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)
        if stamp != self._stamp:
            self.entries = {k: e for k, e in self.store.entries().items() if e.status == "active"}
            self.hashes = self.store._hashes()      # noqa: SLF001 - same package
            self._stamp = stamp

    def authenticate(self, username: str | None, password: str | None) -> bool:
        """True for an active account with the right password (PBKDF2: call it off the event loop)."""
        hashed = self.hashes.get(username or "")
        return bool(hashed and password is not None and self.entries.get(username or "")
                    and check_password(password, hashed))

    def may_publish(self, username: str, topic: str) -> bool:
        entry = self.entries.get(username)
        if entry is None:
            return False
        if entry.kind == "device":
            return topic == telemetry_topic(entry.org, entry.device_id)
        return entry.kind == "notifier" and topic == notification_topic(entry.org)

    def may_subscribe(self, username: str, topic_filter: str) -> bool:
        entry = self.entries.get(username)
        if entry is None:
            return False
        if entry.kind == "consumer":
            return topic_filter == SUBSCRIPTION
        return entry.kind == "listener" and topic_filter == notification_topic(entry.org)

    def may_receive(self, username: str, topic: str) -> bool:
        entry = self.entries.get(username)
        if entry is None:
            return False
        if entry.kind == "consumer":
            try:
                parse_topic(topic)
            except ReadingRejected:
                return False
            return True
        return entry.kind == "listener" and topic == notification_topic(entry.org)
