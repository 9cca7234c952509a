"""Running Fabric's own admin tools (cryptogen, configtxgen, osnadmin, peer) for a derived layout."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from pathlib import Path

from qcchain_consortium.consortium import Org
from .derive import Layout, OrdererNode, PeerNode
from .errors import NetworkError

log = logging.getLogger(__name__)


class ToolError(NetworkError, RuntimeError):
    """A Fabric tool exited non-zero (the message holds its command name and last output line)."""


def run_tool(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 120.0) -> str:
    """Run a tool and return its combined output.

    Raises:
        ToolError: non-zero exit or timeout.
    """
    log.debug("running %s %s", Path(argv[0]).name, argv[1] if len(argv) > 1 else "")
    try:
        done = subprocess.run(argv, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ToolError(f"{Path(argv[0]).name} {' '.join(argv[1:3])} timed out after {timeout:.0f}s") from None
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("Error:") or " ERRO " in ln or "FATA" in ln]
        last = (errors or lines or [f"exit status {done.returncode}"])[0 if errors else -1]
        words = [a for a in argv[1:4] if not a.startswith("-")]
        raise ToolError(f"{Path(argv[0]).name} {' '.join(words)} failed: {last}")
    return output


def orderer_ca(layout: Layout) -> Path:
    """The orderer org's TLS CA certificate."""
    dom = layout.consortium.orderer.domain
    return layout.orderer_org_dir / "tlsca" / f"tlsca.{dom}-cert.pem"


def peer_ca(layout: Layout, peer: PeerNode) -> Path:
    """The TLS CA certificate that verifies ``peer``."""
    return peer.tls_dir / "ca.crt"


def admin_env(layout: Layout, org: Org, peer: PeerNode | None = None) -> dict[str, str]:
    """Environment for the ``peer`` CLI acting as ``Admin@<org domain>`` against ``peer`` (default peer0)."""
    target = peer or layout.peers_of(org.name)[0]
    return {
        "FABRIC_CFG_PATH": str(layout.out / "config"),
        "FABRIC_LOGGING_SPEC": "warning",
        "CORE_PEER_LOCALMSPID": org.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(layout.user_msp(org)),
        "CORE_PEER_ADDRESS": f"{target.address}:{target.listen}",
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_ROOTCERT_FILE": str(peer_ca(layout, target)),
    }


def orderer_args(layout: Layout, node: OrdererNode | None = None) -> list[str]:
    """``--orderer ... --tls --cafile ... --ordererTLSHostnameOverride ...`` for peer CLI commands."""
    node = node or layout.orderers[0]
    return ["-o", f"{node.address}:{node.listen}", "--ordererTLSHostnameOverride", node.host,
            "--tls", "--cafile", str(orderer_ca(layout))]


def osnadmin_join(layout: Layout, osnadmin: Path, node: OrdererNode, channel: str) -> None:
    """Join one orderer to a channel through the channel participation API (mutual TLS).

    Raises:
        ToolError: osnadmin failed.
    """
    tls = layout.orderer_admin_tls
    argv = [str(osnadmin), "channel", "join", "--channelID", channel,
            "--config-block", str(layout.block_file(channel)), "-o", f"{node.address}:{node.admin}",
            "--ca-file", str(orderer_ca(layout)), "--client-cert", str(tls / "client.crt"),
            "--client-key", str(tls / "client.key")]
    for attempt in range(20):  # the admin listener may open a moment after /healthz answers
        try:
            output = run_tool(argv)
            break
        except ToolError as exc:
            if "connection refused" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.25)
    _check_osnadmin(output, node.host, channel)


def _check_osnadmin(output: str, host: str, channel: str) -> None:
    """osnadmin exits 0 even when the server answers an error: check the printed HTTP status.

    Raises:
        ToolError: the status is not 2xx (the message holds the server's error text).
    """
    match = re.search(r"Status: (\d+)", output)
    if match is None or not match.group(1).startswith("2"):
        body = output[output.find("{"):] if "{" in output else output
        try:
            reason = str(json.loads(body).get("error", body.strip()))
        except ValueError:
            reason = body.strip()
        status = match.group(1) if match else "?"
        raise ToolError(f"osnadmin channel join {channel} on {host} failed: HTTP {status}: {reason}")


def peer_join(layout: Layout, peer_bin: Path, peer: PeerNode, channel: str) -> None:
    """Join one peer to a channel as its org's Admin.

    Raises:
        ToolError: the peer CLI failed.
    """
    org = layout.consortium.org(peer.org)
    run_tool([str(peer_bin), "channel", "join", "-b", str(layout.block_file(channel))],
             env=admin_env(layout, org, peer))
