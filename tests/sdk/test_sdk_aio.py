"""The asyncio API (qcchain_gateway.aio): same transactions and errors as the blocking API."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from qcchain_gateway import (
    CommitError,
    EndorseError,
    EvaluateError,
    Identity,
    InMemoryCheckpointer,
    NotFoundError,
    aio,
    new_channel,
    new_private_key_signer,
)
from qcchain_gateway.errors import CommitStatusError, SigningError


def _run(coro):
    return asyncio.run(coro)


async def _contract(endpoint, msp_id: str = "Org1MSP", **options):
    identity, signer, _ = endpoint.identity(msp_id)
    channel = aio.new_channel(endpoint.target, endpoint.tls_root_pem, endpoint.server_name)
    gateway = aio.connect(identity, channel, signer, close_connection=True, **options)
    return gateway, gateway.get_network(endpoint.channel).get_contract(endpoint.chaincode)


def test_submit_then_evaluate_and_the_blocking_api_sees_it(endpoint, contract) -> None:
    async def main() -> tuple[bytes, bytes]:
        gateway, c = await _contract(endpoint)
        async with gateway:
            return await c.submit_transaction("put", "ak1", "v1"), await c.evaluate_transaction("get", "ak1")

    assert _run(main()) == (b"v1", b"v1")
    assert contract.evaluate_transaction("get", "ak1") == b"v1"


def test_submit_async_gives_result_then_status(endpoint) -> None:
    async def main():
        gateway, c = await _contract(endpoint)
        async with gateway:
            submitted = await c.submit_async("put", ["ak2", "v2"])
            return submitted.get_result(), await submitted.get_status(), submitted.transaction_id

    result, status, tx_id = _run(main())
    assert result == b"v2" and status.successful and status.code_name == "VALID"
    assert status.transaction_id == tx_id and len(tx_id) == 64 and status.block_number >= 1


def test_many_concurrent_submits_on_one_connection_all_commit(endpoint, contract) -> None:
    async def main() -> list[bytes]:
        gateway, c = await _contract(endpoint)
        async with gateway:
            return await asyncio.gather(*(c.submit_transaction("put", f"many{i}", str(i)) for i in range(40)))

    assert _run(main()) == [str(i).encode() for i in range(40)]
    assert contract.evaluate_transaction("get", "many39") == b"39"


def test_errors_are_the_sdk_errors_with_details(endpoint) -> None:
    async def main():
        gateway, c = await _contract(endpoint)
        async with gateway:
            with pytest.raises(EvaluateError) as ev:
                await c.evaluate_transaction("fail", "boom")
            with pytest.raises(EndorseError) as en:
                await c.submit_transaction("fail", "kaput")
            with pytest.raises(CommitError) as co:
                await c.submit_transaction("put", "k", "v", endorsing_organizations=["Org1MSP"])
            return ev.value, en.value, co.value

    ev, en, co = _run(main())
    assert ev.code == grpc.StatusCode.UNKNOWN and "chaincode response 500, boom" in ev.message
    assert en.code == grpc.StatusCode.ABORTED and {d.msp_id for d in en.details} == {"Org1MSP", "Org2MSP"}
    assert all("kaput" in d.message for d in en.details) and len(en.transaction_id) == 64
    assert co.validation_code_name == "ENDORSEMENT_POLICY_FAILURE" and co.block_number >= 1


def test_commit_status_deadline_is_commit_status_error(endpoint, fake) -> None:
    async def main():
        gateway, c = await _contract(endpoint, commit_status_timeout=0.3)
        async with gateway:
            fake.gateway.ledger.paused.set()
            try:
                submitted = await c.submit_async("put", ["held", "x"])
                with pytest.raises(CommitStatusError) as info:
                    await submitted.get_status()
            finally:
                fake.gateway.ledger.paused.clear()
            return info.value, await submitted.get_status(timeout=10)

    err, status = _run(main())
    assert err.code == grpc.StatusCode.DEADLINE_EXCEEDED and status.successful


def test_bad_arguments_and_missing_signer(endpoint) -> None:
    identity, _signer, _ = endpoint.identity("Org1MSP")
    with pytest.raises(TypeError, match="grpc.aio.Channel"):
        aio.connect(identity, new_channel(endpoint.target), None)
    with pytest.raises(TypeError, match="Identity"):
        aio.connect("Org1MSP", None)  # type: ignore[arg-type]

    async def main() -> None:
        channel = aio.new_channel(endpoint.target)
        async with aio.connect(Identity("Org1MSP", identity.cert_pem), channel, close_connection=True) as gw:
            with pytest.raises(SigningError):
                await gw.get_network(endpoint.channel).get_contract(endpoint.chaincode).submit_transaction("put", "a", "b")

    _run(main())


def test_events_from_block_zero_and_resumed_from_a_checkpoint(endpoint, contract) -> None:
    contract.submit_transaction("put", "e1", "1")
    contract.submit_transaction("put", "e2", "2")
    contract.submit_transaction("put", "e3", "3")
    checkpointer = InMemoryCheckpointer()

    async def first_two():
        gateway, _ = await _contract(endpoint)
        async with gateway:
            got = []
            async with gateway.get_network(endpoint.channel).get_chaincode_events(endpoint.chaincode, start_block=0,
                                                                                  timeout=5) as events:
                async for event in events:
                    got.append(event)
                    checkpointer.checkpoint_chaincode_event(event)
                    if len(got) == 2:
                        break
            return got

    async def resumed():
        gateway, _ = await _contract(endpoint)
        async with gateway:
            network = gateway.get_network(endpoint.channel)
            async with network.get_chaincode_events(endpoint.chaincode, checkpoint=checkpointer, timeout=5) as events:
                async for event in events:
                    return event

    got = _run(first_two())
    assert [e.payload for e in got] == [b"e1", b"e2"] and got[0].block_number < got[1].block_number
    assert _run(resumed()).payload == b"e3"


def test_full_transaction_and_events_signed_offline(endpoint) -> None:
    identity, _, who = endpoint.identity("Org1MSP")
    remote_signer = new_private_key_signer(who.key)  # the gateway itself has no signer

    async def main():
        channel = aio.new_channel(endpoint.target, endpoint.tls_root_pem, endpoint.server_name)
        async with aio.connect(identity, channel, close_connection=True) as gateway:
            network = gateway.get_network(endpoint.channel)
            contract = network.get_contract(endpoint.chaincode)
            with pytest.raises(SigningError):
                await contract.evaluate_transaction("get", "x")
            unsigned = contract.new_proposal("put", ["aoff", "line"])
            proposal = gateway.new_signed_proposal(unsigned.bytes(), remote_signer(unsigned.digest()))
            unsigned_tx = await proposal.endorse()
            transaction = gateway.new_signed_transaction(unsigned_tx.bytes(), remote_signer(unsigned_tx.digest()))
            submitted = await transaction.submit()
            commit = gateway.new_signed_commit(submitted.bytes(), remote_signer(submitted.digest()))
            status = await commit.get_status()
            query = contract.new_proposal("get", ["aoff"])
            value = await gateway.new_signed_proposal(query.bytes(), remote_signer(query.digest())).evaluate()
            request = network.new_chaincode_events_request(endpoint.chaincode, start_block=0)
            signed = gateway.new_signed_chaincode_events_request(request.bytes(), remote_signer(request.digest()))
            async with signed.get_events(timeout=5) as events:
                async for event in events:
                    return proposal.transaction_id, status, value, event

    tx_id, status, value, event = _run(main())
    assert status.successful and status.transaction_id == tx_id and value == b"line"
    assert event.transaction_id == tx_id and event.payload == b"aoff"


def test_chaincode_status_is_typed_in_the_async_api(endpoint) -> None:
    async def main():
        gateway, c = await _contract(endpoint)
        async with gateway:
            with pytest.raises(NotFoundError) as info:
                await c.evaluate_transaction("fail_with", "404", "no record")
            return info.value

    err = _run(main())
    assert isinstance(err, EvaluateError) and isinstance(err, LookupError) and err.chaincode_status == 404
