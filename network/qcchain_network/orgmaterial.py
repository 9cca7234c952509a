"""A joining organisation's crypto material: made by the org itself, handed over as public material only.

On the joining org's own host, :func:`init_org` runs ``cryptogen`` for that org alone into its home
(``<home>/peerOrganizations/<domain>``: private keys never leave it) and :func:`export_public` copies what
the consortium needs into a *public bundle*: the org MSP (``cacerts``, ``tlscacerts``, ``config.yaml``
with NodeOUs), each peer's signing and TLS certificates and TLS CA, the Admin's signing certificate, and
the org file. The consortium side checks a bundle with :func:`check_public` before using it: any private
key in it, or a CA certificate that is already some other org's CA, is refused.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import admin
from .derive import Layout
from .errors import NetworkError
from qcchain_consortium.membership import JoiningOrg

log = logging.getLogger(__name__)

ORG_FILE = "org.yaml"
IMPORTED = "imported-orgs"  # <out>/imported-orgs/peerOrganizations/<domain>: public material handed over
PRIVATE_MARKERS = (b"PRIVATE KEY-----",)
PRIVATE_NAMES = ("priv_sk", "server.key", "client.key")


class MaterialError(NetworkError, ValueError):
    """A public bundle is unusable or unsafe (names the file and why)."""


def crypto_config(joining: JoiningOrg) -> dict[str, object]:
    """cryptogen's config for the joining org alone (NodeOUs, ``peers`` peers, one user)."""
    org = joining.org
    return {"PeerOrgs": [{"Name": org.name, "Domain": org.domain, "EnableNodeOUs": True,
                          "Template": {"Count": org.peers,
                                       "SANS": ["localhost", "127.0.0.1", *filter(None, [org.host])]},
                          "Users": {"Count": 1}}]}


def init_org(joining: JoiningOrg, home: Path, cryptogen: Path) -> Path:
    """The joining org's side: generate its material into ``home`` (refused if it already has some);
    returns ``<home>/peerOrganizations/<domain>``.

    Raises:
        MaterialError: ``home`` already holds this org's material. ToolError: cryptogen failed.
    """
    target = home / "peerOrganizations" / joining.org.domain
    if target.exists():
        raise MaterialError(f"{target} already exists: the org's material is made once")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "crypto-config.yaml"
    config.write_text(yaml.safe_dump(crypto_config(joining), sort_keys=False), encoding="utf-8")
    admin.run_tool([str(cryptogen), "generate", "--config", str(config), "--output", str(home)])
    (home / ORG_FILE).write_text(yaml.safe_dump(joining.to_json(), sort_keys=False), encoding="utf-8")
    return target


def _public_files(org_dir: Path, domain: str) -> list[Path]:
    """Paths (relative to ``org_dir``) of the org's public material."""
    out = []
    for sub in ("msp/cacerts", "msp/tlscacerts", "msp/admincerts"):
        out += [p.relative_to(org_dir) for p in sorted((org_dir / sub).glob("*.pem"))]
    out.append(Path("msp/config.yaml"))
    for node in sorted((org_dir / "peers").glob("*")):
        rel = node.relative_to(org_dir)
        out += [rel / "msp/signcerts" / f"{node.name}-cert.pem", rel / "tls/server.crt", rel / "tls/ca.crt"]
    admin_cert = Path("users") / f"Admin@{domain}" / "msp/signcerts" / f"Admin@{domain}-cert.pem"
    out.append(admin_cert)
    return out


