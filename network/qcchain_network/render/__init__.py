"""Rendering: turn a :class:`~qcchain_network.derive.Layout` into the files of a Fabric network.

``render_all`` is the pure generation step (no crypto material needed); ``render_profiles`` runs after
``cryptogen`` because profiles embed the peers' TLS CA certificates.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from ..derive import Layout
from ..errors import RenderError
from .compose import compose
from .configtx import collections_config, configtx
from .crypto import crypto_config, fabric_ca_config
from .processes import env_text, orderer_env, peer_env
from .profiles import connection_profile

log = logging.getLogger(__name__)

__all__ = ["render_all", "render_profiles", "rendered_files", "rendered_profiles", "network_json", "write_compose"]


def network_json(layout: Layout) -> dict[str, Any]:
    """The derived plan as JSON, read by ``scripts/network.sh`` through :mod:`qcchain_network.runner`."""
    c = layout.consortium
    at = (lambda node: {"address": node.address}) if c.multi_host else (lambda node: {})
    return {
        "name": c.name, "fabric_version": c.fabric_version, "host": layout.host,
        "consensus": c.orderer.consensus,
        "orderers": [{"host": n.host, **at(n), "listen": n.listen, "admin": n.admin, "operations": n.operations}
                     for n in layout.orderers],
        "peers": [{"org": p.org, "msp_id": p.msp_id, "host": p.host, **at(p), "listen": p.listen,
                   "chaincode": p.chaincode, "operations": p.operations} for p in layout.peers],
        "channels": [{"name": ch.name, "members": ch.members,
                      "chaincodes": [{"name": cc.name, "policy_name": cc.policy_name,
                                      "endorsement_policy": cc.endorsement_policy,
                                      "collections": [col.name for col in cc.collections]}
                                     for cc in ch.chaincodes]} for ch in c.channels],
        "chaincode_ports": layout.chaincode_ports,
    }


def rendered_files(layout: Layout, ca: bool = False) -> dict[Path, str]:
    """Every generated file (path -> text), without writing anything."""
    def dump(doc: Any) -> str:
        return str(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=120))

    files: dict[Path, str] = {
        layout.out / "crypto-config.yaml": dump(crypto_config(layout)),
        layout.out / "configtx" / "configtx.yaml": dump(configtx(layout)),
        layout.out / "compose" / "compose.yaml": dump(compose(layout)),
        layout.out / "network.json": json.dumps(network_json(layout), indent=2) + "\n",
    }
    if ca:
        files[layout.out / "fabric-ca.yaml"] = dump(fabric_ca_config(layout))
    for node in layout.orderers:
        files[node.env_file] = env_text(orderer_env(layout, node))
    for peer in layout.peers:
        files[peer.env_file] = env_text(peer_env(layout, peer))
    for ch in layout.consortium.channels:
        for cc in ch.chaincodes:
            body = json.dumps(collections_config(layout, ch, cc.name), indent=2) + "\n"
            files[layout.collections_file(ch.name, cc.name)] = body
    return files


def _write(files: dict[Path, str]) -> list[Path]:
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"cannot write {exc.filename}: {exc.strerror}") from exc
    return sorted(files)


def write_compose(layout: Layout) -> Path:
    """(Re)write ``<out>/compose/compose.yaml`` from ``layout`` (which may include added nodes).

    Raises:
        RenderError: the file cannot be written.
    """
    path = layout.out / "compose" / "compose.yaml"
    _write({path: str(yaml.safe_dump(compose(layout), sort_keys=False, default_flow_style=False, width=120))})
    return path


def render_all(layout: Layout, ca: bool = False) -> list[Path]:
    """Write every generated file under ``layout.out``; returns their paths.

    Raises:
        RenderError: a file cannot be written.
    """
    written = _write(rendered_files(layout, ca))
    log.info("rendered %d files into %s", len(written), layout.out)
    return written


def rendered_profiles(layout: Layout, orgs: list[str] | None = None) -> dict[Path, str]:
    """The connection profile of each org (or of ``orgs`` only) as the layout has it -- with the nodes
    of the overlay (``nodes.json``) when ``layout`` was derived with it -- without writing anything.

    Raises:
        KeyError: an org of ``orgs`` is not in the consortium.
        RenderError: a TLS CA certificate is missing (generate the crypto material first).
    """
    names = [o.name for o in layout.consortium.orgs] if orgs is None else orgs
    return {layout.profile_file(layout.consortium.org(name)):
            json.dumps(connection_profile(layout, name), indent=2) + "\n" for name in names}


def render_profiles(layout: Layout, orgs: list[str] | None = None) -> list[Path]:
    """Write the connection profile of each org, or of ``orgs`` only (after ``up``, or after a peer of
    theirs was added or removed); needs the crypto material.

    Raises:
        KeyError: an org of ``orgs`` is not in the consortium.
        RenderError: a TLS CA certificate is missing, or a file cannot be written.
    """
    return _write(rendered_profiles(layout, orgs))
