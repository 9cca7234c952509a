"""Chaincode event streams: from a start block, from the next commit, resumed from checkpoints."""

from __future__ import annotations

import json
import os
import stat
from itertools import islice

import pytest

from qcchain_gateway import FileCheckpointer, InMemoryCheckpointer
from qcchain_gateway.errors import CheckpointError




def test_events_from_block_zero_in_commit_order(contract, make_gateway, endpoint) -> None:
    contract.submit_transaction("put", "a", "1")
    contract.submit_transaction("put", "b", "2")
    network = make_gateway().get_network(endpoint.channel)
    with network.get_chaincode_events(endpoint.chaincode, start_block=0, timeout=5) as events:
        got = list(islice(events, 2))
    assert [e.payload for e in got] == [b"a", b"b"]
    assert all(e.event_name == "put" and e.chaincode_name == endpoint.chaincode for e in got)
    assert got[0].block_number < got[1].block_number


def test_default_start_is_next_commit(contract, make_gateway, endpoint) -> None:
    contract.submit_transaction("put", "old", "1")
    network = make_gateway().get_network(endpoint.channel)
    with network.get_chaincode_events(endpoint.chaincode, timeout=5) as events:
        contract.submit_transaction("put", "new", "2")
        assert next(iter(events)).payload == b"new"


def test_checkpoint_resumes_after_last_processed_transaction_in_same_block(contract, fake, make_gateway, endpoint) -> None:
    fake.gateway.ledger.paused.set()  # three transactions in one block
    handles = [contract.submit_async("put", [k, "v"]) for k in ("x1", "x2", "x3")]
    fake.gateway.ledger.paused.clear()
    block = {h.get_status().block_number for h in handles}
    assert len(block) == 1
    network = make_gateway().get_network(endpoint.channel)
    checkpointer = InMemoryCheckpointer()
    with network.get_chaincode_events(endpoint.chaincode, start_block=0, timeout=5) as events:
        for event in islice(events, 2):
            checkpointer.checkpoint_chaincode_event(event)
    assert checkpointer.transaction_id == handles[1].transaction_id
    contract.submit_transaction("put", "x4", "v")
    with network.get_chaincode_events(endpoint.chaincode, checkpoint=checkpointer, timeout=5) as events:
        assert [e.payload for e in islice(events, 2)] == [b"x3", b"x4"]


def test_file_checkpointer_survives_restart(tmp_path, contract, make_gateway, endpoint) -> None:
    path = tmp_path / "cp.json"
    network = make_gateway().get_network(endpoint.channel)
    contract.submit_transaction("put", "f1", "v")
    contract.submit_transaction("put", "f2", "v")
    checkpointer = FileCheckpointer(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with network.get_chaincode_events(endpoint.chaincode, start_block=0, checkpoint=checkpointer, timeout=5) as events:
        checkpointer.checkpoint_chaincode_event(next(iter(events)))
    saved = json.loads(path.read_text())
    assert saved["transactionId"] == checkpointer.transaction_id and saved["blockNumber"] >= 1
    resumed = FileCheckpointer(path)  # a new process
    with network.get_chaincode_events(endpoint.chaincode, start_block=0, checkpoint=resumed, timeout=5) as events:
        assert next(iter(events)).payload == b"f2"


def test_checkpoint_block_moves_to_next_block() -> None:
    checkpointer = InMemoryCheckpointer()
    checkpointer.checkpoint_block(7)
    assert (checkpointer.block_number, checkpointer.transaction_id) == (8, "")


def test_corrupt_checkpoint_file_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "cp.json"
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="cp.json"):
        FileCheckpointer(path)
    path.write_text('{"blockNumber": -1, "transactionId": ""}')
    with pytest.raises(CheckpointError, match="blockNumber"):
        FileCheckpointer(path)


def test_negative_start_block_is_refused(make_gateway, endpoint) -> None:
    with pytest.raises(ValueError, match="start_block"):
        make_gateway().get_network(endpoint.channel).get_chaincode_events(endpoint.chaincode, start_block=-1)


def test_close_ends_iteration_quietly(make_gateway, endpoint) -> None:
    import threading

    stream = make_gateway().get_network(endpoint.channel).get_chaincode_events(endpoint.chaincode)
    timer = threading.Timer(0.2, stream.close)
    timer.start()
    assert list(stream) == []
    timer.join()
