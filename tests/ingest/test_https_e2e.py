"""End to end over real HTTPS on the devnet: token -> syndata -> anchored on chain with a Merkle root,
idempotent resend, I/U/D rules on chain, L3 sealing, receipts and inclusion proofs."""

from __future__ import annotations

import json
import subprocess

from qcchain_bench.ingestdata import batch_no, credit_code, record
from qcchain_model.merkle import InclusionProof, verify_inclusion
from qcchain_core.canonical import canonical_json

from .conftest import QC, Server

DAY = "2024-07-08"


def body(token: str, seq: int, txcode: str, bus: str, ids: list[str], n0: int = 0) -> dict:
    b = batch_no(DAY, seq)
    return {"access_token": token, "batchNo": b, "txcode": txcode, "busType": bus,
            "data": [record(txcode, rid, b, bus, DAY, n0 + i) for i, rid in enumerate(ids)]}


def post(server: Server, doc: dict) -> dict:
    return server.http.post("/syndata", json=doc).json()


def test_insert_resend_update_delete_and_proof(server: Server) -> None:
    cred = server.issue(11)
    token = server.token(cred)
    first = body(token, 1, "01", "I", ["u11-a", "u11-b", "u11-c"])
    answer = post(server, first)
    assert answer["rescode"] == "1", answer
    receipt = answer["data"]
    assert receipt["header"]["count"] == 3 and receipt["header"]["batch_no"] == first["batchNo"]
    assert receipt["tx_id"] and receipt["block"] > 0 and receipt["signature"]
    again = post(server, first)                                 # idempotent: same receipt, nothing twice
    assert again["rescode"] == "1" and again["data"] == receipt
    other = dict(first, data=first["data"][:2])                 # same batchNo, other content
    refused = post(server, other)
    assert refused["rescode"] == "0" and "already used" in refused["msg"]
    dup = post(server, body(token, 2, "01", "I", ["u11-a"]))     # insert of an existing ID: refused on chain
    assert dup["rescode"] == "0" and dup["data"][0]["index"] == 0 and "already exists" in dup["data"][0]["reason"]
    upd = post(server, body(token, 3, "01", "U", ["u11-a"], n0=5))
    assert upd["rescode"] == "1", upd
    unknown = post(server, body(token, 4, "01", "U", ["nope-1"]))
    assert unknown["rescode"] == "0" and "does not exist" in unknown["data"][0]["reason"]
    status = server.http.get(f"/batch/{first['batchNo']}", params={"access_token": token}).json()
    assert status["data"]["status"] == "anchored" and status["data"]["receipt"] == receipt
    # delete of another unit's record is refused
    other_token = server.token(server.issue(12))
    foreign = post(server, body(other_token, 1, "01", "D", ["u11-b"]))
    assert foreign["rescode"] == "0" and "another using unit" in foreign["data"][0]["reason"]
    deleted = post(server, body(token, 5, "01", "D", ["u11-b"]))
    assert deleted["rescode"] == "1", deleted
    proof = server.http.get("/proof/u11-c", params={"access_token": token}).json()["data"]
    verify_inclusion(canonical_json(proof["record"]), InclusionProof.from_dict(proof["proof"]),
                     receipt["header"]["merkle_root"])


def test_l3_hidden_danger_batch_is_sealed(server: Server) -> None:
    token = server.token(server.issue(13))
    answer = post(server, body(token, 1, "09", "I", [f"hd13-{i}" for i in range(20)]))
    assert answer["rescode"] == "1", answer
    assert answer["data"]["header"]["grade"] == "L3" and answer["data"]["header"]["count"] == 20


def test_bad_input_is_refused_and_nothing_stored(server: Server) -> None:
    token = server.token(server.issue(14))
    http = server.http
    cases = [
        http.post("/syndata", content=b"{not json", headers={"content-type": "application/json"}),
        http.post("/syndata", content=b"{}", headers={"content-type": "text/plain"}),
        http.post("/syndata", content=b'{"a":"\xff"}', headers={"content-type": "application/json"}),
        http.post("/syndata", json=dict(body(token, 1, "01", "I", ["x14"]), txcode="10")),
        http.post("/syndata", json=body(token, 1, "01", "I", ["x14", "x14"])),
        http.post("/syndata", json=dict(body(token, 1, "01", "I", ["x14"]), busType="U")),
        http.post("/syndata", json=dict(body(token, 1, "01", "I", ["x14"]), access_token="v1.x.y.z")),
    ]
    for response in cases:
        doc = response.json()
        assert doc["rescode"] == "0" and doc["msg"], doc
        assert response.status_code < 500
    secret_tel = "call-me-secret"
    bad = body(token, 1, "01", "I", ["x14"])
    bad["data"][0]["linkTel"] = secret_tel
    response = http.post("/syndata", json=bad)
    assert secret_tel not in response.text and response.json()["data"][0]["field"] == "$.linkTel"
    assert http.get(f"/batch/{bad['batchNo']}", params={"access_token": token}).json()["data"]["status"] == "unknown"
    assert http.get("/health").json()["rescode"] == "1"


