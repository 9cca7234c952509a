"""Fabric -> devnet (T-9.2.3): a certificate issued on a native Hyperledger Fabric network (the project's five
orgs, cryptogen CAs, one raft orderer, ``qcchain_contracts`` deployed as CCaaS on qcchannel) is exported as a
proof bundle -- a real Fabric block with its orderer signature, the peers' endorsements, the channel's MSP
config -- registered by governance, verified in chaincode and imported on a devnet consortium with different
crypto material and org names (``Pk*``, ``park.example``). Refused there, nothing written: flipped bytes of
the Fabric block, an endorser revoked by a CRL that the Fabric org's CA signed, an MSP not registered. The bundle
is attested: the Fabric peers' endorsed (never submitted) read of EQ shows the version the block proves.

Skipped, saying why, when the Fabric binaries (``FABRIC_BIN`` or ``PATH``) or Fabric's base config are absent.
"""

from __future__ import annotations

import base64
import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the cross-chain package's helpers
from crosschain.chains import Chain, crl_revoking, devnet_chain, members_of, renamed_consortium  # noqa: E402
from crosschain.test_devnets import _govern, _raw, _xc  # noqa: E402

from qcchain_contracts.bundleverify import parse_bundle, verify_bundle  # noqa: E402
from qcchain_contracts.fabricproof import load_anchors  # noqa: E402
from qcchain_sdk.contracts.story import EQ, ORG_NAMES, Story, StoryConfig, demo_payloads  # noqa: E402
from qcchain_sdk.crosschain import export_bundle, source_document  # noqa: E402

pytestmark = pytest.mark.fabric

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "qcchannel"
SOURCE = "fabricA"
RULE = "MAJORITY Endorsement"  # consortium_majority of policies/endorsement.yaml, made explicit by the SDK


def _binaries_or_skip() -> None:
    from qcchain_network.binaries import base_config_dir, find_all
    from qcchain_network.errors import BinaryNotFound

    try:
        base_config_dir(find_all()["peer"])
    except BinaryNotFound as exc:
        pytest.skip(f"Fabric -> devnet cross-chain test skipped: {exc}")


def _free_base(candidates: tuple[int, ...] = (29250, 31250, 33250, 35250), span: int = 120) -> int:
    """A base port whose next ``span`` ports are free on loopback."""
    for base in candidates:
        try:
            for port in range(base, base + span):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    pytest.skip("no free block of loopback ports for the Fabric network")


def _consortium(tmp: Path) -> Path:
    """The project's consortium reduced to what the test needs: qcchannel only, one raft orderer."""
    doc = yaml.safe_load((ROOT / "network" / "consortium.yaml").read_text())
    doc["name"] = "qcchain-xc"
    doc["network"]["base_port"] = _free_base()
    doc["orderer"]["nodes"] = 1
    doc["channels"] = [c for c in doc["channels"] if c["name"] == CHANNEL]
    doc["policies"] = {n: str(ROOT / "policies" / f"{n}.yaml") for n in ("endorsement", "collections")}
    (tmp / "consortium.yaml").write_text(yaml.safe_dump(doc))
    return tmp / "consortium.yaml"


@pytest.fixture(scope="module")
def fabric_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """Source A on native Fabric, story bootstrapped (members, keys, governed deploy), EQ registered."""
    _binaries_or_skip()
    from qcchain_network import procs

    tmp = tmp_path_factory.mktemp("fabricA")
    yield from _story_on(tmp)
    left = [p.name for p in procs.read_pids(tmp / "net") if procs.alive(p.pid)]
    assert not left, f"processes left running: {left}"


def _story_on(tmp: Path) -> Iterator[Chain]:
    from qcchain_network.demo.storyrunner import story_network, synced_orgs

    with story_network(tmp / "net", _consortium(tmp)) as net:
        profiles = {n: net.profiles[n] for n in ORG_NAMES}
        orgs, gateways, _heights = synced_orgs(profiles, CHANNEL, members_of("A "))
        try:
            qscc = gateways[ORG_NAMES.index("Regulator")].get_network(CHANNEL).get_contract("qscc")
            policies = {n: yaml.safe_load((ROOT / "policies" / f"{n}.yaml").read_text())
                        for n in ("governance", "grading", "sharing")}
            story = Story(orgs, StoryConfig(CHANNEL, policies, lambda: int(time.time()), net.digests, demo_payloads(),
                                            say=lambda _s: None, qscc=qscc))
            story.members()
            story.keys()
            story.deploy()
            story.equipment()
            yield Chain("fabric", story, profiles, gateways, tmp / "net")
        finally:
            for gw in gateways:
                gw.close()


@pytest.fixture(scope="module")
def devnet_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    tmp = tmp_path_factory.mktemp("devnetB")
    yield from devnet_chain("B ", tmp / "devnet", renamed_consortium(tmp))


