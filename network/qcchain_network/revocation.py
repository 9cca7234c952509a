"""Putting a removed node's revocation where Fabric enforces it: the org MSP's ``revocation_list`` in every
channel config, and the ``crls/`` folder of the org's local MSPs.

Pure part: :func:`set_revocation_list` edits the decoded ``common.Config`` JSON — the org's ``MSP`` value
(``/Channel/Application/<Org>/MSP`` or ``/Channel/Orderer/<OrdererOrg>/MSP``) gets the CRLs (base64 of the
PEM bytes, as ``configtxgen`` puts an MSP's ``crls/`` files there); a CRL already listed for the same CA
(same ``authorityKeyIdentifier``) is replaced, others are kept. Fabric's MSP then refuses any identity whose
serial one of them lists (``The certificate has been revoked``). Fabric tools part: :func:`publish` fetches
each channel's config, submits the update signed by the org's admin (the MSP value's ``mod_policy`` is the
org's ``Admins``), waits until the new config block holds the CRLs, and copies them into ``crls/`` of the
org's MSP folders (org msp, remaining nodes, users), so local MSPs agree.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from cryptography import x509

from . import admin, canodes, configupdate, crl
from .crl import crl_aki
from .derive import CANode, Layout, OrdererNode
from .errors import NetworkError

log = logging.getLogger(__name__)


class RevocationError(NetworkError, RuntimeError):
    """The CRLs could not be put into a channel config or the local MSPs (names channel / org / step)."""


def _msp_value(config: dict[str, Any], section: str, msp_id: str) -> dict[str, Any]:
    """The mutable ``MSP`` config value of org ``msp_id`` in ``section`` (Application / Orderer)."""
    try:
        group = config["channel_group"]["groups"][section]["groups"][msp_id]
        return dict(group["values"]["MSP"])
    except (KeyError, TypeError):
        raise configupdate.ConfigUpdateError(f"the channel config has no org {msp_id!r} in {section}") from None


def revocation_list(config: dict[str, Any], section: str, msp_id: str) -> list[bytes]:
    """The CRLs (PEM bytes) the org's channel MSP holds.

    Raises:
        ConfigUpdateError: no such org in that section.
    """
    items = _msp_value(config, section, msp_id)["value"]["config"].get("revocation_list") or []
    return [base64.b64decode(item) for item in items]


def set_revocation_list(config: dict[str, Any], section: str, msp_id: str, crls: list[bytes]) -> dict[str, Any]:
    """A copy of ``config`` whose org MSP lists ``crls`` (PEM); earlier CRLs of the same CAs are replaced
    (pure).

    Raises:
        ConfigUpdateError: no such org, its MSP value is not changed by its own ``Admins``, or ``crls``
        is empty. CRLError: an item is not a PEM CRL.
    """
    if not crls:
        raise configupdate.ConfigUpdateError("no CRL to put into the channel config")
    new = copy.deepcopy(config)
    value = _msp_value(new, section, msp_id)
    if value.get("mod_policy") != "Admins":
        raise configupdate.ConfigUpdateError(f"the MSP of {msp_id} is changed under mod_policy "
                                             f"{value.get('mod_policy')!r}, not its org's Admins")
    replaced = {crl_aki(c) for c in crls}
    kept = [c for c in revocation_list(new, section, msp_id) if crl_aki(c) not in replaced]
    msp = new["channel_group"]["groups"][section]["groups"][msp_id]["values"]["MSP"]["value"]["config"]
    msp["revocation_list"] = [base64.b64encode(c).decode("ascii") for c in kept + list(crls)]
    return new


def signer_env(layout: Layout, section: str, msp_id: str) -> dict[str, str]:
    """``peer`` CLI environment acting as the Admin of the org that owns the MSP value."""
    if section == "Orderer":
        return configupdate.orderer_admin_env(layout)
    org = next(o for o in layout.consortium.orgs if o.msp_id == msp_id)
    return admin.admin_env(layout, org)


def _wait_applied(layout: Layout, bins: dict[str, Path], channel: str, via: OrdererNode, block: Path,
                  section: str, msp_id: str, crls: list[bytes], timeout: float) -> int:
    """The number of the config block that holds ``crls`` (polled until it is cut).

    Raises:
        RevocationError: not there after ``timeout`` seconds.
    """
    t0 = time.monotonic()
    while True:
        config, number = configupdate.fetch_config(layout, bins, channel, via, block)
        if all(c in revocation_list(config, section, msp_id) for c in crls):
            return number
        if time.monotonic() - t0 > timeout:
            raise RevocationError(f"the CRL update of {msp_id} on {channel} is not in a config block after "
                                  f"{timeout:.0f}s")
        time.sleep(0.3)


def publish(layout: Layout, bins: dict[str, Path], channels: list[str], section: str, msp_id: str,
            crls: list[bytes], via: OrdererNode, timeout: float = 30.0) -> dict[str, int]:
    """Put ``crls`` into the org MSP of every channel in ``channels``; returns channel -> config block number.

    Raises:
        ConfigUpdateError, CRLError: the config cannot be edited. ToolError: fetch / update refused.
        RevocationError: the update did not show up in a config block.
    """
    blocks: dict[str, int] = {}
    env = signer_env(layout, section, msp_id)
    for channel in channels:
        block = layout.out / "channel-artifacts" / "latest" / f"{channel}.block"
        block.parent.mkdir(parents=True, exist_ok=True)
        config, _ = configupdate.fetch_config(layout, bins, channel, via, block)
        modified = set_revocation_list(config, section, msp_id, crls)
        if modified != config:
            configupdate.submit_update(layout, bins, channel, via, config, modified, env=env)
        blocks[channel] = _wait_applied(layout, bins, channel, via, block, section, msp_id, crls, timeout)
        log.info("%s: CRL of %s in config block %d", channel, msp_id, blocks[channel])
    return blocks


def local_msp_dirs(org_dir: Path, exclude: str) -> list[Path]:
    """The org's MSP folders that must carry its CRLs: the org msp, every node's and user's msp except
    the removed node ``exclude``'s."""
    dirs = [org_dir / "msp"] if (org_dir / "msp").is_dir() else []
    for kind in ("peers", "orderers", "users"):
        base = org_dir / kind
        if base.is_dir():
            dirs += [d / "msp" for d in sorted(base.iterdir()) if d.name != exclude and (d / "msp").is_dir()]
    return dirs


