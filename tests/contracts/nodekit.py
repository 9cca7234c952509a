"""Node-registry test helpers: node records and node_admit / node_remove proposals on a :class:`GovKit`."""

from __future__ import annotations

import hashlib
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from govkit import T0, GovKit

MAJ = ["Regulator", "Inspection", "UsingUnit"]


def fp(text: str) -> str:
    """A deterministic 64-hex fingerprint."""
    return hashlib.sha256(text.encode()).hexdigest()


def node(node_id: str, kind: str = "orderer", msp: str = "OrdererMSP", gen: str = "1") -> dict[str, Any]:
    """A valid node record; ``gen`` varies the certificate fingerprints."""
    return {"node_id": node_id, "org_msp": msp, "kind": kind, "consensus": kind == "orderer",
            "tls_cert_sha256": fp(f"tls {node_id} {gen}"), "sign_cert_sha256": fp(f"sign {node_id} {gen}"),
            "subject": f"CN={node_id},OU={kind},O=qcchain", "issuer": "CN=ca.qcchain.example,O=qcchain",
            "not_after": T0 + 10 * 365 * 86400}


def digest(artifact: dict[str, Any]) -> str:
    return sm3(canonical_json(artifact)).hex()


def admit_body(kit: GovKit, artifact: dict[str, Any], subject: str | None = None) -> dict[str, Any]:
    target = subject if subject is not None else artifact.get("node_id", "genesis")
    return kit.proposal("node_admit", contract=target, digest=digest(artifact))


def admit(kit: GovKit, artifact: dict[str, Any], signers: list[str] | None = None) -> dict[str, Any]:
    return kit.passed(admit_body(kit, artifact), signers or MAJ, artifact=artifact)


def remove(kit: GovKit, node_id: str, signers: list[str] | None = None) -> dict[str, Any]:
    return kit.passed(kit.proposal("node_remove", contract=node_id), signers or ["Regulator"])


def propose_args(kit: GovKit, body: dict[str, Any], artifact: Any, org: str = "Regulator") -> list[Any]:
    return [body, artifact if artifact is not None else {}, kit.orgs[org].key_id, kit.sig(org, body)]
