"""Bad or unusual requests get the answers a real v3.1.5 gateway gives (FABRIC-NOTES.md); nothing is
committed and the devnet keeps serving."""

from __future__ import annotations

import grpc
import pytest
from devnet_client import details
from devnet_crypto import make_user
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.peer import proposal_pb2, proposal_response_pb2, transaction_pb2
from qcchain_devnet.material import new_ca
from qcchain_devnet.protoutil import new_signed_proposal

C = transaction_pb2.TxValidationCode


def _code(fn) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        fn()
    return err.value.code(), err.value.details()


def test_garbage_proposal_bytes(client, devnet) -> None:
    h = devnet.height("mychannel")
    signed = proposal_pb2.SignedProposal(proposal_bytes=b"\xff\x00garbage", signature=b"x")
    code, msg = _code(lambda: client.evaluate_signed(signed, "t"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and msg.startswith("failed to unpack transaction proposal: ")
    code, msg = _code(lambda: client.endorse_signed(signed, "t"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert devnet.height("mychannel") == h
    assert client.submit_and_wait("kv", "put", "still", "ok")[0] == C.VALID


def test_unknown_ca_and_corrupted_signature(client, crypto) -> None:
    rogue_ca = new_ca("ca.org1.example.com", "org1.example.com")
    rogue = make_user(rogue_ca, "Org1MSP", "User1@org1.example.com")
    code, msg = _code(lambda: client.evaluate("kv", "get", "x", user=rogue))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "access denied: channel [mychannel] creator org unknown, creator is malformed" in msg
    signed, tx_id = client.proposal("kv", ["get", "x"])
    sig = bytearray(signed.signature)
    sig[-3] ^= 0x55
    signed.signature = bytes(sig)
    code, msg = _code(lambda: client.evaluate_signed(signed, tx_id))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "access denied: channel [mychannel] creator org [Org1MSP]" in msg


def test_unknown_channel_and_chaincode(client) -> None:
    signed, tx_id = client.proposal("kv", ["get", "x"], channel_id="nochannel")
    code, msg = _code(lambda: client.evaluate_signed(signed, tx_id, channel_id="nochannel"))
    assert code == grpc.StatusCode.UNAVAILABLE and msg.startswith("failed to get config for channel [nochannel]")
    code, msg = _code(lambda: client.endorse_signed(signed, tx_id))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert msg.startswith("no combination of peers can be derived which satisfy the endorsement policy")
    code, msg = _code(lambda: client.evaluate("nocc", "get", "x"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and msg.startswith("no peers available to evaluate chaincode")
    code, msg = _code(lambda: client.endorse("nocc", "put", "x", "y"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "No metadata was found for chaincode nocc" in msg


def test_bad_txid(client, crypto) -> None:
    user = crypto.users["Org1MSP"]
    signed, _tx_id = new_signed_proposal(user.key, user.creator, "mychannel", "kv", [b"put", b"a", b"b"])
    prop = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
    hdr = common_pb2.Header.FromString(prop.header)
    chdr = common_pb2.ChannelHeader.FromString(hdr.channel_header)
    chdr.tx_id = "0" * 64
    hdr.channel_header = chdr.SerializeToString()
    prop.header = hdr.SerializeToString()
    raw = prop.SerializeToString()
    bad = proposal_pb2.SignedProposal(proposal_bytes=raw, signature=user.sign(raw))
    with pytest.raises(grpc.RpcError) as err:
        client.endorse_signed(bad, "0" * 64)
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert any("incorrectly computed txid" in d.message for d in details(err.value))


def test_fewer_endorsers_than_policy(client) -> None:
    endorsed = client.endorse("kv", "put", "weak", "1", orgs=["Org1MSP"])
    client.submit(endorsed)
    assert client.status(endorsed.tx_id)[0] == C.ENDORSEMENT_POLICY_FAILURE
    with pytest.raises(grpc.RpcError):
        client.evaluate("kv", "get", "weak")   # not written


def _tamper(env: common_pb2.Envelope) -> common_pb2.Envelope:
    payload = common_pb2.Payload.FromString(env.payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    prp = proposal_response_pb2.ProposalResponsePayload.FromString(cap.action.proposal_response_payload)
    action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
    rws = rwset_pb2.TxReadWriteSet.FromString(action.results)
    kv = kv_rwset_pb2.KVRWSet.FromString(rws.ns_rwset[0].rwset)
    kv.writes[0].value = b"evil"
    rws.ns_rwset[0].rwset = kv.SerializeToString()
    action.results = rws.SerializeToString()
    prp.extension = action.SerializeToString()
    cap.action.proposal_response_payload = prp.SerializeToString()
    tx.actions[0].payload = cap.SerializeToString()
    payload.data = tx.SerializeToString()
    return common_pb2.Envelope(payload=payload.SerializeToString())


def test_tampered_write_set(client) -> None:
    endorsed = client.endorse("kv", "put", "tamper", "good")
    endorsed.envelope = _tamper(endorsed.envelope)
    client.submit(endorsed)
    assert client.status(endorsed.tx_id)[0] == C.ENDORSEMENT_POLICY_FAILURE


def test_envelope_signature_invalid(client, crypto) -> None:
    endorsed = client.endorse("kv", "put", "badsig", "1")
    code, _msg = _code(lambda: client.submit(endorsed, user=crypto.users["Org2MSP"]))
    assert code == grpc.StatusCode.ABORTED
    code, _msg = _code(lambda: client.submit(endorsed, sign=False))
    assert code in (grpc.StatusCode.ABORTED, grpc.StatusCode.INVALID_ARGUMENT)


def test_replayed_envelope(client, devnet) -> None:
    endorsed = client.endorse("kv", "put", "replay", "1")
    client.submit(endorsed)
    code, first_block = client.status(endorsed.tx_id)
    assert code == C.VALID
    client.submit(endorsed)          # accepted by the orderer, marked in its block
    client.submit_and_wait("kv", "put", "replay-next", "1")
    assert client.status(endorsed.tx_id) == (C.VALID, first_block)
    block = common_pb2.Block.FromString(client.evaluate("qscc", "GetBlockByNumber", "mychannel",
                                                        str(first_block + 1)))
    assert C.DUPLICATE_TXID in block.metadata.metadata[2]
    with pytest.raises(grpc.RpcError) as err:   # re-endorsing a committed tx id is refused
        signed = proposal_pb2.SignedProposal()
        client.endorse_signed(signed, endorsed.tx_id)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_commit_status_wrong_signer_and_unknown_tx(client, crypto) -> None:
    code, msg = _code(lambda: client.status("ab" * 32, signer=crypto.users["Org2MSP"]))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "/Channel/Application/Readers" in msg
    code, _ = _code(lambda: client.status("cd" * 32, timeout=0.5))
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_missing_envelope(client) -> None:
    code, msg = _code(lambda: client.stub.Submit(gateway_pb2.SubmitRequest(transaction_id="x", channel_id="mychannel")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "envelope" in msg
