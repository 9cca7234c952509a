"""Per-organisation deployment bundles: what one organisation installs on its own hosts (T-4.2, T-8.2 b).

``network.sh bundles [--root R]`` writes ``<out>/bundles/<org>/`` for every member org and the orderer
org. A bundle holds, re-rooted at ``R/<org>`` (the directory it is unpacked to on that org's hosts):

- its own processes' settings (``env/<host>.env``) and a compose file of only its services;
- its own crypto material, complete (its private keys are its own);
- the others' PUBLIC material only: each other org's MSP (``cacerts``, ``tlscacerts``, ``config.yaml``)
  and its peers' TLS CA; the orderer org's MSP and TLS CA — never another org's private key;
- the genesis blocks of its channels, its connection profile (member orgs) and ``endpoints.json``
  (orderer endpoints and anchor peers; with per-org hosts, every node's host address).

Every listen and advertised address in it is the node's own (its org's ``host``), so the bundle runs as is
on that org's host.

:func:`plan` is pure (source path or text per bundle path); :func:`write` copies it and re-checks that no
file of the bundle is a private key of another organisation (:func:`foreign_keys`).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Union

import yaml

from .derive import Layout, apply_overlay, derive
from .errors import NetworkError
from .orgmaterial import private_keys
from .overlay import Overlay
from .render.compose import compose
from .render.processes import env_text, orderer_env, peer_env
from .render.profiles import connection_profile

log = logging.getLogger(__name__)

Source = Union[Path, str]  # a file to copy, or the text to write


class BundleError(NetworkError, RuntimeError):
    """A bundle would hold another organisation's private key, or cannot be written (names the file)."""


PUBLIC_MSP = ("cacerts", "tlscacerts", "config.yaml")


def _tree(src: Path, rel: Path, plan: dict[Path, Source]) -> None:
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        plan[rel / path.relative_to(src)] = path


def _public_msp(org_dir: Path, rel: Path, plan: dict[Path, Source]) -> None:
    for name in PUBLIC_MSP:
        entry = org_dir / "msp" / name
        if entry.is_dir():
            _tree(entry, rel / "msp" / name, plan)
        elif entry.is_file():
            plan[rel / "msp" / name] = entry
    for peer in sorted((org_dir / "peers").glob("*")):
        plan[rel / "peers" / peer.name / "tls" / "ca.crt"] = peer / "tls" / "ca.crt"


def relocated(layout: Layout, root: Path, ovl: Overlay) -> Layout:
    """``layout`` as seen from a bundle unpacked at ``root`` (every path under it; pure)."""
    return apply_overlay(derive(layout.consortium, root, layout.log_spec), ovl)


