"""Host addresses of a consortium (pure): where each organisation's processes listen and are reached.

An org (or the orderer org) may name its own ``host``; without one it uses ``network.host`` (default
``127.0.0.1``, where the chaincode servers listen too). A host is an IPv4 address or a DNS host name.
:func:`host_error` and :func:`loopback_mix` say what is wrong with them: an address that is neither, an unusable IPv4
address (``0.0.0.0``, multicast, broadcast), or a loopback host mixed with hosts elsewhere (the other hosts
could not reach a process that advertises a loopback address).
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["host_error", "is_loopback", "loopback_mix"]

_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_DOTTED = re.compile(r"^[0-9.]+$")


def host_error(host: str) -> str | None:
    """Why ``host`` is not a usable IPv4 address or DNS host name (None when it is)."""
    if _DOTTED.match(host):
        try:
            addr = ipaddress.IPv4Address(host)
        except ValueError:
            return f"host {host!r} is not a valid IPv4 address"
        if addr.is_unspecified or addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255"):
            return f"host {host!r} cannot be listened on and advertised (unspecified, multicast or broadcast)"
        return None
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        return f"host {host!r} is neither an IPv4 address nor a valid DNS host name"
    return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and 127.0.0.0/8."""
    if host == "localhost":
        return True
    try:
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


def loopback_mix(hosts: dict[str, str]) -> list[tuple[str, str]]:
    """``hosts`` maps an owner (an org name) to its host: ``(owner, what is wrong)`` for each owner on a
    loopback host while another owner is on a host elsewhere (empty when all are loopback or none is)."""
    elsewhere = sorted({h for h in hosts.values() if not is_loopback(h)})
    if not elsewhere:
        return []
    return [(owner, f"{owner} is on loopback host {host!r} while other processes are on {', '.join(elsewhere)}: "
            f"they could not reach it (give {owner} a host address)")
            for owner, host in hosts.items() if is_loopback(host)]
