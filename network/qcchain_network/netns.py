"""Hosts simulated on one machine: each host address of a network's processes in its own Linux network
namespace (``ip netns``), so TLS names, advertised endpoints, gossip, deliver and the gateway cross real
network boundaries.

The namespaces themselves (and the veth pairs and bridge joining them) are made by whoever simulates the
hosts (``tests/integration/test_fabric_netns.py``); this module only records which address lives in which
namespace (``<out>/netns.json``: ``{"namespaces": {address: namespace}}``) and puts ``ip netns exec
NAMESPACE`` in front of the command of a node whose address is in one (:func:`wrap`, used by
:class:`qcchain_network.backend.NetnsBackend`; ``ip netns exec`` replaces itself with the node, so its PID
and process group are the node's and ``down`` stops it as any native process). Everything else -- admin commands, health checks, the chaincode servers, SDK clients --
runs where it is and reaches the nodes over the network like another host would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .derive import Layout
from .errors import NetworkError

__all__ = ["FILE", "NetnsError", "record", "load", "wrap"]

FILE = "netns.json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class NetnsError(NetworkError, ValueError):
    """The namespace map is malformed or names an address no node of the network has (one line)."""


def _check(mapping: dict[str, str], where: str) -> dict[str, str]:
    if not isinstance(mapping, dict) or not mapping:
        raise NetnsError(f"{where}: expected a non-empty map of host address -> network namespace")
    for address, name in mapping.items():
        if not isinstance(address, str) or not isinstance(name, str) or not NAME.match(name):
            raise NetnsError(f"{where}: {address!r} -> {name!r}: not a host address and a namespace name")
    return dict(mapping)


def record(out: Path, mapping: dict[str, str], layout: Layout | None = None) -> Path:
    """Write ``<out>/netns.json`` (host address -> namespace); with ``layout``, every address must be a
    node's address in it.

    Raises:
        NetnsError: malformed, or an address no node of ``layout`` has. OSError: it cannot be written.
    """
    mapping = _check(mapping, FILE)
    if layout is not None:
        known = {n.address for n in [*layout.orderers, *layout.peers]}
        stray = sorted(set(mapping) - known)
        if stray:
            raise NetnsError(f"{FILE}: no node of the network is at {stray[0]} (nodes at {', '.join(sorted(known))})")
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE
    path.write_text(json.dumps({"namespaces": mapping}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load(out: Path) -> dict[str, str]:
    """The recorded map (empty when the network runs on this host's own network only).

    Raises:
        NetnsError: the file exists but is unreadable or malformed.
    """
    path = out / FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NetnsError(f"{path}: unreadable ({exc})") from None
    return _check(raw.get("namespaces") if isinstance(raw, dict) else None, str(path))  # type: ignore[arg-type]


def wrap(layout: Layout, namespaces: dict[str, str], host: str, argv: list[str], ip: str = "ip") -> list[str]:
    """``argv`` prefixed with ``ip netns exec NS`` when node ``host`` is at an address of ``namespaces``."""
    for node in [*layout.orderers, *layout.peers]:
        if node.host == host and node.address in namespaces:
            return [ip, "netns", "exec", namespaces[node.address], *argv]
    return list(argv)
