"""Hosts on one machine for the multi-host test: one Linux network namespace per host, each with its own
10.x address on a veth pair to a bridge that lives in a hub namespace of its own (so the root namespace's
firewall never filters host-to-host traffic), and a veth from the root namespace to the same bridge (the
root namespace is one more host: the test's clients, the admin CLI and the chaincode servers run there).

Every name carries a per-run tag; :meth:`Lab.remove` deletes what :meth:`Lab.create` made, also after a
partial creation, and is safe to call twice.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


class LabUnavailable(RuntimeError):
    """``ip`` is missing or network namespaces cannot be created here (the reason, one line)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def probe() -> None:
    """Raises LabUnavailable unless ``ip`` exists and a namespace can be created (and is removed again)."""
    if shutil.which("ip") is None:
        raise LabUnavailable("the ip command (iproute2) is not installed")
    name = f"qcprobe{secrets.token_hex(3)}"
    made = _ip("netns", "add", name, check=False)
    if made.returncode != 0:
        raise LabUnavailable(f"cannot create a network namespace (ip netns add: {made.stderr.strip()})")
    _ip("netns", "del", name, check=False)


def _free_prefix() -> str:
    """A 10.x.y /24 that no route of the root namespace covers yet."""
    routes = _ip("-4", "route", "show", "table", "all").stdout
    for _ in range(50):
        prefix = f"10.{secrets.randbelow(50) + 200}.{secrets.randbelow(256)}"
        if f"{prefix}." not in routes:
            return prefix
    raise LabUnavailable("no free 10.x.y.0/24 found for the test hosts")


@dataclass
class Lab:
    """Hosts by name (``hosts[name] = last octet``); ``root`` is the root namespace's own address."""

    hosts: dict[str, int]
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    prefix: str = field(default_factory=_free_prefix)
    made: list[tuple[str, str]] = field(default_factory=list)  # ("netns", name) / ("link", name), creation order

    @property
    def hub(self) -> str:
        return f"qc{self.tag}hub"

    @property
    def root(self) -> str:
        return f"{self.prefix}.1"

    def address(self, name: str) -> str:
        return f"{self.prefix}.{self.hosts[name]}"

    def namespace(self, name: str) -> str:
        return f"qc{self.tag}-{name.lower()}"

    def namespaces(self) -> dict[str, str]:
        """Host address -> namespace name (what :func:`qcchain_network.runner.up` takes)."""
        return {self.address(n): self.namespace(n) for n in self.hosts}

    def _netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self.made.append(("netns", name))
        _ip("-n", name, "link", "set", "lo", "up")

    def create(self) -> "Lab":
        """Make the hub (bridge), the root's veth into it and one namespace + veth per host."""
        self._netns(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        root_if = f"qc{self.tag}r"
        _ip("link", "add", root_if, "type", "veth", "peer", "name", "up0", "netns", self.hub)
        self.made.append(("link", root_if))
        _ip("-n", self.hub, "link", "set", "up0", "master", "br0", "up")
        _ip("addr", "add", f"{self.root}/24", "dev", root_if)
        _ip("link", "set", root_if, "up")
        for i, name in enumerate(self.hosts, start=1):
            ns = self.namespace(name)
            self._netns(ns)
            _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"up{i}", "netns", self.hub)
            _ip("-n", self.hub, "link", "set", f"up{i}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{self.address(name)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
        return self

    def pids_in(self, name: str) -> set[int]:
        """PIDs of the processes running in host ``name``'s namespace."""
        out = _ip("netns", "pids", self.namespace(name), check=False).stdout
        return {int(p) for p in out.split()}

    def reachable(self, name: str, port: int) -> bool:
        """True when host ``name`` accepts a TCP connection on ``port`` (seen from the root namespace)."""
        try:
            with socket.create_connection((self.address(name), port), timeout=1):
                return True
        except OSError:
            return False

    def remove(self) -> list[str]:
        """Delete everything made (links first, then namespaces, newest first); returns what is left."""
        for kind, name in reversed(self.made):
            if kind == "link":
                _ip("link", "del", name, check=False)
        for kind, name in reversed(self.made):
            if kind == "netns":
                for pid in self._pids(name):  # nothing may keep a namespace alive
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                _ip("netns", "del", name, check=False)
        self.made.clear()
        return self.leftovers()

    def _pids(self, ns: str) -> set[int]:
        return {int(p) for p in _ip("netns", "pids", ns, check=False).stdout.split()}

    def leftovers(self) -> list[str]:
        """Namespaces or links of this run that still exist."""
        names = _ip("netns", "list").stdout + _ip("link", "show").stdout
        return sorted({w.split("@")[0].rstrip(":") for w in names.split() if w.startswith(f"qc{self.tag}")})


def netns_inode(name: str) -> int:
    """The inode of a named namespace (compare with ``os.stat(f"/proc/{pid}/ns/net").st_ino``)."""
    return Path(f"/run/netns/{name}").stat().st_ino