def _anchors(chain: Chain) -> dict[str, Any]:
    return source_document(chain.qscc().evaluate_transaction("GetBlockByNumber", CHANNEL, "0"), CHANNEL, "qcchain", RULE)


def _flip(bundle: dict[str, Any], offset: int) -> bytes:
    out = json.loads(json.dumps(bundle))
    raw = bytearray(base64.b64decode(out["record_proof"]["block"]))
    raw[offset % len(raw)] ^= 0x04
    out["record_proof"]["block"] = base64.b64encode(bytes(raw)).decode()
    return _raw(out)


def test_fabric_certificate_imported_on_devnet(fabric_a: Chain, devnet_b: Chain) -> None:
    net = fabric_a.net()
    bundle = export_bundle(net("records"), net("keys"), fabric_a.qscc(), CHANNEL, "qcchain", EQ, RULE, int(time.time()),
                           attestor=fabric_a.gateway_contract())
    doc = _anchors(fabric_a)
    assert sorted(doc["msps"]) == sorted(f"{n}MSP" for n in ORG_NAMES) and list(doc["orderer_msps"]) == ["OrdererMSP"]
    assert doc["endorsement_policy"].startswith("OutOf(3, ")
    offline = verify_bundle(parse_bundle(_raw(bundle)), load_anchors(doc))
    endorsers = offline["provenance"]["endorsers"]
    assert offline["status"] == "active" and len(set(endorsers)) >= 3
    # the Fabric peers' endorsed read (never submitted) shows this version: committed VALID, current at export
    assert offline["provenance"]["attested_at"] >= offline["provenance"]["tx_time"]
    assert len(set(offline["provenance"]["attested_by"])) >= 3
    envelope = base64.b64decode(bundle["attestation"]["envelope"])
    for offset in range(0, len(envelope), max(1, len(envelope) // 40)):
        flipped = bytearray(envelope)
        flipped[offset] ^= 0x02
        with pytest.raises(Exception):
            verify_bundle(parse_bundle(_raw(dict(bundle, attestation={"envelope": base64.b64encode(bytes(flipped)).decode()}))),
                          load_anchors(doc))
    # B (devnet, own CAs, Pk* orgs) registers the Fabric network by 3 of its 5 orgs' signatures
    _govern(devnet_b, "source_register", doc, SOURCE)
    assert _xc(devnet_b).verify(SOURCE, _raw(bundle), EQ)["provenance"]["tx_id"] == offline["provenance"]["tx_id"]
    # refused on B with the reason, nothing written
    before = _xc(devnet_b).certificates()
    length = len(base64.b64decode(bundle["record_proof"]["block"]))
    for offset in range(0, length, max(1, length // 25)):
        with pytest.raises(Exception):
            _xc(devnet_b).import_bundle(SOURCE, _flip(bundle, offset), EQ)
    domain = f"{endorsers[0].removesuffix('MSP').lower()}.qcchain.example"
    revoked = json.loads(json.dumps(bundle))
    revoked["config"]["msps"][endorsers[0]]["crls"] = [crl_revoking(fabric_a.state / "crypto" / "peerOrganizations" / domain,
                                                                    f"peer0.{domain}")]
    with pytest.raises(Exception, match="is revoked"):
        _xc(devnet_b).import_bundle(SOURCE, _raw(revoked), EQ)
    assert _xc(devnet_b).certificates() == before
    # imported and read back by another org of B, with its Fabric provenance
    imported = _xc(devnet_b, "Maintenance").import_bundle(SOURCE, _raw(bundle), EQ)
    stored = _xc(devnet_b, "Inspection").certificate(SOURCE, EQ)
    assert stored == imported and stored["provenance"]["block"] == offline["provenance"]["block"] > 0
    assert stored["record"]["payload"] and stored["provenance"]["endorsers"] == endorsers
    with pytest.raises(Exception, match="stale"):
        _xc(devnet_b).import_bundle(SOURCE, _raw(bundle), EQ)


def test_unregistered_endorsing_msp_refused(fabric_a: Chain) -> None:
    net = fabric_a.net()
    bundle = parse_bundle(_raw(export_bundle(net("records"), net("keys"), fabric_a.qscc(), CHANNEL, "qcchain", EQ, RULE,
                                             int(time.time()))))
    doc = _anchors(fabric_a)
    endorsers = verify_bundle(bundle, load_anchors(doc))["provenance"]["endorsers"]
    rest = sorted(m for m in doc["msps"] if m != endorsers[0])
    narrow = dict(doc, msps={m: doc["msps"][m] for m in rest},
                  endorsement_policy="OutOf(2, " + ", ".join(f"'{m}.peer'" for m in rest) + ")")
    with pytest.raises(Exception, match=f"{endorsers[0]}.*not registered"):
        verify_bundle(bundle, load_anchors(narrow))
