"""amqtt plugins enforcing the shared credential files (:mod:`.credentials`): authentication against
``passwd`` and the per-device topic ACL — the same rules Mosquitto applies from the same files.

The files are re-read when their modification time changes, so a revocation takes effect on the next
connection without restarting the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from .credentials import CredentialStore, DeviceEntry, check_password
from .topics import SUBSCRIPTION, parse_topic
from .errors import ReadingRejected

__all__ = ["DeviceAuthPlugin", "DeviceTopicPlugin"]


class _Snapshot:
    """Cached view of the credential files, refreshed when they change."""

    def __init__(self, directory: str) -> None:
        self.store = CredentialStore(directory)
        self._stamp: tuple[float, float] | None = None
        self.hashes: dict[str, str] = {}
        self.entries: dict[str, DeviceEntry] = {}

    def refresh(self) -> None:
        paths = (self.store.passwd_path, Path(self.store.dir / "devices.json"))
        stamp = tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in paths)
        if stamp != self._stamp:
            self.entries = {k: e for k, e in self.store.entries().items() if e.status == "active"}
            self.hashes = self.store._hashes()      # noqa: SLF001 - same package
            self._stamp = stamp  # type: ignore[assignment]


_SNAPSHOTS: dict[str, _Snapshot] = {}


def _snapshot(directory: str) -> _Snapshot:
    snap = _SNAPSHOTS.setdefault(directory, _Snapshot(directory))
    snap.refresh()
    return snap


class DeviceAuthPlugin(BaseAuthPlugin):
    """Accept a connection only with an active account's username and password."""

    @dataclass
    class Config:
        credentials_dir: str = ""

    async def authenticate(self, *, session: Session) -> bool:
        snap = _snapshot(self.config.credentials_dir)
        hashed = snap.hashes.get(session.username or "")
        return bool(hashed and session.password is not None and snap.entries.get(session.username or "")
                    and check_password(str(session.password), hashed))


class DeviceTopicPlugin(BaseTopicPlugin):
    """A device publishes only to its own telemetry topic; a consumer only subscribes to telemetry."""

    @dataclass
    class Config:
        credentials_dir: str = ""

    async def topic_filtering(self, *, session: Session | None = None, topic: str | None = None,
                              action: Action | None = None) -> bool:
        snap = _snapshot(self.config.credentials_dir)
        entry = snap.entries.get(session.username or "") if session else None
        if entry is None or topic is None:
            return False
        if entry.kind == "consumer":
            if action == Action.SUBSCRIBE:
                return topic == SUBSCRIPTION
            if action == Action.RECEIVE:
                try:
                    parse_topic(topic)
                except ReadingRejected:
                    return False
                return True
            return False
        return action == Action.PUBLISH and topic == f"qcchain/{entry.org}/devices/{entry.device_id}/telemetry"