def export_public(home: Path, dest: Path) -> Path:
    """Copy the public part of the org in ``home`` (see the module docstring) to ``dest``; returns ``dest``.

    Raises:
        MaterialError: ``home`` holds no org made by :func:`init_org`, or a file is missing.
    """
    try:
        doc = yaml.safe_load((home / ORG_FILE).read_text(encoding="utf-8"))
        domain = doc["org"]["domain"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise MaterialError(f"{home}: no org made by `network.sh org-init` ({exc})") from None
    org_dir = home / "peerOrganizations" / domain
    target = dest / "peerOrganizations" / domain
    for rel in _public_files(org_dir, domain):
        if not (org_dir / rel).is_file():
            raise MaterialError(f"{org_dir / rel}: missing")
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(org_dir / rel, target / rel)
    shutil.copyfile(home / ORG_FILE, dest / ORG_FILE)
    return dest


def private_keys(root: Path) -> list[Path]:
    """Every file under ``root`` that is or holds a private key (by name, ``keystore/`` or PEM marker)."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name in PRIVATE_NAMES or path.name.endswith("_sk") or path.parent.name == "keystore":
            found.append(path)
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(marker in data for marker in PRIVATE_MARKERS):
            found.append(path)
    return found


def ca_fingerprints(org_msp: Path) -> dict[str, str]:
    """SHA-256 (hex) of each CA and TLS CA certificate of an MSP dir -> its path."""
    out = {}
    for sub in ("cacerts", "tlscacerts"):
        for pem in sorted((org_msp / sub).glob("*.pem")):
            out[hashlib.sha256(pem.read_bytes()).hexdigest()] = str(pem)
    return out


def member_fingerprints(org_msp: Path) -> dict[str, str]:
    """The on-chain CA binding of an org MSP dir: ``{ca_cert_sha256, tls_ca_cert_sha256}``, each the SHA-256
    (hex) of the DER of its single CA / TLS CA certificate (what ``member_admit`` records).

    Raises:
        MaterialError: not exactly one CA (or TLS CA) certificate, or one that is not a PEM certificate.
    """
    out = {}
    for sub, key in (("cacerts", "ca_cert_sha256"), ("tlscacerts", "tls_ca_cert_sha256")):
        pems = sorted((org_msp / sub).glob("*.pem"))
        if len(pems) != 1:
            raise MaterialError(f"{org_msp / sub}: expected exactly one CA certificate, found {len(pems)}")
        try:
            der = x509.load_pem_x509_certificate(pems[0].read_bytes()).public_bytes(serialization.Encoding.DER)
        except (OSError, ValueError) as exc:
            raise MaterialError(f"{pems[0]}: not a PEM certificate ({exc})") from None
        out[key] = hashlib.sha256(der).hexdigest()
    return out


def check_public(bundle: Path, joining: JoiningOrg, layout: Layout) -> Path:
    """Check a public bundle against the running network; returns its org dir.

    Raises:
        MaterialError: it holds a private key; it has no MSP for the org's domain; a CA certificate of it
        is already the CA of another org of the network (same SHA-256).
    """
    keys = private_keys(bundle)
    if keys:
        raise MaterialError(f"refused: the bundle holds a private key ({keys[0]}); hand over public material only")
    org_dir = bundle / "peerOrganizations" / joining.org.domain
    mine = ca_fingerprints(org_dir / "msp")
    if not mine or not (org_dir / "msp" / "config.yaml").is_file():
        raise MaterialError(f"{org_dir / 'msp'}: no CA certificates or config.yaml for {joining.org.domain}")
    msps = [(o.name, layout.org_dir(o) / "msp") for o in layout.consortium.orgs]
    msps += [(o.name, layout.crypto / "peerOrganizations" / o.domain / "msp") for o in layout.consortium.retired]
    msps.append((layout.consortium.orderer.name, layout.orderer_org_dir / "msp"))
    for name, msp in msps:
        same = set(mine) & set(ca_fingerprints(msp))
        if same:
            raise MaterialError(f"refused: {mine[sorted(same)[0]]} is already the CA of {name}")
    return org_dir


def import_public(org_dir: Path, layout: Layout, domain: str) -> Path:
    """Copy a checked bundle's org dir to ``<out>/imported-orgs/peerOrganizations/<domain>`` (the
    consortium's copy); returns it."""
    target = layout.out / IMPORTED / "peerOrganizations" / domain
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(org_dir, target)
    return target
