"""Connection profiles for the SDK (INTERFACES.md format), written after the crypto material exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..derive import Layout
from ..errors import RenderError


def _pem(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except OSError as exc:
        raise RenderError(f"cannot read TLS CA certificate {path}: {exc.strerror}") from exc


def connection_profile(layout: Layout, org_name: str) -> dict[str, Any]:
    """The profile of one org: its peers, users Admin and User1, and the channels it is on.

    Raises:
        RenderError: a peer's TLS CA certificate is missing (generate the crypto material first).
    """
    org = layout.consortium.org(org_name)
    peers = layout.peers_of(org.name)
    channels = [ch for ch in layout.consortium.channels if org.name in ch.members]
    return {
        "name": f"qcchain-fabric-{org.name.lower()}", "version": "1.0.0",
        "client": {"organization": org.name},
        "organizations": {org.name: {
            "mspid": org.msp_id, "peers": [p.host for p in peers],
            "users": {u: {"mspConfigPath": str(layout.user_msp(org, u))} for u in ("Admin", "User1")}}},
        "peers": {p.host: {
            "url": f"grpcs://{p.address}:{p.listen}", "tlsCACerts": {"pem": _pem(p.tls_dir / "ca.crt")},
            "grpcOptions": {"ssl-target-name-override": p.host, "hostnameOverride": p.host}} for p in peers},
        "channels": {ch.name: {"peers": {p.host: {} for p in peers}, "chaincodes": [c.name for c in ch.chaincodes]}
                     for ch in channels},
    }