def test_revoked_appid_loses_its_token(server: Server) -> None:
    cred = server.issue(15)
    token = server.token(cred)
    subprocess.run(QC + ["ingest", "credentials", "revoke", *server.where, cred["appid"]], check=True,
                   capture_output=True)
    answer = post(server, body(token, 1, "01", "I", ["r15"]))
    assert answer["rescode"] == "0" and "access_token" in answer["msg"]
    listed = json.loads(subprocess.run(QC + ["ingest", "credentials", "list", *server.where, "--json"],
                                       check=True, capture_output=True, text=True).stdout)
    assert any(r["appid"] == cred["appid"] and r["status"] == "revoked" for r in listed)


def test_cli_proof_verifies_against_the_chain_and_overdue_lists_tables(server: Server) -> None:
    cred = server.issue(16)
    token = server.token(cred)
    assert post(server, body(token, 1, "06", "I", ["p16-a", "p16-b", "p16-c"]))["rescode"] == "1"
    out = subprocess.run(QC + ["ingest", "proof", *server.where, "p16-b"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["verified"] is True and doc["proof"]["index"] == 1 and doc["proof"]["size"] == 3
    assert doc["on_chain_root"] == doc["receipt"]["header"]["merkle_root"]
    missing = subprocess.run(QC + ["ingest", "proof", *server.where, "nope-16"], capture_output=True, text=True)
    assert missing.returncode != 0 and "no anchored record" in missing.stderr
    out = subprocess.run(QC + ["ingest", "overdue", *server.where, "--all", "--json"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    mine = next(u for u in json.loads(out.stdout) if u["appid"] == cred["appid"])
    tables = {t["txcode"]: t for t in mine["tables"]}
    assert tables["06"]["overdue"] is False and tables["06"]["last_batch_no"] == batch_no(DAY, 1)
    assert tables["01"]["overdue"] is True and tables["01"]["last_batch_no"] is None


def test_m_field_file_uploaded_once_served_against_an_on_chain_grant(server: Server) -> None:
    import os

    from qcchain_core.gm import sm3
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.ingest import IngestClient

    token = server.token(server.issue(17))
    pdf = b"%PDF-1.4 safety rules " + os.urandom(64)
    up = server.http.post("/media", params={"access_token": token, "name": "制度.pdf"}, content=pdf,
                          headers={"content-type": "application/pdf"}).json()
    assert up["rescode"] == "1" and up["data"] == {"name": "制度.pdf", "media_type": "application/pdf",
                                                   "sm3": sm3(pdf).hex(), "size": len(pdf)}
    again = server.http.post("/media", params={"access_token": token, "name": "制度.pdf"}, content=pdf,
                             headers={"content-type": "application/pdf"}).json()
    assert again["data"]["sm3"] == up["data"]["sm3"]                     # content-addressed: stored once
    doc = body(token, 1, "04", "I", ["m17-a"])
    doc["data"][0]["fileAppendix"] = up["data"]
    assert post(server, doc)["rescode"] == "1"
    digest = up["data"]["sm3"]
    assert server.http.get(f"/media/{digest}").json()["rescode"] == "0"   # no grant, no file
    gateway = connect_profile(server.state / "connection-profiles" / "connection-regulator.json", user="Admin")
    try:
        chain = IngestClient(gateway.get_network("qcchannel").get_contract("qcchain"))
        nonce = os.urandom(32)
        grant = chain.media_access("m17-a", "fileAppendix", nonce)      # logged on chain
        assert grant["sm3"] == digest
        params = {"record": "m17-a", "grant": grant["grant"], "nonce": nonce.hex()}
        wrong = server.http.get(f"/media/{digest}", params=dict(params, nonce=os.urandom(32).hex()))
        assert wrong.json()["rescode"] == "0"
        got = server.http.get(f"/media/{digest}", params=params)
        assert got.status_code == 200 and got.content == pdf
        assert server.http.get(f"/media/{digest}", params=params).json()["rescode"] == "0"  # one use
        logged = json.loads(gateway.get_network("qcchannel").get_contract("qcchain")
                            .evaluate_transaction("ingest:media_grant", "m17-a", grant["grant"]))
        assert logged["msp"] == "RegulatorMSP" and logged["field"] == "fileAppendix" and "nonce" not in json.dumps(logged).replace("nonce_sm3", "")
    finally:
        gateway.close()


def test_l3_sealing_rules_on_chain_and_the_regulator_decrypts(server: Server) -> None:
    """The contract's side of L3 sealing, driven directly as the ingesting org (the server only ever sends
    well-formed batches): plaintext beside the sealed map, sealed records that are not in the batch, a
    malformed map and a data key not wrapped for every entitled org are refused; an anchored record's
    ciphertext and the batch's wrapped key (stored once per batch) decrypt to exactly the posted record."""
    from qcchain_core.gm import SM2PrivateKey, sm4_gcm_decrypt
    from qcchain_gateway.errors import EndorseError
    from qcchain_gateway.profile import connect_profile
    from qcchain_ingest.anchor import ChainLink
    from qcchain_ingest.batch import parse_batch
    from qcchain_ingest.sealing import seal_batch, transient_of
    from qcchain_sdk.contracts.ingest import IngestClient

    token = server.token(server.issue(15))
    posted = body(token, 1, "09", "I", ["hd15-a", "hd15-b"])
    assert post(server, posted)["rescode"] == "1"
    gateway = connect_profile(server.state / "connection-profiles" / "connection-regulator.json", user="Admin")
    try:
        network = gateway.get_network("qcchannel")
        client = IngestClient(network.get_contract("qcchain"))
        key = SM2PrivateKey.from_pem((server.state / "ingest" / "sm2-key.pem").read_bytes())

        def decrypted(rid: str) -> dict:
            view = client.get(rid)
            assert view is not None and "record" not in view and view["wrapped_key"]["key_id"]
            assert view["pvt_key"] == "l3"  # under a composite key: no records-contract ID can name it
            data_key = key.decrypt(bytes.fromhex(view["wrapped_key"]["wrapped"]))
            blob = bytes.fromhex(view["ciphertext"])
            return json.loads(sm4_gcm_decrypt(data_key, blob[:12], blob[12:], rid.encode()))

        assert decrypted("hd15-b") == posted["data"][1]
        updated = body(token, 3, "09", "U", ["hd15-b"], n0=7)
        assert post(server, updated)["rescode"] == "1"
        assert decrypted("hd15-b") == updated["data"][0]          # the new version, under the new batch's key
        assert post(server, body(token, 4, "09", "D", ["hd15-b"]))["rescode"] == "1"
        gone = client.get("hd15-b")
        assert gone is not None and gone["deleted"] and "ciphertext" not in gone

        link = ChainLink(network, gateway.identity.msp_id)
        _placement, recipients = link.plan("hidden_danger")
        fresh = body(token, 2, "09", "I", ["hd15-c", "hd15-d"])
        batch = parse_batch(fresh, DAY)
        sealed = seal_batch(batch.ids, batch.leaves, recipients)
        doc = {"appid": "crafted15", "org_no": credit_code(15), "unit_name": "u", "batch_no": batch.batch_no, "txcode": "09", "bus_type": "I",
               "merkle_root": batch.merkle_root, "records": [{"ID": i} for i in batch.ids]}

        def refused(doc: dict, sealed: dict) -> str:
            try:
                link.ingest.new_proposal("anchor", arguments=[json.dumps(doc)], transient=transient_of(sealed) or None).endorse()
            except EndorseError as exc:
                return " ".join(d.message for d in exc.details) or exc.message
            raise AssertionError("the contract accepted a crafted batch")

        plain = dict(doc, records=[batch.records[0], {"ID": batch.ids[1]}])
        assert "given by its ID only" in refused(plain, sealed)
        extra = dict(sealed, records={**sealed["records"], "hd15-zz": sealed["records"]["hd15-c"]})
        assert "not in the batch" in refused(doc, extra)
        assert "exactly data_key, records, wrapped_keys" in refused(doc, {"records": sealed["records"]})
        stale = {msp: dict(entry, key_id="0" * len(entry["key_id"])) for msp, entry in sealed["wrapped_keys"].items()}
        assert "not wrapped for" in refused(doc, dict(sealed, wrapped_keys=stale))
        assert "not wrapped for" in refused(doc, dict(sealed, wrapped_keys={}))
        assert "does not decrypt" in refused(doc, dict(sealed, data_key="00" * 16))
    finally:
        gateway.close()
    assert server.http.get("/batch/" + fresh["batchNo"], params={
        "access_token": token}).json()["data"]["status"] == "unknown"  # nothing of the crafted batch stored
