"""Offline signing: build → bytes/digest → sign elsewhere → new_signed_* → send."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.gateway import gateway_pb2

from qcchain_gateway import connect, new_private_key_signer
from qcchain_gateway.identity import none_hash


def test_full_transaction_signed_offline(endpoint) -> None:
    identity, _, who = endpoint.identity("Org1MSP")
    remote_signer = new_private_key_signer(who.key)  # "elsewhere": the gateway itself has no signer
    with connect(identity, endpoint.grpc_channel(), close_connection=True) as gateway:
        contract = gateway.get_network(endpoint.channel).get_contract(endpoint.chaincode)
        unsigned = contract.new_proposal("put", ["off", "line"])
        proposal_bytes = gateway_pb2.ProposedTransaction.FromString(unsigned.bytes()).proposal.proposal_bytes
        assert unsigned.digest() == hashlib.sha256(proposal_bytes).digest()
        proposal = gateway.new_signed_proposal(unsigned.bytes(), remote_signer(unsigned.digest()))
        assert proposal.transaction_id == unsigned.transaction_id
        unsigned_tx = proposal.endorse()
        assert unsigned_tx.result == b"line"
        transaction = gateway.new_signed_transaction(unsigned_tx.bytes(), remote_signer(unsigned_tx.digest()))
        submitted = transaction.submit()
        commit = gateway.new_signed_commit(submitted.bytes(), remote_signer(submitted.digest()))
        status = commit.get_status()
        assert status.successful and status.transaction_id == proposal.transaction_id

        request = gateway.get_network(endpoint.channel).new_chaincode_events_request(endpoint.chaincode, start_block=0)
        signed = gateway.new_signed_chaincode_events_request(request.bytes(), remote_signer(request.digest()))
        with signed.get_events(timeout=5) as events:
            first = next(iter(events))
        assert first.transaction_id == proposal.transaction_id and first.payload == b"off"

        q = contract.new_proposal("get", ["off"])
        assert gateway.new_signed_proposal(q.bytes(), remote_signer(q.digest())).evaluate() == b"line"


def test_injected_hash_function_reaches_the_signer(endpoint) -> None:
    """hash=none_hash hands the signer the whole message; a signer that hashes itself still works."""
    identity, _, who = endpoint.identity("Org1MSP")
    seen: list[int] = []

    def sign_message(message: bytes) -> bytes:
        seen.append(len(message))
        return who.key.sign(message, ec.ECDSA(hashes.SHA256()))

    with connect(identity, endpoint.grpc_channel(), sign_message, hash=none_hash, close_connection=True) as gateway:
        contract = gateway.get_network(endpoint.channel).get_contract(endpoint.chaincode)
        assert contract.submit_transaction("put", "h", "ok") == b"ok"
    assert len(seen) == 3 and all(n > 32 for n in seen)  # proposal, envelope, commit request
