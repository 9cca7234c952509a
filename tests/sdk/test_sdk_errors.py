"""Every stage's error type, as real Fabric v3.1.5's Gateway fails (FABRIC-NOTES.md)."""

from __future__ import annotations

import pickle
import time

import grpc
import pytest
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import proposal_pb2

from qcchain_gateway import (
    ChaincodeStatusError,
    CommitError,
    ConflictError,
    ForbiddenError,
    GoneError,
    InvalidInputError,
    LockedError,
    NotFoundError,
    UnauthorizedError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    GatewayError,
    Identity,
    SubmitError,
    connect,
    new_private_key_signer,
)
from qcchain_gateway.errors import ProtocolError, SigningError
from qcchain_gateway.proposal import Proposal
from qcchain_gateway.proposalbuilder import TransactionContext, build_proposed_transaction
from sdk_pki import issue


def test_garbage_proposal_is_invalid_argument(make_gateway, endpoint) -> None:
    gateway = make_gateway()
    request = gateway_pb2.EvaluateRequest(
        channel_id=endpoint.channel, proposed_transaction=proposal_pb2.SignedProposal(proposal_bytes=b"\xff\x00garbage")
    )
    with pytest.raises(EvaluateError) as info:
        gateway._client.evaluate(request)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "failed to unpack transaction proposal" in info.value.message


def test_chaincode_error_on_evaluate_is_unknown(contract) -> None:
    with pytest.raises(EvaluateError) as info:
        contract.evaluate_transaction("fail", "boom")
    err = info.value
    assert err.code == grpc.StatusCode.UNKNOWN
    assert "chaincode response 500, boom" in err.message
    assert isinstance(err, GatewayError) and isinstance(err, RuntimeError)
    assert err.transaction_id


def test_chaincode_error_on_endorse_is_aborted_with_details(contract) -> None:
    with pytest.raises(EndorseError) as info:
        contract.submit_transaction("fail", "kaput")
    err = info.value
    assert err.code == grpc.StatusCode.ABORTED
    assert len(err.transaction_id) == 64
    assert {d.msp_id for d in err.details} == {"Org1MSP", "Org2MSP"}
    assert all("chaincode response 500, kaput" in d.message for d in err.details)
    assert all(d.address.endswith(":7051") for d in err.details)
    assert "kaput" in str(err) and err.transaction_id in str(err)


def test_unknown_ca_is_refused_with_detail(endpoint, rogue_ca) -> None:
    rogue = issue(rogue_ca, "User1@org1.example.com", "org1.example.com")
    identity = Identity("Org1MSP", rogue.cert_pem)
    with connect(identity, endpoint.grpc_channel(), new_private_key_signer(rogue.key), close_connection=True) as gw:
        contract = gw.get_network(endpoint.channel).get_contract(endpoint.chaincode)
        with pytest.raises(EvaluateError) as info:
            contract.evaluate_transaction("get", "k")
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "creator org unknown" in info.value.details[0].message


def test_corrupted_signature_is_refused(make_gateway, contract, endpoint) -> None:
    proposal = contract.new_proposal("get", ["k"])
    signer = new_private_key_signer(endpoint.orgs["Org1MSP"].user.key)
    signature = bytearray(signer(proposal.digest()))
    signature[-1] ^= 0x01
    bad = make_gateway().new_signed_proposal(proposal.bytes(), bytes(signature))
    with pytest.raises(EvaluateError) as info:
        bad.evaluate()
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "creator org [Org1MSP]" in info.value.message


def test_unknown_channel_and_chaincode(make_gateway, endpoint) -> None:
    gateway = make_gateway()
    with pytest.raises(EvaluateError) as info:
        gateway.get_network("nochannel").get_contract(endpoint.chaincode).evaluate_transaction("get", "k")
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    with pytest.raises(EvaluateError) as info:
        gateway.get_network(endpoint.channel).get_contract("nochaincode").evaluate_transaction("get", "k")
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION


def test_incorrect_txid_is_aborted_on_endorse(contract) -> None:
    ctx = TransactionContext.new(contract._signing_identity.creator())
    object.__setattr__(ctx, "transaction_id", "00" * 32)
    proposed = build_proposed_transaction(ctx, contract.channel, contract.chaincode_name, "put", ["k", "v"])
    proposal = Proposal(contract._client, contract._signing_identity, contract.channel, proposed)
    with pytest.raises(EndorseError) as info:
        proposal.endorse()
    assert info.value.code == grpc.StatusCode.ABORTED
    assert "incorrectly computed txid" in info.value.details[0].message


def test_bad_envelope_signature_is_submit_error(make_gateway, contract) -> None:
    transaction = contract.new_proposal("put", ["k", "v"]).endorse()
    gateway = make_gateway()
    forged = gateway.new_signed_transaction(transaction.bytes(), b"\x30\x06\x02\x01\x01\x02\x01\x01")
    with pytest.raises(SubmitError) as info:
        forged.submit()
    assert info.value.code == grpc.StatusCode.ABORTED
    assert info.value.transaction_id == transaction.transaction_id


def test_commit_status_of_unknown_transaction_waits_until_deadline(make_gateway, contract) -> None:
    submitted = contract.submit_async("put", ["k", "v"])
    submitted.get_status()
    unknown = make_gateway().new_commit(_retarget(submitted.bytes(), "ab" * 32, contract))
    start = time.monotonic()
    with pytest.raises(CommitStatusError) as info:
        unknown.get_status(timeout=0.3)
    elapsed = time.monotonic() - start
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED and info.value.is_timeout
    assert info.value.transaction_id == "ab" * 32
    assert 0.25 <= elapsed < 3


