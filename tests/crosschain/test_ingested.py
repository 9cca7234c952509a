"""Ingested records across chains: a batch of operator certificates (personnel, txCode 03, L3 sealed) and a
batch of risk pictures (txCode 08, L1 in world state) anchored on devnet A by the in-process ingestion
service, exported with their batch inclusion proofs, verified offline and in B's chaincode, imported on B
(personal fields masked in B's state) and refused -- nothing written -- with a flipped byte anywhere in the
proof, the record or its block, a proof of another leaf, a bundle for another record, and a stale re-import."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qcchain_bench.ingestdata import record
from qcchain_cli.main import cli
from qcchain_contracts.bundleverify import parse_bundle, verify_bundle
from qcchain_contracts.fabricproof import load_anchors
from qcchain_sdk.crosschain import BundleError, export_ingested_bundle

from .conftest import Ingested
from .test_devnets import CHANNEL, _anchors, _govern, _raw, _xc

SOURCE = "provA-ingest"


def _export(chain: Any, ing: Ingested, rid: str, with_proof: bool = True, disclose: bool = True) -> dict[str, Any]:
    inclusion = ing.service.proof(rid) if with_proof else None
    return export_ingested_bundle(chain.net()("ingest"), chain.qscc(), CHANNEL, "qcchain", rid,
                                  "MAJORITY Endorsement", int(time.time()), inclusion, disclose)


def _registered(chain_a: Any, chain_b: Any) -> None:
    if not any(s["name"] == SOURCE and s["status"] == "active" for s in _xc(chain_b).sources()):
        _govern(chain_b, "source_register", _anchors(chain_a), SOURCE)


def test_certificate_with_inclusion_proof(chain_a: Any, chain_b: Any, ingested: Ingested, tmp_path: Path) -> None:
    rid = ingested.personnel[1]
    with pytest.raises(BundleError, match="disclose"):
        _export(chain_a, ingested, rid, disclose=False)
    with pytest.raises(BundleError, match="inclusion proof"):
        _export(chain_a, ingested, rid, with_proof=False)
    bundle = _export(chain_a, ingested, rid)
    assert bundle["key_proof"] is None and bundle["ingest"]["proof"]["size"] == 3
    offline = verify_bundle(parse_bundle(_raw(bundle)), load_anchors(_anchors(chain_a)))
    payload = offline["record"]["payload"]
    assert offline["status"] == "active" and offline["provenance"]["kind"] == "ingested"
    assert payload["ID"] == rid and payload["certNo"] and payload["lcnsKind"] == "锅炉作业"
    assert offline["provenance"]["merkle_root"] == offline["record"]["batch"]["merkle_root"]
    # the auditor's command, no chain
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "a.json").write_text(json.dumps(_anchors(chain_a)))
    ok = CliRunner().invoke(cli, ["crosschain", "verify", str(tmp_path / "b.json"), "--anchors", str(tmp_path / "a.json")])
    assert ok.exit_code == 0 and f"valid: {rid} (active)" in ok.output, ok.output
    # on chain B
    _registered(chain_a, chain_b)
    verdict = _xc(chain_b).verify(SOURCE, _raw(bundle), rid)
    assert verdict["provenance"]["tx_id"] == offline["provenance"]["tx_id"]
    imported = _xc(chain_b, "Maintenance").import_bundle(SOURCE, _raw(bundle), rid)
    stored = _xc(chain_b, "Inspection").certificate(SOURCE, rid)
    assert stored == imported and stored["status"] == "active" and stored["provenance"]["block"] > 0
    assert stored["record"]["payload"]["certNo"] == payload["certNo"]
    assert stored["record"]["payload"]["idCardNo"] != payload["idCardNo"] and stored["record"]["masked"] == ["idCardNo"]
    with pytest.raises(Exception, match="stale"):
        _xc(chain_b).import_bundle(SOURCE, _raw(bundle), rid)


def test_world_state_record_needs_only_the_chain(chain_a: Any, ingested: Ingested) -> None:
    rid = ingested.pictures[1]
    bundle = _export(chain_a, ingested, rid, with_proof=False, disclose=False)
    assert bundle["ingest"]["proof"] == ingested.service.proof(rid)["proof"]
    cert = verify_bundle(parse_bundle(_raw(bundle)), load_anchors(_anchors(chain_a)))
    assert cert["record"]["payload"]["ID"] == rid and cert["record"]["placement"] == "world_state"


def _mutated(bundle: dict[str, Any], change: Any) -> bytes:
    out = json.loads(json.dumps(bundle))
    change(out)
    return _raw(out)


def _flip_b64(value: str, offset: int) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[offset % len(raw)] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _flip_hex(value: str, offset: int) -> str:
    digit = value[offset % len(value)]
    return value[:offset % len(value)] + ("0" if digit != "0" else "1") + value[offset % len(value) + 1:]


def test_tampered_proofs_refused_nothing_written(chain_a: Any, chain_b: Any, ingested: Ingested) -> None:
    rid = ingested.personnel[0]
    bundle = _export(chain_a, ingested, rid)
    anchors = load_anchors(_anchors(chain_a))
    proof = bundle["ingest"]["proof"]
    leaf_len = len(base64.b64decode(bundle["ingest"]["leaf"]))
    cases: list[Any] = [lambda b, o=o: b["ingest"].update(leaf=_flip_b64(b["ingest"]["leaf"], o))
                        for o in range(0, leaf_len, max(1, leaf_len // 40))]
    for i in range(len(proof["siblings"])):
        cases += [lambda b, i=i, o=o: b["ingest"]["proof"]["siblings"].__setitem__(
            i, _flip_hex(b["ingest"]["proof"]["siblings"][i], o)) for o in (0, 31, 63)]
    cases += [lambda b, o=o: b["ingest"]["proof"].update(root=_flip_hex(proof["root"], o)) for o in (0, 40)]
    cases += [lambda b, o=o: b["ingest"]["proof"].update(leaf=_flip_hex(proof["leaf"], o)) for o in (0, 40)]
    cases += [lambda b: b["ingest"]["proof"].update(index=proof["index"] ^ 1),
              lambda b: b["ingest"]["proof"].update(size=proof["size"] + 1),
              lambda b: b["ingest"]["proof"]["siblings"].pop(),
              lambda b: b.update(key_proof=b["record_proof"])]
    block_len = len(base64.b64decode(bundle["record_proof"]["block"]))
    cases += [lambda b, o=o: b["record_proof"].update(block=_flip_b64(b["record_proof"]["block"], o))
              for o in range(0, block_len, max(1, block_len // 40))]
    for case in cases:
        with pytest.raises(Exception):
            verify_bundle(parse_bundle(_mutated(bundle, case)), anchors)
    assert len(cases) >= 90
    # another leaf's proof, another record's id
    other = ingested.service.proof(ingested.personnel[2])
    with pytest.raises(Exception, match="does not hash|leaf"):
        verify_bundle(parse_bundle(_mutated(bundle, lambda b: b["ingest"].update(proof=other["proof"]))), anchors)
    with pytest.raises(Exception, match="of record"):
        verify_bundle(parse_bundle(_mutated(bundle, lambda b: b.update(record_id=ingested.personnel[2]))), anchors)
    # on chain B: a flipped leaf byte and a flipped sibling are refused with the reason, nothing written
    _registered(chain_a, chain_b)
    before = _xc(chain_b).certificates()
    flipped = _mutated(bundle, lambda b: b["ingest"].update(leaf=_flip_b64(b["ingest"]["leaf"], 7)))
    with pytest.raises(Exception, match="not JSON|not the canonical|does not hash|of record"):
        _xc(chain_b).import_bundle(SOURCE, flipped, rid)
    sibling = _mutated(bundle, lambda b: b["ingest"]["proof"]["siblings"].__setitem__(0, _flip_hex(proof["siblings"][0], 5)))
    with pytest.raises(Exception, match="inclusion proof does not hold"):
        _xc(chain_b).import_bundle(SOURCE, sibling, rid)
    assert _xc(chain_b).certificates() == before


def test_cli_export_ingested(chain_a: Any, ingested: Ingested, tmp_path: Path) -> None:
    profile = str(chain_a.profiles["Regulator"])
    rid, picture = ingested.personnel[2], ingested.pictures[0]
    (tmp_path / "inc.json").write_text(json.dumps(ingested.service.proof(rid), ensure_ascii=False))
    (tmp_path / "a.json").write_text(json.dumps(_anchors(chain_a)))
    base = ["crosschain", "export", "--profile", profile]
    refused = CliRunner().invoke(cli, [*base, rid, "--inclusion", str(tmp_path / "inc.json"), "-o", str(tmp_path / "x.json")])
    assert refused.exit_code != 0 and "--disclose-private" in refused.output and not (tmp_path / "x.json").exists()
    for name, args in ((rid, ["--inclusion", str(tmp_path / "inc.json"), "--disclose-private"]), (picture, [])):
        out = tmp_path / f"{name}.json"
        done = CliRunner().invoke(cli, [*base, name, *args, "-o", str(out)])
        assert done.exit_code == 0 and "ingested, with its batch inclusion proof, attested" in done.output, done.output
        ok = CliRunner().invoke(cli, ["crosschain", "verify", str(out), "--anchors", str(tmp_path / "a.json")])
        assert ok.exit_code == 0 and f"valid: {name} (active)" in ok.output and "; current at " in ok.output, ok.output
    bare = CliRunner().invoke(cli, [*base, picture, "--no-attestation", "-o", str(tmp_path / "bare.json")])
    assert bare.exit_code == 0 and "attested" not in bare.output, bare.output
    assert "attestation" not in json.loads((tmp_path / "bare.json").read_text())


def test_masking_is_ingest_s() -> None:
    from qcchain_contracts import crosschain_ingest, ingest

    assert crosschain_ingest.PERSONAL_FIELDS == ingest.PERSONAL_FIELDS
    person = record("03", "P-1", "2024010100000001", "I", "2024-01-01", 7) | {"linkTel": "13912345678"}
    assert crosschain_ingest.masked(person) == (ingest.mask_record(person), ["idCardNo", "linkTel"])
