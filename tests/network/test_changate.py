"""The channel gate of add-channel / join-channel (pure parts): what is decided on chain is read through
``governance:get_channel`` / ``get_channel_join`` (replaced here by a dictionary); undecided is refused in
one line, a decision for other members is refused, ``--propose`` writes the proposal with its artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qcchain_network import changate
from qcchain_network.errors import NetworkError, RegistryError
from qcchain_network.membergate import NotDecided
from qcchain_sdk.proposals import proposalfile


@pytest.fixture()
def chain(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, ...], dict[str, Any]]:
    decided: dict[tuple[str, ...], dict[str, Any]] = {}
    monkeypatch.setattr(changate, "decision", lambda layout, fn, *args, **kw: decided.get((fn, *args)))
    return decided


def test_decided_channel_passes_and_other_members_refused(chain: dict) -> None:
    chain[("get_channel", "qc2")] = {"channel": "qc2", "members": ["RegulatorMSP", "InspectionMSP"], "source": "p1"}
    assert changate.require_create(None, "qc2", ["InspectionMSP", "RegulatorMSP"]) == "p1"  # a set: any order
    with pytest.raises(NotDecided) as err:
        changate.require_create(None, "qc2", ["InspectionMSP", "UsingUnitMSP"])
    assert "decided channel qc2 for RegulatorMSP, InspectionMSP" in str(err.value) and "\n" not in str(err.value)
    chain[("get_channel_join", "qc2", "UsingUnitMSP")] = {"source": "p2"}
    assert changate.require_join(None, "qc2", "UsingUnitMSP") == "p2"


def test_undecided_refused_in_one_line(chain: dict) -> None:
    with pytest.raises(NotDecided) as err:
        changate.require_create(None, "qc2", ["RegulatorMSP", "InspectionMSP"])
    assert "no executed channel_create" in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, NetworkError)
    with pytest.raises(NotDecided, match="no executed channel_join"):
        changate.require_join(None, "qc2", "UsingUnitMSP")
    with pytest.raises(RegistryError, match="mode"):
        changate.require_join(None, "qc2", "UsingUnitMSP", mode="trust-me")


def test_propose_writes_the_proposal(chain: dict, tmp_path: Path) -> None:
    with pytest.raises(changate.ChannelProposalWritten) as err:
        changate.require_create(None, "qc2", ["RegulatorMSP", "InspectionMSP"], "propose", tmp_path / "p.json")
    assert "channel_create" in str(err.value)
    proposal = proposalfile.load(tmp_path / "p.json")
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["body"]["operation"] == "channel_create" and doc["body"]["target"]["contract"] == "qc2"
    assert doc["artifact"] == {"channel": "qc2", "members": ["RegulatorMSP", "InspectionMSP"]}
    assert proposal.proposal_id
    with pytest.raises(changate.ChannelProposalWritten):
        changate.require_join(None, "qc2", "UsingUnitMSP", "propose", tmp_path / "j.json")
    assert json.loads((tmp_path / "j.json").read_text())["artifact"] == {"channel": "qc2", "msp_id": "UsingUnitMSP"}
    with pytest.raises(RegistryError, match="file name"):
        changate.require_join(None, "qc2", "UsingUnitMSP", "propose", None)
