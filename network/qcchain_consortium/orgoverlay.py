"""The membership overlay of a running network: organisations that joined or left after ``up`` (T-5.1).

Like the node overlay (:mod:`qcchain_network.overlay`), the consortium file is never rewritten. Joins and
leaves are kept, in the order they happened, in ``<out>/orgs.json``::

    {"events": [{"action": "join", "org_file": {...the org file...}, "home": "/abs/dir" | null},
                {"action": "leave", "msp_id": "Inspection2MSP"},
                {"action": "channel", "channel": "qc2", "members": ["Regulator", "Inspection"]},
                {"action": "channel-join", "channel": "qc2", "org": "UsingUnit"}]}

``home`` is the joined org's own crypto home when it runs its processes on this host (a test network);
``null`` when it runs elsewhere and only its public material was handed over (then under ``out/crypto``).
:func:`fold` applies the events to the consortium (:func:`qcchain_consortium.membership.admit` /
:func:`~qcchain_consortium.membership.retire`); :func:`qcchain_network.netdir.load_layout` does it, so
``status``, ``certs check``, connection profiles, ``deploy`` and the node commands see the new members; the
devnet folds the same file of its state directory when it starts (``qcchain devnet add-org``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import NetworkError
from .consortium import Consortium
from .membership import JoiningOrg, MembershipError, admit, join_channel, new_channel, parse_org_file, retire

log = logging.getLogger(__name__)

FILE = "orgs.json"


class OrgOverlayError(NetworkError, ValueError):
    """``orgs.json`` is unreadable or malformed, or its events do not apply to the consortium."""


@dataclass(frozen=True)
class Event:
    """One join or leave of an org, a channel added (``channel``: ``channel``, ``members``) or an org
    joining an existing channel (``channel-join``: ``channel``, ``org``)."""

    action: str
    joining: JoiningOrg | None = None
    home: str | None = None
    msp_id: str = ""
    channel: str = ""
    members: tuple[str, ...] = ()
    org: str = ""

    def to_json(self) -> dict[str, Any]:
        """The event's JSON object."""
        if self.action == "join" and self.joining is not None:
            return {"action": "join", "org_file": self.joining.to_json(), "home": self.home}
        if self.action == "channel":
            return {"action": "channel", "channel": self.channel, "members": list(self.members)}
        if self.action == "channel-join":
            return {"action": "channel-join", "channel": self.channel, "org": self.org}
        return {"action": "leave", "msp_id": self.msp_id}


@dataclass
class OrgOverlay:
    """Joins and leaves since ``up``, in order."""

    events: list[Event] = field(default_factory=list)

    def with_event(self, event: Event) -> "OrgOverlay":
        """A copy with ``event`` appended."""
        return OrgOverlay(self.events + [event])

    def homes(self) -> dict[str, Path]:
        """Joined org name -> its crypto home (those that have one here)."""
        return {e.joining.org.name: Path(e.home) for e in self.events
                if e.action == "join" and e.joining is not None and e.home}


def fold(consortium: Consortium, ovl: OrgOverlay) -> Consortium:
    """``consortium`` with every event applied in order (pure).

    Raises:
        OrgOverlayError: an event does not apply (names it).
    """
    for i, event in enumerate(ovl.events):
        try:
            if event.action == "join" and event.joining is not None:
                consortium = admit(consortium, event.joining)
            elif event.action == "channel":
                consortium = new_channel(consortium, event.channel, list(event.members))
            elif event.action == "channel-join":
                consortium = join_channel(consortium, event.channel, event.org)
            else:
                consortium = retire(consortium, event.msp_id)
        except MembershipError as exc:
            raise OrgOverlayError(f"{FILE}: events[{i}]: {exc}") from None
    return consortium


def parse(doc: Any, source: str = FILE) -> OrgOverlay:
    """Validate an ``orgs.json`` document.

    Raises:
        OrgOverlayError: not the shape above (names the first problem).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise OrgOverlayError(f"{source}: expected {{\"events\": [...]}}")
    events = []
    for i, raw in enumerate(doc["events"]):
        where = f"{source}: events[{i}]"
        if not isinstance(raw, dict) or raw.get("action") not in ("join", "leave", "channel", "channel-join"):
            raise OrgOverlayError(f"{where}: action must be join, leave, channel or channel-join")
        if raw["action"] in ("channel", "channel-join"):
            events.append(_channel_event(raw, where))
        elif raw["action"] == "join":
            home = raw.get("home")
            if home is not None and (not isinstance(home, str) or not Path(home).is_absolute()):
                raise OrgOverlayError(f"{where}.home: must be an absolute path or null")
            try:
                events.append(Event("join", parse_org_file(raw.get("org_file"), f"{where}.org_file"), home))
            except MembershipError as exc:
                raise OrgOverlayError(str(exc)) from None
        else:
            msp = raw.get("msp_id")
            if not isinstance(msp, str) or not msp:
                raise OrgOverlayError(f"{where}.msp_id: must be an MSP ID")
            events.append(Event("leave", msp_id=msp))
    return OrgOverlay(events)


def _channel_event(raw: dict[str, Any], where: str) -> Event:
    channel = raw.get("channel")
    if not isinstance(channel, str) or not channel:
        raise OrgOverlayError(f"{where}.channel: must be a channel name")
    if raw["action"] == "channel":
        members = raw.get("members")
        if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
            raise OrgOverlayError(f"{where}.members: must list org names")
        return Event("channel", channel=channel, members=tuple(members))
    org = raw.get("org")
    if not isinstance(org, str) or not org:
        raise OrgOverlayError(f"{where}.org: must be an org name")
    return Event("channel-join", channel=channel, org=org)


def load(out: Path) -> OrgOverlay:
    """The membership overlay of the network in ``out`` (empty when there is none).

    Raises:
        OrgOverlayError: the file exists but is unreadable or malformed.
    """
    path = Path(out) / FILE
    if not path.is_file():
        return OrgOverlay()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OrgOverlayError(f"{path}: unreadable ({exc})") from None
    return parse(doc, str(path))


def save(out: Path, ovl: OrgOverlay) -> Path:
    """Write the overlay atomically; returns its path."""
    path = Path(out) / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"events": [e.to_json() for e in ovl.events]}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
