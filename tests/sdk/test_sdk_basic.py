"""Evaluate, submit, submit-async, transient data and endorsing-organisation selection."""

from __future__ import annotations

import hashlib

from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2
from fabric_protos.peer import proposal_pb2
from fabric_protos.msp import identities_pb2


def test_submit_then_evaluate_round_trip(contract) -> None:
    assert contract.submit_transaction("put", "k1", "v1") == b"v1"
    assert contract.evaluate_transaction("get", "k1") == b"v1"


def test_bytes_arguments_pass_unchanged(contract) -> None:
    raw = bytes(range(256))
    contract.submit_transaction("put", b"bin", raw)
    assert contract.evaluate_transaction("get", "bin") == raw


def test_submit_async_returns_result_before_commit_and_status_after(contract) -> None:
    submitted = contract.submit_async("put", ["k2", "v2"])
    assert submitted.get_result() == b"v2"
    status = submitted.get_status()
    assert status.successful and status.code_name == "VALID"
    assert status.transaction_id == submitted.transaction_id
    assert status.block_number >= 1
    assert contract.evaluate_transaction("get", "k2") == b"v2"


def test_transaction_id_is_sha256_of_nonce_and_creator(contract, endpoint) -> None:
    proposal = contract.new_proposal("get", ["k"])
    proposed = gateway_pb2.ProposedTransaction.FromString(proposal.bytes())
    prop = proposal_pb2.Proposal.FromString(proposed.proposal.proposal_bytes)
    header = common_pb2.Header.FromString(prop.header)
    sig_header = common_pb2.SignatureHeader.FromString(header.signature_header)
    channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    assert len(sig_header.nonce) == 24
    assert proposal.transaction_id == hashlib.sha256(sig_header.nonce + sig_header.creator).hexdigest()
    assert channel_header.tx_id == proposal.transaction_id
    assert channel_header.channel_id == endpoint.channel
    creator = identities_pb2.SerializedIdentity.FromString(sig_header.creator)
    assert creator.mspid == "Org1MSP"
    assert creator.id_bytes == endpoint.orgs["Org1MSP"].user.cert_pem
    assert contract.new_proposal("get", ["k"]).transaction_id != proposal.transaction_id


def test_transient_data_reaches_chaincode_outside_the_arguments(contract, fake) -> None:
    assert contract.evaluate("transient", ["secret"], transient={"secret": b"s3cr3t"}) == b"s3cr3t"
    proposal = contract.new_proposal("transient", ["secret"], transient={"secret": "abc"})
    transaction = proposal.endorse()
    assert transaction.result == b"abc"
    request = fake.gateway.endorse_requests[-1]
    prop = proposal_pb2.Proposal.FromString(request.proposed_transaction.proposal_bytes)
    assert dict(proposal_pb2.ChaincodeProposalPayload.FromString(prop.payload).TransientMap) == {"secret": b"abc"}
    assert _args_of(request) == [b"transient", b"secret"]


def test_endorsing_organizations_are_sent(contract, fake) -> None:
    contract.new_proposal("put", ["k", "v"], endorsing_organizations=["Org2MSP"]).endorse()
    assert list(fake.gateway.endorse_requests[-1].endorsing_organizations) == ["Org2MSP"]


def test_contract_name_prefixes_function(make_gateway, endpoint, fake) -> None:
    named = make_gateway().get_network(endpoint.channel).get_contract(endpoint.chaincode, "kv")
    named.submit_transaction("put", "named", "yes")
    args = _args_of(fake.gateway.endorse_requests[-1])
    assert args[0] == b"kv:put"
    assert named.evaluate_transaction("get", "named") == b"yes"


def _args_of(request) -> list[bytes]:
    from fabric_protos.peer import chaincode_pb2

    prop = proposal_pb2.Proposal.FromString(request.proposed_transaction.proposal_bytes)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(prop.payload)
    return list(chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input).chaincode_spec.input.args)


def test_concurrent_submits_through_one_gateway_all_commit(contract) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: contract.submit_transaction("put", f"c{i}", str(i)), range(40)))
    assert results == [str(i).encode() for i in range(40)]