def copy_to_local_msps(org_dir: Path, exclude: str, crls: dict[str, bytes]) -> int:
    """Write each CRL (file name -> PEM) into ``crls/`` of the org's MSP folders; returns how many folders.

    Raises:
        RevocationError: a folder cannot be written (names it).
    """
    dirs = local_msp_dirs(org_dir, exclude)
    for msp in dirs:
        try:
            (msp / "crls").mkdir(exist_ok=True)
            for name, pem in crls.items():
                (msp / "crls" / name).write_bytes(pem)
        except OSError as exc:
            raise RevocationError(f"cannot write the CRL into {msp / 'crls'}: {exc}") from None
    return len(dirs)


def _node_certs(host: str, msp_dir: Path, tls_dir: Path) -> tuple[x509.Certificate, x509.Certificate]:
    """The removed node's signing and TLS certificates.

    Raises:
        RevocationError: one is missing or unreadable (names the file).
    """
    paths = sorted((msp_dir / "signcerts").glob("*.pem")) + [tls_dir / "server.crt"]
    try:
        if len(paths) != 2:
            raise ValueError(f"expected one signing certificate in {msp_dir / 'signcerts'}")
        sign, tls = (x509.load_pem_x509_certificate(p.read_bytes()) for p in paths)
    except (OSError, ValueError) as exc:
        raise RevocationError(f"the certificates of {host} cannot be read: {exc}") from None
    return sign, tls


def _cryptogen_crls(layout: Layout, org_dir: Path, host: str, sign: x509.Certificate,
                    tls: x509.Certificate) -> tuple[dict[str, Path], dict[str, Any]]:
    """Revoke with the cryptogen CA keys (signing CA ``ca/``, TLS CA ``tlsca/``): CRL file per CA."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    store = layout.out / "crls" / org_dir.name
    paths = {f"ca.{org_dir.name}-crl.pem": crl.revoke(store / "ca", org_dir / "ca", [(host, sign)], now),
             f"tlsca.{org_dir.name}-crl.pem": crl.revoke(store / "tlsca", org_dir / "tlsca", [(host, tls)], now)}
    fields = {"revoked_by": f"cryptogen CAs of {org_dir.name} (ca/, tlsca/ keys)",
              "revocation_reason": canodes.REVOKE_REASON, "crl": str(store / "ca" / crl.CRL_FILE)}
    return paths, fields


def revoke_removed(layout: Layout, bins: dict[str, Path], ca_node: CANode | None, node: Any, org_msp: str,
                   channels: list[str], via: OrdererNode) -> dict[str, Any]:
    """Revoke a removed node's signing and TLS certificates (at its Fabric CA, or with the cryptogen CA
    keys), put the CRLs into its org's MSP in every channel of ``channels`` and into the org's local MSPs;
    returns the operations-log fields (``revoked_by``, ``revocation_reason``, ``crl``, ``revocation_list``).

    ``node`` is the removed :class:`PeerNode` or :class:`OrdererNode`.

    Raises:
        CANotRunning, ToolError: the CA or a config update refused. CRLError, RevocationError,
        ConfigUpdateError: the CRL could not be built, published or copied.
    """
    sign, tls = _node_certs(node.host, node.msp_dir, node.tls_dir)
    orderer = isinstance(node, OrdererNode)
    org_dir = layout.orderer_org_dir if orderer else layout.org_dir(layout.consortium.org(node.org))
    if ca_node is not None:
        done = canodes.revoke_node(layout, ca_node, node.host)
        paths = {f"{ca_node.host}-crl.pem": done.crl}
        fields: dict[str, Any] = {"revoked_by": done.ca_host, "revocation_reason": done.reason, "crl": str(done.crl)}
    else:
        paths, fields = _cryptogen_crls(layout, org_dir, node.host, sign, tls)
    pems = {name: path.read_bytes() for name, path in paths.items()}
    missing = [f"{c.serial_number:x}" for c in (sign, tls)
               if not any(c.serial_number in crl.crl_serials(p) for p in pems.values())]
    if missing:
        raise RevocationError(f"the CRL(s) of {node.host} do not list serial(s) {', '.join(missing)}")
    blocks = publish(layout, bins, channels, "Orderer" if orderer else "Application", org_msp,
                     list(pems.values()), via)
    copied = copy_to_local_msps(org_dir, node.host, pems)
    fields["revocation_list"] = {"channels": blocks, "serials": [f"{sign.serial_number:x}", f"{tls.serial_number:x}"],
                                 "crls": [str(p) for p in paths.values()], "local_msps": copied}
    return fields
