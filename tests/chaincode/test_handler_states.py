"""The handler's state machine on its own: created → established → ready, refusals name the state."""

from __future__ import annotations

import pytest
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage

from qcchain_bench.example import KVContract
from qcchain_shim.contract import Router
from qcchain_shim.errors import ChaincodeProtocolError
from qcchain_shim.handler import Handler, State
from qcchain_shim.writebatch import FABRIC_3_1

M = ChaincodeMessage


def _handler() -> tuple[Handler, list[ChaincodeMessage]]:
    sent: list[ChaincodeMessage] = []
    return Handler(Router([KVContract()]), "cc:1", sent.append), sent


def test_states_advance_on_registered_then_ready() -> None:
    handler, sent = _handler()
    handler.start()
    assert sent[0].type == M.REGISTER and handler.state is State.CREATED
    handler.handle(M(type=M.REGISTERED))
    assert handler.state is State.ESTABLISHED
    handler.handle(M(type=M.READY, payload=FABRIC_3_1.to_ready_payload()))
    assert handler.state is State.READY and handler.capabilities == FABRIC_3_1


@pytest.mark.parametrize(("before", "msg_type", "state"), [
    ([], M.READY, "created"),
    ([], M.TRANSACTION, "created"),
    ([M.REGISTERED], M.TRANSACTION, "established"),
    ([M.REGISTERED], M.REGISTERED, "established"),
])
def test_message_in_the_wrong_state_answers_error_and_raises(before: list[int], msg_type: int, state: str) -> None:
    handler, sent = _handler()
    for t in before:
        handler.handle(M(type=t))
    name = M.Type.Name(msg_type)
    with pytest.raises(ChaincodeProtocolError, match=rf"\({name}\) while in state: {state}"):
        handler.handle(M(type=msg_type, txid="t1", channel_id="ch"))
    assert sent[-1].type == M.ERROR and sent[-1].txid == "t1" and f"state: {state}".encode() in sent[-1].payload


def test_keepalive_is_echoed_in_every_state() -> None:
    handler, sent = _handler()
    handler.handle(M(type=M.KEEPALIVE))
    assert sent[-1].type == M.KEEPALIVE and handler.state is State.CREATED


def test_an_unknown_state_is_an_error() -> None:
    handler, _ = _handler()
    handler.state = "bogus"  # type: ignore[assignment]
    with pytest.raises(ChaincodeProtocolError, match="invalid handler state"):
        handler.handle(M(type=M.REGISTERED))
