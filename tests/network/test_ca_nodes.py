"""Node operations on a ``--ca`` network without Fabric CA binaries: CA ports that the node overlay does not
move, which CA issues a node, the one-line "CA not running" error (nothing written), reuse of an identity
enrolled by an earlier add, and connection profiles re-rendered from the overlay (added peer listed,
removed peer gone)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcchain_network import canodes, nodeops, overlay
from qcchain_network.__main__ import main
from qcchain_network.derive import Layout, ca_nodes
from qcchain_network.netdir import load_layout
from qcchain_network.render import render_profiles, rendered_profiles

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "tests" / "integration" / "small-consortium.yaml"
PEER2 = "peer2.inspection.qcchain.example"
PEM = "-----BEGIN CERTIFICATE-----\nTLSCA\n-----END CERTIFICATE-----\n"


def _layout(out: Path) -> Layout:
    return load_layout(SMALL, out)


def _with_tls_cas(layout: Layout) -> Layout:
    """Fake TLS CA files where the profiles read them (the profile embeds them as they are)."""
    for peer in layout.peers:
        peer.tls_dir.mkdir(parents=True, exist_ok=True)
        (peer.tls_dir / "ca.crt").write_text(PEM)
    return layout


def _add_peer2(out: Path) -> None:
    overlay.save(out, overlay.Overlay().with_added(overlay.Added("peer", 2, PEER2, 0, "Inspection")))


def _mark_ca(layout: Layout) -> None:
    """Make ``layout.out`` look like a network generated with ``--ca`` (a server config per CA)."""
    for node in ca_nodes(layout):
        (node.home / "server").mkdir(parents=True, exist_ok=True)
        (node.home / "server" / "fabric-ca-server-config.yaml").write_text("port: 1\n")


def test_overlay_does_not_move_the_ca_ports(tmp_path: Path) -> None:
    before = ca_nodes(_layout(tmp_path))
    _add_peer2(tmp_path)
    ovl = overlay.load(tmp_path).with_added(overlay.Added("orderer", 3, "orderer3.qcchain.example", 1))
    overlay.save(tmp_path, ovl.without("orderer2.qcchain.example", {"orderer2.qcchain.example"}))
    layout = _layout(tmp_path)
    assert len(layout.peers) == 4 and [n.host for n in layout.orderers][-1] == "orderer3.qcchain.example"
    assert ca_nodes(layout) == before
    added = {p for n in layout.orderers[-1:] for p in (n.listen, n.admin, n.operations)}
    assert added.isdisjoint({p for n in before for p in (n.listen, n.operations)})


def test_the_issuing_ca_of_a_node(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    assert canodes.ca_of(layout, "peer", "Inspection").host == "ca.inspection.qcchain.example"
    assert canodes.ca_of(layout, "peer", "Regulator").host == "ca.regulator.qcchain.example"
    assert canodes.ca_of(layout, "orderer").host == "ca.qcchain.example"
    with pytest.raises(KeyError, match="Nope"):
        canodes.ca_of(layout, "peer", "Nope")
    assert canodes.is_ca_host(layout, "ca.qcchain.example") and not canodes.is_ca_host(layout, "orderer0.qcchain.example")


def test_ca_not_running_is_one_line_naming_it_and_how_to_start_it(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    node = canodes.ca_of(layout, "peer", "Inspection")
    with pytest.raises(canodes.CANotRunning) as err:
        canodes.require_running(layout, node)
    message = str(err.value)
    assert "ca.inspection.qcchain.example of Inspection is not running" in message and "\n" not in message
    assert f"network.sh start-node ca.inspection.qcchain.example --dir {layout.out}" in message
    peer = layout.peers[0]
    with pytest.raises(canodes.CANotRunning):  # nothing enrolled, nothing written
        canodes.enroll_node(layout, "peer", PEER2, tmp_path / "x" / "msp", tmp_path / "x" / "tls", "Inspection")
    assert not (tmp_path / "x").exists() and peer.host != PEER2
    with pytest.raises(canodes.CANotRunning):
        canodes.revoke_node(layout, node, PEER2)


def test_an_identity_enrolled_by_an_earlier_add_is_reused(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    msp, tls = tmp_path / "n" / "msp", tmp_path / "n" / "tls"
    (msp / "signcerts").mkdir(parents=True)
    (msp / "signcerts" / f"{PEER2}-cert.pem").write_text(PEM)
    tls.mkdir()
    (tls / "server.crt").write_text(PEM)
    assert canodes.enroll_node(layout, "peer", PEER2, msp, tls, "Inspection") is False  # CA not even asked


def test_removal_checks_the_ca_first_only_on_ca_networks(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    assert nodeops._ca_for_removal(layout, "peer", "Inspection") is None  # noqa: SLF001 - cryptogen network
    _mark_ca(layout)
    with pytest.raises(canodes.CANotRunning, match="ca.qcchain.example of Orderer"):
        nodeops._ca_for_removal(layout, "orderer")  # noqa: SLF001


def test_profiles_follow_the_overlay(tmp_path: Path) -> None:
    base = _with_tls_cas(_layout(tmp_path))
    render_profiles(base)
    _add_peer2(tmp_path)
    added = _with_tls_cas(_layout(tmp_path))
    only = rendered_profiles(added, ["Inspection"])
    assert list(only) == [added.profile_file(added.consortium.org("Inspection"))]
    render_profiles(added, ["Inspection"])
    doc = json.loads(added.profile_file(added.consortium.org("Inspection")).read_text())
    peer2 = next(p for p in added.peers if p.host == PEER2)
    assert doc["organizations"]["Inspection"]["peers"][-1] == PEER2
    assert doc["peers"][PEER2]["url"] == f"grpcs://127.0.0.1:{peer2.listen}"
    assert doc["peers"][PEER2]["grpcOptions"]["ssl-target-name-override"] == PEER2
    assert PEER2 in doc["channels"]["qcchannel"]["peers"]
    regulator = json.loads(added.profile_file(added.consortium.org("Regulator")).read_text())
    assert PEER2 not in regulator["peers"]
    overlay.save(tmp_path, overlay.load(tmp_path).without(PEER2, set()))
    render_profiles(_layout(tmp_path), ["Inspection"])
    doc = json.loads(added.profile_file(added.consortium.org("Inspection")).read_text())
    assert PEER2 not in doc["peers"] and len(doc["organizations"]["Inspection"]["peers"]) == 2
    with pytest.raises(KeyError):
        rendered_profiles(added, ["Nope"])


def test_start_node_of_a_ca_on_a_cryptogen_network_is_one_line(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net"
    rc = main(["start-node", "ca.inspection.qcchain.example", "--consortium", str(SMALL), "--dir", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "no server config" in err and "not a --ca network" in err and len(err.splitlines()) == 1
