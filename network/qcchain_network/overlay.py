"""The node overlay of a running network: peers and orderers added or removed after ``up`` (T-8.2 b).

The consortium file describes the network as it was created; it is never rewritten. Nodes added later
(``network.sh add-peer`` / ``add-orderer``) and nodes removed (``remove-peer`` / ``remove-orderer``) are
kept in ``<out>/nodes.json``::

    {"added": [{"kind": "peer", "org": "Inspection", "index": 2, "host": "peer2.inspection.example",
                "slot": 0}, {"kind": "orderer", "index": 3, "host": "orderer3.example", "slot": 1}],
     "removed": ["orderer0.example"]}

:func:`load` reads it at the entry points, and :func:`qcchain_network.derive.derive` (pure) folds it into
the :class:`~qcchain_network.derive.Layout`, so every command that derives the layout (status, start-node,
stop-node, certs check, down) knows the added nodes. Each added node gets a
port block of its own (its ``slot``), above every port of the consortium's own plan, so the base plan
never moves.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import NetworkError

log = logging.getLogger(__name__)

FILE = "nodes.json"
KINDS = ("peer", "orderer")


class OverlayError(NetworkError, ValueError):
    """The overlay file is unreadable or malformed, or an operation on it is invalid (names what)."""


@dataclass(frozen=True)
class Added:
    """One node added after ``up``."""

    kind: str
    index: int
    host: str
    slot: int
    org: str = ""  # member org name for a peer; "" for an orderer


@dataclass
class Overlay:
    """Nodes added and removed since ``up``."""

    added: list[Added] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The file's JSON document."""
        return {"added": [a.__dict__ for a in self.added], "removed": sorted(self.removed)}

    def next_slot(self) -> int:
        """The lowest port slot no added node uses."""
        used = {a.slot for a in self.added}
        return next(i for i in range(len(used) + 1) if i not in used)

    def with_added(self, node: Added) -> "Overlay":
        """A copy with ``node`` added (and no longer marked removed).

        Raises:
            OverlayError: a node of that host name is already added.
        """
        if any(a.host == node.host for a in self.added):
            raise OverlayError(f"{node.host} is already in the node overlay")
        return Overlay(self.added + [node], [h for h in self.removed if h != node.host])

    def forget(self, host: str) -> "Overlay":
        """A copy with ``host`` dropped from ``added`` and not marked removed (an add that failed)."""
        return Overlay([a for a in self.added if a.host != host], list(self.removed))

    def without(self, host: str, base_hosts: set[str]) -> "Overlay":
        """A copy without ``host``: dropped from ``added`` or (a base node) left out; either way marked
        removed, so its identity is never picked again for a new node.

        Raises:
            OverlayError: ``host`` is neither an added node nor one of ``base_hosts``, or already removed.
        """
        if any(a.host == host for a in self.added):
            return Overlay([a for a in self.added if a.host != host], self.removed + [host])
        if host in base_hosts and host not in self.removed:
            return Overlay(list(self.added), self.removed + [host])
        raise OverlayError(f"no node named {host!r} in the network (see network.sh status)")


def _entry(raw: Any, where: str) -> Added:
    if not isinstance(raw, dict):
        raise OverlayError(f"{where}: expected an object")
    kind, index, host, slot = raw.get("kind"), raw.get("index"), raw.get("host"), raw.get("slot")
    if kind not in KINDS:
        raise OverlayError(f"{where}.kind: must be one of {', '.join(KINDS)}, not {kind!r}")
    if not isinstance(index, int) or index < 0 or not isinstance(slot, int) or slot < 0:
        raise OverlayError(f"{where}: index and slot must be non-negative integers")
    if not isinstance(host, str) or not host:
        raise OverlayError(f"{where}.host: must be a non-empty string")
    org = raw.get("org", "")
    if kind == "peer" and (not isinstance(org, str) or not org):
        raise OverlayError(f"{where}.org: a peer needs its org name")
    return Added(kind, index, host, slot, org if kind == "peer" else "")


def parse(doc: Any, source: str = FILE) -> Overlay:
    """Validate an overlay document.

    Raises:
        OverlayError: not the shape above (names the path of the first problem).
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("added", []), list) \
            or not isinstance(doc.get("removed", []), list):
        raise OverlayError(f"{source}: expected {{\"added\": [...], \"removed\": [...]}}")
    added = [_entry(raw, f"{source}: added[{i}]") for i, raw in enumerate(doc.get("added", []))]
    removed = doc.get("removed", [])
    if not all(isinstance(h, str) and h for h in removed):
        raise OverlayError(f"{source}: removed: must list host names")
    hosts = [a.host for a in added]
    if len(set(hosts)) != len(hosts) or len({a.slot for a in added}) != len(added):
        raise OverlayError(f"{source}: added: a host name or port slot is listed twice")
    return Overlay(added, list(removed))


def load(out: Path) -> Overlay:
    """The overlay of the network in ``out`` (empty when there is none).

    Raises:
        OverlayError: the file exists but is unreadable or malformed.
    """
    path = Path(out) / FILE
    if not path.is_file():
        return Overlay()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OverlayError(f"{path}: unreadable ({exc})") from None
    return parse(doc, str(path))


def save(out: Path, overlay: Overlay) -> Path:
    """Write the overlay atomically; returns its path."""
    path = Path(out) / FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(overlay.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