def plan(layout: Layout, org_name: str, root: Path, ovl: Overlay) -> dict[Path, Source]:
    """Bundle-relative path -> source file or text, for member org ``org_name`` or the orderer org.

    Raises:
        KeyError: no such org.
    """
    c = layout.consortium
    there = relocated(layout, root, ovl)
    files: dict[Path, Source] = {}
    is_orderer = org_name in (c.orderer.name, c.orderer.msp_id)
    own = None if is_orderer else c.org(org_name)
    for org in c.orgs:
        rel = Path("crypto/peerOrganizations") / org.domain
        if own is not None and org.name == own.name:
            _tree(layout.org_dir(org), rel, files)
        else:
            _public_msp(layout.org_dir(org), rel, files)
    ord_rel = Path("crypto/ordererOrganizations") / c.orderer.domain
    if is_orderer:
        _tree(layout.orderer_org_dir, ord_rel, files)
    else:
        _public_msp(layout.orderer_org_dir, ord_rel, files)
        tlsca = layout.orderer_org_dir / "tlsca" / f"tlsca.{c.orderer.domain}-cert.pem"
        files[ord_rel / "tlsca" / tlsca.name] = tlsca
    channels = [ch for ch in c.channels if is_orderer or (own is not None and own.name in ch.members)]
    for ch in channels:
        if layout.block_file(ch.name).is_file():
            files[Path("channel-artifacts") / f"{ch.name}.block"] = layout.block_file(ch.name)
    hosts = [n.host for n in there.orderers] if is_orderer else [p.host for p in there.peers_of(own.name)]  # type: ignore[union-attr]
    for node in there.orderers if is_orderer else there.peers_of(own.name):  # type: ignore[union-attr]
        env = orderer_env(there, node) if is_orderer else peer_env(there, node)  # type: ignore[arg-type]
        files[node.env_file.relative_to(root)] = env_text(env)
    services = {h: s for h, s in compose(there)["services"].items() if h in hosts}
    for service in services.values():
        service.pop("depends_on", None)  # the orderers are another org's hosts
    files[Path("compose/compose.yaml")] = yaml.safe_dump({"name": f"qcchain-{org_name.lower()}",
                                                          "services": services}, sort_keys=False)
    endpoints = {
        "orderers": [f"{n.host}:{n.listen}" for n in layout.orderers],
        "anchor_peers": {o.msp_id: f"{layout.peers_of(o.name)[0].host}:{layout.peers_of(o.name)[0].listen}"
                         for o in c.orgs if layout.peers_of(o.name)},
        "address": layout.host}
    if c.multi_host:  # each node's own host address (its TLS certificate names it too)
        endpoints["addresses"] = {n.host: n.address for n in [*layout.orderers, *layout.peers]}
    files[Path("endpoints.json")] = json.dumps(endpoints, indent=2) + "\n"
    if own is not None and all((p.tls_dir / "ca.crt").is_file() for p in layout.peers_of(own.name)):
        profile = connection_profile(layout, own.name)  # TLS CA certificates read here, paths re-rooted
        profile["organizations"][own.name]["users"] = {u: {"mspConfigPath": str(there.user_msp(own, u))}
                                                       for u in ("Admin", "User1")}
        files[Path("connection-profiles") / f"connection-{own.name.lower()}.json"] = \
            json.dumps(profile, indent=2) + "\n"
    return files


def foreign_keys(layout: Layout, org_name: str, bundle: Path) -> list[Path]:
    """Files of ``bundle`` that are private keys not belonging to ``org_name`` (should be none)."""
    c = layout.consortium
    mine = layout.orderer_org_dir if org_name in (c.orderer.name, c.orderer.msp_id) else layout.org_dir(c.org(org_name))
    own = {p.read_bytes() for p in private_keys(mine)}
    return [p for p in private_keys(bundle) if p.read_bytes() not in own]


def write(layout: Layout, org_name: str, dest: Path, root: Path, ovl: Overlay) -> Path:
    """Write the bundle of ``org_name`` to ``dest`` (replacing it); returns ``dest``.

    Raises:
        BundleError: it would hold another org's private key (nothing is left behind) or a write failed.
        KeyError: no such org.
    """
    files = plan(layout, org_name, root, ovl)
    if dest.exists():
        shutil.rmtree(dest)
    try:
        for rel, source in files.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                shutil.copyfile(source, target)
            else:
                target.write_text(source, encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise BundleError(f"cannot write the bundle of {org_name}: {exc}") from exc
    leaked = foreign_keys(layout, org_name, dest)
    if leaked:
        shutil.rmtree(dest, ignore_errors=True)
        raise BundleError(f"refused: the bundle of {org_name} would hold another org's private key ({leaked[0].name})")
    return dest


def write_all(layout: Layout, ovl: Overlay, root: Path) -> list[Path]:
    """Every org's bundle (members, then the orderer org) under ``<out>/bundles/``; returns their dirs."""
    names = [o.name for o in layout.consortium.orgs] + [layout.consortium.orderer.name]
    return [write(layout, name, layout.out / "bundles" / name.lower(), root / name.lower(), ovl) for name in names]