def _retarget(commit_bytes: bytes, tx_id: str, contract) -> bytes:
    """An unsigned copy of a commit status request, for ``tx_id``."""
    signed = gateway_pb2.SignedCommitStatusRequest.FromString(commit_bytes)
    request = gateway_pb2.CommitStatusRequest.FromString(signed.request)
    request.transaction_id = tx_id
    return gateway_pb2.SignedCommitStatusRequest(request=request.SerializeToString()).SerializeToString()


def test_commit_status_signed_by_other_key_is_permission_denied(make_gateway, contract, endpoint) -> None:
    submitted = contract.submit_async("put", ["k", "v"])
    other = new_private_key_signer(endpoint.orgs["Org2MSP"].user.key)
    commit = make_gateway().new_signed_commit(_retarget(submitted.bytes(), submitted.transaction_id, contract),
                                               other(submitted.digest()))
    with pytest.raises(CommitStatusError) as info:
        commit.get_status()
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_too_few_endorsers_is_commit_error(contract) -> None:
    with pytest.raises(CommitError) as info:
        contract.submit_transaction("put", "k", "v", endorsing_organizations=["Org1MSP"])
    err = info.value
    assert err.validation_code_name == "ENDORSEMENT_POLICY_FAILURE" and err.validation_code == 10
    assert len(err.transaction_id) == 64 and err.block_number >= 1
    assert isinstance(err, RuntimeError)


def test_concurrent_read_modify_writes_give_mvcc_conflict(contract, fake) -> None:
    contract.submit_transaction("incr", "counter")
    first = contract.new_proposal("incr", ["counter"]).endorse()
    second = contract.new_proposal("incr", ["counter"]).endorse()
    fake.gateway.ledger.paused.set()
    a, b = first.submit(), second.submit()
    fake.gateway.ledger.paused.clear()
    status_a, status_b = a.get_status(), b.get_status()
    assert status_a.code_name == "VALID" and status_b.code_name == "MVCC_READ_CONFLICT"
    assert status_a.block_number == status_b.block_number
    with pytest.raises(CommitError) as info:
        status_b.raise_for_status()
    assert info.value.validation_code_name == "MVCC_READ_CONFLICT"


def test_no_signer_and_failing_signer(endpoint) -> None:
    identity, _, _ = endpoint.identity("Org1MSP")
    with connect(identity, endpoint.grpc_channel(), close_connection=True) as gw:
        with pytest.raises(SigningError, match="no signer"):
            gw.get_network(endpoint.channel).get_contract(endpoint.chaincode).evaluate_transaction("get", "k")

    def broken(digest: bytes) -> bytes:
        raise OSError("HSM unplugged")

    with connect(identity, endpoint.grpc_channel(), broken, close_connection=True) as gw:
        with pytest.raises(SigningError, match="HSM unplugged"):
            gw.get_network(endpoint.channel).get_contract(endpoint.chaincode).evaluate_transaction("get", "k")


def test_malformed_offline_bytes_are_protocol_errors(make_gateway) -> None:
    gateway = make_gateway()
    for build in (gateway.new_proposal, gateway.new_transaction, gateway.new_commit, gateway.new_chaincode_events_request):
        with pytest.raises(ProtocolError) as info:
            build(b"\xff\xff\xff")
        assert isinstance(info.value, ValueError)
    bad = gateway_pb2.ProposedTransaction(proposal=proposal_pb2.SignedProposal(proposal_bytes=b"\xff\x01")).SerializeToString()
    with pytest.raises(ProtocolError, match="proposal"):
        gateway.new_proposal(bad)


def test_bad_argument_types_name_the_argument(contract) -> None:
    with pytest.raises(TypeError, match="argument 1"):
        contract.new_proposal("put", ["k", 5])
    with pytest.raises(TypeError, match="transient value 'x'"):
        contract.new_proposal("put", ["k"], transient={"x": 1.5})


@pytest.mark.parametrize("status, kind, builtin", [
    (400, InvalidInputError, ValueError), (401, UnauthorizedError, PermissionError),
    (403, ForbiddenError, PermissionError), (404, NotFoundError, LookupError), (409, ConflictError, RuntimeError),
    (410, GoneError, PermissionError), (423, LockedError, PermissionError),
])
def test_chaincode_status_is_a_typed_error_at_evaluate_and_endorse(contract, status, kind, builtin) -> None:
    with pytest.raises(kind) as info:
        contract.evaluate_transaction("fail_with", str(status), "no such thing")
    assert isinstance(info.value, EvaluateError) and isinstance(info.value, builtin)
    assert info.value.chaincode_status == status and info.value.code == grpc.StatusCode.UNKNOWN
    assert pickle.loads(pickle.dumps(info.value)).chaincode_status == status
    with pytest.raises(kind) as info:
        contract.submit_transaction("fail_with", str(status), "refused")
    assert isinstance(info.value, EndorseError) and info.value.code == grpc.StatusCode.ABORTED


def test_other_statuses_and_non_chaincode_failures_stay_plain_stage_errors(contract, make_gateway) -> None:
    with pytest.raises(EvaluateError) as info:
        contract.evaluate_transaction("fail", "boom")
    assert type(info.value) is EvaluateError and info.value.chaincode_status == 500
    assert not isinstance(info.value, ChaincodeStatusError)
    with pytest.raises(EvaluateError) as info:
        make_gateway().get_network("nochannel").get_contract("x").evaluate_transaction("get", "k")
    assert type(info.value) is EvaluateError and info.value.chaincode_status is None
