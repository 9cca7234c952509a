"""Devnets for the cross-chain tests, each with its own crypto material (own CAs, generated per state dir):
the project's consortium, or the same shape renamed (``Pk*`` orgs, ``park.example`` domains, see
:func:`renamed_consortium`). On each the story's first steps run (members, SM2 keys, deploy). Used by this
package's fixtures and by ``tests/integration/test_fabric_crosschain.py`` (a Fabric source, a devnet B)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from qcchain_model.creditcode import credit_check_char
from qcchain_sdk.contracts.story import ORG_NAMES, Story, StoryConfig, demo_payloads, orgs_from_profiles

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "qcchannel"
_ORG = re.compile(r"\b(" + "|".join(ORG_NAMES) + r")")


@dataclass
class Chain:
    name: str
    story: Story
    profiles: dict[str, Path]
    gateways: list[Any]
    state: Path

    def net(self, org: str = "Regulator") -> Any:
        return self.story.orgs[org].contract  # contract factory of that org's admin

    def qscc(self) -> Any:
        return self.gateways[ORG_NAMES.index("Regulator")].get_network(CHANNEL).get_contract("qscc")

    def gateway_contract(self) -> Any:
        """The Regulator's Gateway contract of ``qcchain`` (builds proposals: the bundle's attestation)."""
        return self.gateways[ORG_NAMES.index("Regulator")].get_network(CHANNEL).get_contract("qcchain")


def renamed_consortium(tmp: Path) -> Path:
    """The project's consortium renamed (``Pk*`` orgs, ``park.example``) with its policy files, in ``tmp``."""
    def rename(text: str) -> str:
        return _ORG.sub(r"Pk\1", text).replace("qcchain.example", "park.example")
    for name in ("endorsement", "collections"):
        (tmp / f"{name}.yaml").write_text(rename((ROOT / "policies" / f"{name}.yaml").read_text()))
    doc = yaml.safe_load(rename((ROOT / "network" / "consortium.yaml").read_text()))
    doc["policies"] = {"endorsement": str(tmp / "endorsement.yaml"), "collections": str(tmp / "collections.yaml")}
    (tmp / "consortium.yaml").write_text(yaml.safe_dump(doc))
    return tmp / "consortium.yaml"


def members_of(prefix: str) -> dict[str, dict[str, str]]:
    from qcchain_consortium.consortium import load_consortium

    return {o.name: {"role": o.role, "credit_code": o.credit_code[:17] + credit_check_char(o.credit_code[:17]),
                     "full_name": prefix + o.full_name} for o in load_consortium().orgs}


def devnet_chain(name: str, state: Path, consortium: Path | None) -> Iterator[Chain]:
    """A running devnet in ``state`` (``consortium`` None = the project's) with members, keys and deploy done;
    yields once, stops it after."""
    from qcchain_devnet.daemon import UpOptions, running_devnet

    with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module="qcchain_contracts", consortium=consortium)):
        info = json.loads((state / "devnet.json").read_text())
        given = {k: Path(v) for k, v in info["connection_profiles"].items()}
        profiles = {n: given[n if consortium is None else f"Pk{n}"] for n in ORG_NAMES}
        orgs, gateways = orgs_from_profiles(profiles, CHANNEL, members_of(name))
        policies = {n: yaml.safe_load((ROOT / "policies" / f"{n}.yaml").read_text()) for n in ("governance", "grading", "sharing")}
        digest = info["chaincode_servers"]["qcchain"]["package_id"].rsplit(":", 1)[1]
        story = Story(orgs, StoryConfig(CHANNEL, policies, lambda: int(time.time()), (digest, digest), demo_payloads(),
                                        say=lambda _s: None))
        story.members()
        story.keys()
        story.deploy()
        try:
            yield Chain(name, story, profiles, gateways, state)
        finally:
            for gw in gateways:
                gw.close()


def crl_revoking(org: Path, host: str) -> str:
    """A PEM CRL signed by the CA of the org whose crypto directory (``peerOrganizations/<domain>``) is
    ``org``, revoking the certificate of its peer ``host``."""
    ca_cert = x509.load_pem_x509_certificate(next((org / "ca").glob("*-cert.pem")).read_bytes())
    ca_key = serialization.load_pem_private_key((org / "ca" / "priv_sk").read_bytes(), None)
    peer = x509.load_pem_x509_certificate(next((org / "peers" / host / "msp" / "signcerts").glob("*.pem")).read_bytes())
    now = dt.datetime.now(dt.timezone.utc)
    revoked = x509.RevokedCertificateBuilder().serial_number(peer.serial_number).revocation_date(now).build()
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject).last_update(now)
           .next_update(now + dt.timedelta(days=1)).add_revoked_certificate(revoked).sign(ca_key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM).decode()
