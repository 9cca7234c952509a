"""A bare chaincode stream for protocol tests that must send what no peer would (the peer itself is
``qcchain_bench.peerdriver``): messages go out as given, replies are read one by one."""

from __future__ import annotations

import queue
import threading

import grpc
from fabric_protos.peer import chaincode_pb2, chaincode_shim_pb2_grpc
from fabric_protos.peer.chaincode_shim_pb2 import ChaincodeMessage

from qcchain_bench.peerdriver import signed_proposal

M = ChaincodeMessage


def raw_transaction(tx_id: str, args: list[bytes], channel_id: str = "mychannel") -> ChaincodeMessage:
    """A TRANSACTION as a peer sends it."""
    return M(type=M.TRANSACTION, payload=chaincode_pb2.ChaincodeInput(args=args).SerializeToString(), txid=tx_id,
             channel_id=channel_id, proposal=signed_proposal(channel_id, tx_id, args))


class RawStream:
    def __init__(self, address: str) -> None:
        self._channel = grpc.insecure_channel(address)
        self._out: queue.Queue[ChaincodeMessage | None] = queue.Queue()
        self._in: queue.Queue[ChaincodeMessage | None] = queue.Queue()
        self._call = chaincode_shim_pb2_grpc.ChaincodeStub(self._channel).Connect(iter(self._out.get, None))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for msg in self._call:
                self._in.put(msg)
        except grpc.RpcError:
            pass
        self._in.put(None)

    def send(self, msg: ChaincodeMessage) -> None:
        self._out.put(msg)

    def recv(self, timeout: float = 5.0) -> ChaincodeMessage | None:
        """The next message from the chaincode (None: the stream ended)."""
        return self._in.get(timeout=timeout)

    def handshake(self) -> str:
        """Read REGISTER, answer REGISTERED + READY; the registered chaincode id."""
        first = self.recv()
        assert first is not None and first.type == M.REGISTER
        self.send(M(type=M.REGISTERED))
        self.send(M(type=M.READY))
        return chaincode_pb2.ChaincodeID.FromString(first.payload).name

    def close(self) -> None:
        self._out.put(None)
        self._call.cancel()
        self._channel.close()
        self._reader.join(5)

    def __enter__(self) -> RawStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
