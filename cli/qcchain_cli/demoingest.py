"""The ingestion steps of ``qcchain demo`` (seed 001, issue 11): after the consortium story held, the
Regulator (the ingesting org) runs the HTTPS ingestion service in this process and issues an appid to a
using unit that runs no Fabric organisation; the unit pushes a unit (01) and a hidden-danger (09, L3)
batch, gets SM2-signed receipts, updates and deletes a record; the regulator reads them (the L3 one by
unwrapping its data key), another org sees personal fields masked; an independent org verifies a record's
inclusion proof against the Merkle root its own peer holds.
"""

from __future__ import annotations

import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from qcchain_bench.ingestdata import batch_no, credit_code, record
from qcchain_core.canonical import canonical_json, canonical_loads
from qcchain_core.gm import sm4_gcm_decrypt
from qcchain_gateway.profile import connect_profile
from qcchain_ingest.anchor import ChainLink
from qcchain_ingest.batch import china_today
from qcchain_ingest.db import open_engine, sqlite_url
from qcchain_ingest.receipt import verify_receipt
from qcchain_ingest.server import ServeOptions, serving_in_thread
from qcchain_ingest.service import IngestService
from qcchain_model.errors import InvalidProof
from qcchain_sdk.contracts.ingest import IngestClient
from qcchain_sdk.contracts.story import StoryError

__all__ = ["ingestion_steps"]

PREFIX = "/jsdspcloud/servlet"
CHANNEL = "qcchannel"


def _fail(step: str, why: str) -> StoryError:
    return StoryError(f"ingestion step '{step}': {why}")


class _Unit:
    """The using unit's side: HTTPS calls with its token."""

    def __init__(self, url: str, cert: str, appid: str, secret: str, settle: Any) -> None:
        self.settle = settle
        self.http = httpx.Client(base_url=url + PREFIX, verify=ssl.create_default_context(cafile=cert), timeout=60)
        self.appid, self.day, self.seq = appid, china_today(time.time()), 0
        answer = self.http.get("/token", params={"appid": appid, "secret": secret}).json()
        if answer["rescode"] != "1":
            raise _fail("token", answer["msg"])
        self.token = answer["data"]["access_token"]

    def push(self, txcode: str, bus: str, ids: list[str], n0: int) -> dict[str, Any]:
        self.seq += 1
        number = batch_no(self.day, self.seq)
        body = {"access_token": self.token, "batchNo": number, "txcode": txcode, "busType": bus,
                "data": [record(txcode, rid, number, bus, self.day, n0 + i) for i, rid in enumerate(ids)]}
        answer = self.http.post("/syndata", json=body).json()
        if answer["rescode"] != "1":
            raise _fail(f"syndata {txcode}/{bus}", answer["msg"])
        self.settle(int(answer["data"]["block"]))  # on Fabric: every org's peer holds the batch before reads
        return {"receipt": answer["data"], "records": body["data"]}


def _plain(view: dict[str, Any] | None, key: Any) -> dict[str, Any] | None:
    """The record of a view: in clear (world state) or unsealed with the reader's wrapped data key (L3)."""
    if view is None:
        return None
    if "record" in view:
        return view["record"]  # type: ignore[no-any-return]
    if not view.get("wrapped_key") or not view.get("ciphertext"):
        return None
    data_key = key.decrypt(bytes.fromhex(view["wrapped_key"]["wrapped"]))
    blob = bytes.fromhex(view["ciphertext"])
    return canonical_loads(sm4_gcm_decrypt(data_key, blob[:12], blob[12:], view["ID"].encode("utf-8")))  # type: ignore[no-any-return]


