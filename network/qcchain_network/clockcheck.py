"""Clock skew of every node, from the HTTP ``Date`` header of its operations endpoint (H-8, T-5.2a).

The chaincode refuses a proposal whose timestamp is further than the governance policy's
``max_clock_skew_seconds`` from the endorsing server's clock, so server clocks must be synchronised. This
module measures each node against the local clock: it sends ``GET <endpoint>/healthz`` and compares the
response's ``Date`` header (RFC 7231, one-second resolution) with the midpoint of the local send and receive
times; the uncertainty is half the round trip plus one second.

A TLS operations endpoint is read without verifying its certificate unless a CA file is given: only the
``Date`` header is used, no credential is sent. Nothing here reads environment variables or files other
than the given CA file.
"""

from __future__ import annotations

import email.utils
import logging
import shlex
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_THRESHOLD", "NodeClock", "measure", "measure_all", "network_endpoints", "parse_endpoint"]

#: Warn above this many seconds of skew (well inside the chaincode's default 300 s tolerance).
DEFAULT_THRESHOLD = 5.0


@dataclass(frozen=True)
class NodeClock:
    """One node's clock reading: ``skew`` seconds (node minus local; None when unreachable) and ``error``."""

    name: str
    endpoint: str
    skew: float | None
    uncertainty: float | None
    error: str = ""

    def over(self, threshold: float) -> bool:
        """True when the node could not be read or its skew exceeds ``threshold`` beyond the uncertainty."""
        return self.skew is None or abs(self.skew) - (self.uncertainty or 0.0) > threshold

    def line(self, threshold: float) -> str:
        """One human-readable line, ``WARNING`` when :meth:`over`."""
        if self.skew is None:
            return f"WARNING {self.name} ({self.endpoint}): clock not read: {self.error}"
        text = f"{self.name} ({self.endpoint}): skew {self.skew:+.1f} s (±{self.uncertainty:.1f} s)"
        return f"WARNING {text}, above {threshold:g} s" if self.over(threshold) else f"ok {text}"


def parse_endpoint(text: str) -> tuple[str, str]:
    """``NAME=URL`` or ``URL`` (the name is then host:port) -> (name, base URL).

    Raises:
        ValueError: not an http(s) URL.
    """
    name, _, url = text.partition("=") if "=" in text else ("", "", text)
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"operations endpoint {text!r} is not an http:// or https:// URL")
    return (name.strip() or url.split("://", 1)[1]), url


def measure(name: str, url: str, *, timeout: float = 5.0, ca_file: str | None = None,
            clock: Callable[[], float] = time.time) -> NodeClock:
    """Read one node's clock; never raises (an unreachable node or a missing ``Date`` is an ``error``)."""
    if url.startswith("https://"):
        context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl._create_unverified_context()
    else:
        context = None
    request = urllib.request.Request(f"{url}/healthz", method="GET")
    sent = clock()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            header = response.headers.get("Date")
    except urllib.error.HTTPError as exc:  # a 503 from /healthz still carries the server's Date
        header = exc.headers.get("Date") if exc.headers else None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return NodeClock(name, url, None, None, f"unreachable ({reason})")
    received = clock()
    if not header:
        return NodeClock(name, url, None, None, "the response has no Date header")
    try:
        node_time = email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return NodeClock(name, url, None, None, f"unreadable Date header {header[:40]!r}")
    midpoint, rtt = (sent + received) / 2, received - sent
    return NodeClock(name, url, node_time - midpoint, rtt / 2 + 1.0)


def measure_all(endpoints: list[tuple[str, str]], **kw: object) -> list[NodeClock]:
    """:func:`measure` for every (name, url), in order."""
    return [measure(name, url, **kw) for name, url in endpoints]  # type: ignore[arg-type]


def network_endpoints(out: Path) -> list[tuple[str, str]]:
    """(node, operations URL) of every node of the network generated in ``out``, from its ``env/<node>.env``
    (``CORE_`` / ``ORDERER_OPERATIONS_LISTENADDRESS``, https when ``..._OPERATIONS_TLS_ENABLED`` is true),
    sorted by node name; a file without an operations address is skipped."""
    found = []
    for env_file in sorted((out / "env").glob("*.env")):
        values: dict[str, str] = {}
        for line in env_file.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip().endswith(("_OPERATIONS_LISTENADDRESS", "_OPERATIONS_TLS_ENABLED")):
                words = shlex.split(value)
                values[key.strip().rsplit("_OPERATIONS_", 1)[1]] = words[0] if words else ""
        if values.get("LISTENADDRESS"):
            scheme = "https" if values.get("TLS_ENABLED", "").lower() == "true" else "http"
            found.append((env_file.name[: -len(".env")], f"{scheme}://{values['LISTENADDRESS']}"))
    return found
