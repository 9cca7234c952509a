"""Nodes started inside network namespaces (``netns.json``), and port checks on addresses of other hosts."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Callable

import pytest

from qcchain_consortium.consortium import load_consortium
from qcchain_network import backend, netns, procs
from qcchain_network.derive import derive


def _spread(data: Any) -> None:
    data["network"]["host"] = "10.20.0.1"
    data["orderer"]["host"] = "10.20.0.10"
    for i, org in enumerate(data["orgs"]):
        org["host"] = f"10.20.0.{i + 2}"


def test_record_load_and_wrap(tmp_path: Path, edit: Callable[[str, Callable[[Any], None]], Path]) -> None:
    layout = derive(load_consortium(edit("network/consortium.yaml", _spread)), tmp_path)
    assert isinstance(backend.backend_for(tmp_path), backend.NativeBackend)
    assert not isinstance(backend.backend_for(tmp_path), backend.NetnsBackend)
    netns.record(tmp_path, {"10.20.0.10": "ns-ord", "10.20.0.2": "ns-insp"}, layout)
    assert netns.load(tmp_path) == {"10.20.0.10": "ns-ord", "10.20.0.2": "ns-insp"}
    chosen = backend.backend_for(tmp_path)
    assert isinstance(chosen, backend.NetnsBackend) and chosen.mode == "native"
    assert chosen.wrap(layout, "orderer1.qcchain.example", ["orderer"]) == ["ip", "netns", "exec", "ns-ord", "orderer"]
    assert chosen.wrap(layout, "peer0.inspection.qcchain.example", ["peer", "node", "start"])[:4] == [
        "ip", "netns", "exec", "ns-insp"]
    assert chosen.wrap(layout, "peer0.regulator.qcchain.example", ["peer"]) == ["peer"]  # not namespaced


@pytest.mark.parametrize("mapping, fragment", [
    ({}, "non-empty map"), ({"10.20.0.2": "bad name!"}, "namespace name"),
    ({"10.99.0.1": "ns-x"}, "no node of the network is at 10.99.0.1")])
def test_bad_maps_are_refused_and_nothing_written(tmp_path: Path, edit: Callable[[str, Callable[[Any], None]], Path],
                                                  mapping: dict[str, str], fragment: str) -> None:
    layout = derive(load_consortium(edit("network/consortium.yaml", _spread)), tmp_path)
    with pytest.raises(netns.NetnsError, match=fragment):
        netns.record(tmp_path / "out", mapping, layout)
    assert not (tmp_path / "out" / netns.FILE).exists()


def test_malformed_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / netns.FILE).write_text("{nope")
    with pytest.raises(netns.NetnsError) as exc:
        netns.load(tmp_path)
    assert "unreadable" in str(exc.value) and "\n" not in str(exc.value)


def test_port_check_on_an_address_of_another_host() -> None:
    # 192.0.2.0/24 (TEST-NET-1) is not an address of this machine: bind fails with EADDRNOTAVAIL, and
    # nothing accepts there, so the port counts as free; a local port in use is still refused
    procs.check_ports_free("192.0.2.7", [("peer0", 7050)])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(procs.PortInUse, match=f"127.0.0.1:{port}"):
            procs.check_ports_free("127.0.0.1", [("peer0", port)])