def ingestion_steps(story: Any, regulator_profile: Path, say: Any) -> None:
    """Run the steps (each appended to ``story.steps``). Raises StoryError naming the step that did not hold."""
    reg, done = story.reg, story.done
    gateway = connect_profile(regulator_profile, user="Admin")
    with tempfile.TemporaryDirectory(prefix="qcchain-demo-ingest-") as tmp:
        try:
            engine = open_engine(sqlite_url(str(Path(tmp) / "ingest.db")))
            service = IngestService(engine, ChainLink(gateway.get_network(CHANNEL), reg.msp_id), reg.key, time.time)
            with serving_in_thread(service, ServeOptions(state_dir=Path(tmp), db_url="", port=0)) as (url, cert):
                cred = service.credentials.issue(credit_code(4743), "南京某化工有限公司")
                done(f"ingestion: {reg.msp_id} serves seed-001 HTTPS ({url}) and issued appid {cred['appid']} "
                     "to a using unit (secret shown once, stored as scrypt)")
                _unit_steps(_Unit(url, cert, cred["appid"], cred["secret"], story.settle), story, done)
        finally:
            gateway.close()


def _unit_steps(unit: _Unit, story: Any, done: Any) -> None:
    reg, ins = story.reg, story.ins
    tag = unit.appid[-6:]
    ids01, id09 = [f"U01-{tag}-1", f"U01-{tag}-2"], f"HD09-{tag}-1"
    first = unit.push("01", "I", ids01, 1)
    hidden = unit.push("09", "I", [id09], 9)
    for sent in (first, hidden):
        receipt = sent["receipt"]
        if not verify_receipt(receipt, reg.key.public_key()) or reg.gov().get_key(receipt["key_id"])["msp_id"] != reg.msp_id:
            raise _fail("receipt", "the receipt is not signed by the regulator's registered SM2 key")
    done(f"ingestion: unit (01, 2 records) and hidden-danger (09, L3 sealed) batches anchored in blocks "
         f"{first['receipt']['block']} and {hidden['receipt']['block']}, receipts SM2-signed by {reg.msp_id}")
    updated = unit.push("01", "U", ids01[:1], 50)
    unit.push("01", "D", ids01[1:], 2)
    done("ingestion: the unit updated one record (busType U) and deleted the other (busType D, history kept)")
    regs, others = IngestClient(reg.contract("")), IngestClient(ins.contract(""))
    view = regs.get(ids01[0])
    if view is None or view["access"] != "full" or _plain(view, reg.key) != updated["records"][0] or view["version"] != 2:
        raise _fail("regulator read", "the regulator does not see the updated record in full")
    gone = regs.get(ids01[1])
    if gone is None or not gone["deleted"] or len(regs.history(ids01[1])) != 2:
        raise _fail("regulator read", "the deleted record is not marked deleted with its history")
    sealed = regs.get(id09)
    if sealed is None or _plain(sealed, reg.key) != hidden["records"][0]:
        raise _fail("regulator read", "the regulator cannot unwrap the L3 hidden-danger record")
    masked = others.get(ids01[0])
    seen = _plain(masked, ins.key) or {}
    if seen.get("linkTel") == updated["records"][0]["linkTel"]:
        raise _fail("masking", f"{ins.msp_id} sees the unit's phone number unmasked")
    done(f"ingestion: {reg.msp_id} reads the update in full, the delete with its history and the L3 hidden danger "
         f"(data keys unwrapped); {ins.msp_id} gets the {masked['access'] if masked else 'no'} view, phone not revealed")
    answer = unit.http.get(f"/proof/{ids01[0]}", params={"access_token": unit.token}).json()
    if answer["rescode"] != "1":
        raise _fail("proof", answer["msg"])
    proof, header = answer["data"], answer["data"]["receipt"]["header"]
    others.verify_proof(proof["record"], proof["proof"], unit.appid, header["batch_no"])
    try:
        others.verify_proof(dict(proof["record"], comName="篡改"), proof["proof"], unit.appid, header["batch_no"])
    except InvalidProof:
        pass
    else:
        raise _fail("proof", "a tampered record passed the inclusion proof")
    if canonical_json(proof["record"]) != canonical_json(updated["records"][0]):
        raise _fail("proof", "the proof is not of the record's latest version")
    done(f"ingestion: {ins.msp_id}, as auditor, verified the record's SM3 Merkle inclusion proof against the root "
         f"its own peer holds (batch {header['batch_no']}); a tampered copy fails")
