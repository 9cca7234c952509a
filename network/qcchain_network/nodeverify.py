"""``network.sh verify-nodes``: every consenter of every channel is an admitted, active node on chain.

For each channel the current config is fetched (as the orderer org admin), its consenters listed with
the SHA-256 of their TLS certificate (DER), and each is looked up in the on-chain node registry
(``governance:node``) by the node id the network knows for its address; a consenter that is unknown,
not admitted, removed, or whose admitted TLS fingerprint differs is a failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from . import configupdate
from .derive import Layout
from .noderecord import cert_sha256
from .nodeops import latest_block_path, running_orderer, tool_paths
from .registry import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Row:
    """One consenter of one channel and the registry's verdict."""

    channel: str
    address: str
    node_id: str
    tls_sha256: str
    status: str
    ok: bool


def check_consenters(found: dict[str, list[configupdate.Consenter]], hosts: dict[str, str],
                     lookup: Callable[[str], dict[str, Any] | None]) -> list[Row]:
    """The verdict per consenter (pure): ``found`` channel -> consenters, ``hosts`` address -> node id,
    ``lookup`` node id -> ``governance:node`` answer or None."""
    rows = []
    for channel, items in found.items():
        for item in items:
            fp = cert_sha256(item.tls_cert_pem)
            node_id = hosts.get(item.address, "")
            entry = lookup(node_id) if node_id else None
            if not node_id:
                status = "unknown address"
            elif entry is None:
                status = "not admitted"
            else:
                rec = entry.get("record", entry)
                state = entry.get("status", rec.get("status", "active"))
                status = state if state != "active" else (
                    "active" if rec.get("tls_cert_sha256") == fp else "TLS fingerprint differs")
            rows.append(Row(channel, item.address, node_id or "?", fp, status, status == "active"))
    return rows


def verify(layout: Layout, registry: Registry) -> list[Row]:
    """Fetch every channel's consenters and check them against the registry.

    Raises:
        ToolError: fetching a config failed. RegistryError / GatewayError: the registry is unavailable.
    """
    bins = tool_paths()
    via = running_orderer(layout)
    found = {}
    for ch in layout.consortium.channels:
        config, _ = configupdate.fetch_config(layout, bins, ch.name, via, latest_block_path(layout, ch.name))
        found[ch.name] = configupdate.consenters(config)
    hosts = {f"{n.address}:{n.listen}": n.host for n in layout.orderers}
    cache: dict[str, dict[str, Any] | None] = {}

    def lookup(node_id: str) -> dict[str, Any] | None:
        if node_id not in cache:
            cache[node_id] = registry.lookup(node_id)
        return cache[node_id]

    return check_consenters(found, hosts, lookup)


def table(rows: list[Row]) -> str:
    """The rows as a text table."""
    lines = [f"{'channel':22} {'consenter':22} {'node':40} {'tls sha256':18} status"]
    for r in rows:
        lines.append(f"{r.channel:22} {r.address:22} {r.node_id:40} {r.tls_sha256[:16] + '…':18} "
                     f"{'ok' if r.ok else 'FAIL'} ({r.status})")
    return "\n".join(lines)
