"""The peer's rules and features, through the real chaincode protocol: no write after a paginated
query, private data with hashes on the public ledger, key-level endorsement, chaincode-to-chaincode."""

from __future__ import annotations

import hashlib
import json

import grpc
import pytest
from devnet_client import details
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage as M
from qcchain_devnet import ccclient, ccrequests
from qcchain_devnet.policy import parse_policy
from qcchain_devnet.protoutil import unpack_envelope
from qcchain_shim.writebatch import FABRIC_3_1, PeerCapabilities

C = transaction_pb2.TxValidationCode


def test_write_after_paginated_query_is_refused(client) -> None:
    client.submit_and_wait("kv", "put", "pg/1", "x")
    with pytest.raises(grpc.RpcError) as err:
        client.endorse("kv", "t:paged_then_write", "pg/", "pg0")
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert any("paginated" in d.message for d in details(err.value))


def test_private_data(client, crypto) -> None:
    code, num, _tx_id = client.submit_and_wait("kv", "t:put_private", "secret", "p1",
                                              transient={"value": b"hidden"})
    assert code == C.VALID
    assert client.evaluate("kv", "t:get_private", "secret", "p1") == b"hidden"
    assert client.evaluate("kv", "t:get_private_hash", "secret", "p1") == hashlib.sha256(b"hidden").hexdigest().encode()
    block = common_pb2.Block.FromString(client.evaluate("qscc", "GetBlockByNumber", "mychannel", str(num)))
    raw = b"".join(block.data.data)
    assert b"hidden" not in raw                                  # only hashes on the public ledger
    env = unpack_envelope(block.data.data[0])
    rws = rwset_pb2.TxReadWriteSet.FromString(env.cc_action.results)
    colls = [c for ns in rws.ns_rwset for c in ns.collection_hashed_rwset]
    assert colls[0].collection_name == "secret" and colls[0].pvt_rwset_hash
    with pytest.raises(grpc.RpcError) as err:                    # Org3 is not a member of the collection
        client.evaluate("kv", "t:get_private", "secret", "p1", user=crypto.users["Org3MSP"])
    assert "does not have read access permission" in err.value.details()


def test_key_level_endorsement(client) -> None:
    assert client.submit_and_wait("kv", "put", "sbe", "v0")[0] == C.VALID
    ep = parse_policy("AND('Org1MSP.peer','Org3MSP.peer')").to_bytes().hex()
    assert client.submit_and_wait("kv", "t:set_ep", "sbe", ep)[0] == C.VALID
    # the chaincode policy (Org1 AND Org2) no longer suffices for this key ...
    endorsed = client.endorse("kv", "put", "sbe", "v1")
    client.submit(endorsed)
    assert client.status(endorsed.tx_id)[0] == C.ENDORSEMENT_POLICY_FAILURE
    # ... the key's own policy does
    endorsed = client.endorse("kv", "put", "sbe", "v2", orgs=["Org1MSP", "Org3MSP"])
    client.submit(endorsed)
    assert client.status(endorsed.tx_id)[0] == C.VALID
    assert client.evaluate("kv", "get", "sbe") == b"v2"


def test_chaincode_to_chaincode(client) -> None:
    code, _num, _tx = client.submit_and_wait("kv", "t:call", "other", "put", "c2c-key", "c2c-value")
    assert code == C.VALID
    assert client.evaluate("other", "get", "c2c-key") == b"c2c-value"
    with pytest.raises(grpc.RpcError):
        client.evaluate("kv", "get", "c2c-key")                # written in the callee's namespace only


def test_endorsement_is_signed_by_each_org(client) -> None:
    endorsed = client.endorse("kv", "put", "sig", "1")
    env = unpack_envelope(endorsed.envelope)
    msps = sorted(proposal_response_pb2.Endorsement and
                  __import__("fabric_protos.msp.identities_pb2", fromlist=["x"]).SerializedIdentity.FromString(
                      e.endorser).mspid for e in env.action_payload.action.endorsements)
    assert msps == ["Org1MSP", "Org2MSP"]
    assert proposal_pb2.ChaincodeAction.FromString(env.prp.extension).chaincode_id.name == "kv"


def test_write_batch_and_multi_key_reads(client, monkeypatch: pytest.MonkeyPatch) -> None:
    """READY announces Fabric v3.1's runtime params, so the shim sends ``put_batch``'s 1200 writes as two
    WRITE_BATCH_STATE messages and ``get_many`` reads as GET_STATE_MULTIPLE; the writes commit as usual."""
    assert PeerCapabilities.from_ready_payload(ccclient.READY_PARAMS) == FABRIC_3_1
    seen: list[int] = []
    for kind in (M.WRITE_BATCH_STATE, M.PUT_STATE, M.GET_STATE_MULTIPLE, M.GET_STATE):
        answer = ccrequests.REQUEST_HANDLERS[kind]
        monkeypatch.setitem(ccrequests.REQUEST_HANDLERS, kind, lambda ctx, msg, answer=answer: seen.append(msg.type) or answer(ctx, msg))
    code, _num, _tx = client.submit_and_wait("kv", "put_batch", "wb", "1200")
    assert code == C.VALID and seen == [M.WRITE_BATCH_STATE, M.WRITE_BATCH_STATE]
    keys = ["wb-0", "wb-missing", "wb-1199"]
    assert json.loads(client.evaluate("kv", "get_many", json.dumps(keys))) == ["0", "", "1199"]
    assert seen[2:] == [M.GET_STATE_MULTIPLE]
    assert client.evaluate("kv", "get", "wb-600") == b"600"
