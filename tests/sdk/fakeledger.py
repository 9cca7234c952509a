"""The fake Gateway's ledger: a tiny KV chaincode, an orderer that cuts blocks, and validation.

Test code at the transport boundary. Validation follows Fabric: endorsement signatures and policy
(ENDORSEMENT_POLICY_FAILURE), MVCC read versions (MVCC_READ_CONFLICT, in submit order within a
block), duplicate transaction ids (DUPLICATE_TXID; the first status is kept).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.ledger.rwset.kvrwset import kv_rwset_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_event_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2


def verify(cert_pem: bytes, signature: bytes, message: bytes) -> bool:
    """ECDSA-SHA256 signature check with the certificate's key."""
    try:
        key = x509.load_pem_x509_certificate(cert_pem).public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError, AssertionError):
        return False


@dataclass
class Execution:
    status: int
    message: str
    payload: bytes
    rwset: kv_rwset_pb2.KVRWSet
    event: chaincode_event_pb2.ChaincodeEvent | None = None


@dataclass
class Block:
    number: int
    txs: list[tuple[str, int, chaincode_event_pb2.ChaincodeEvent | None]] = field(default_factory=list)


class Ledger:
    """World state + blocks + an orderer thread cutting a block every ``batch_timeout`` seconds."""

    def __init__(self, chaincode: str, policy: set[str], batch_timeout: float = 0.02) -> None:
        self.chaincode = chaincode
        self.policy = policy
        self.state: dict[str, tuple[bytes, tuple[int, int]]] = {}
        self.blocks: list[Block] = [Block(0)]  # genesis
        self.status: dict[str, tuple[int, int]] = {}
        self.cond = threading.Condition()
        self._pending: list[common_pb2.Envelope] = []
        self._batch_timeout = batch_timeout
        self._stop = threading.Event()
        self.paused = threading.Event()  # set: the orderer cuts no blocks
        self._thread = threading.Thread(target=self._run, name="fake-orderer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.cond:
            self.cond.notify_all()
        self._thread.join(timeout=5)

    # chaincode ---------------------------------------------------------------------------------

    def execute(self, args: list[bytes], transient: dict[str, bytes], tx_id: str) -> Execution:
        fn = args[0].decode(errors="replace").split(":")[-1] if args else ""
        params = args[1:]
        rw = kv_rwset_pb2.KVRWSet()
        with self.cond:
            snapshot = dict(self.state)

        def read(key: str) -> bytes:
            value, version = snapshot.get(key, (b"", (0, 0)))
            read_ = rw.reads.add(key=key)
            if key in snapshot:
                read_.version.block_num, read_.version.tx_num = version
            return value

        if fn == "put" and len(params) == 2:
            read(params[0].decode())
            rw.writes.add(key=params[0].decode(), value=params[1])
            event = chaincode_event_pb2.ChaincodeEvent(event_name="put", payload=params[0])
            return Execution(200, "", params[1], rw, event)
        if fn == "get" and len(params) == 1:
            return Execution(200, "", read(params[0].decode()), rw)
        if fn == "incr" and len(params) == 1:
            key = params[0].decode()
            value = str(int(read(key) or b"0") + 1).encode()
            rw.writes.add(key=key, value=value)
            return Execution(200, "", value, rw, chaincode_event_pb2.ChaincodeEvent(event_name="incr", payload=value))
        if fn == "transient" and len(params) == 1:
            return Execution(200, "", transient.get(params[0].decode(), b""), rw)
        if fn == "sleep" and len(params) == 1:
            time.sleep(float(params[0]))
            return Execution(200, "", b"slept", rw)
        if fn == "fail_with" and len(params) == 2:  # a chaincode error response with the given status
            return Execution(int(params[0]), params[1].decode(), b"", rw)
        if fn == "fail":
            return Execution(500, params[0].decode() if params else "failed", b"", rw)
        return Execution(500, f"unknown function {fn!r} or wrong argument count", b"", rw)

    # orderer -----------------------------------------------------------------------------------

    def order(self, envelope: common_pb2.Envelope) -> None:
        with self.cond:
            self._pending.append(envelope)

    def height(self) -> int:
        with self.cond:
            return len(self.blocks)

    def _run(self) -> None:
        while not self._stop.is_set():
            time.sleep(self._batch_timeout)
            with self.cond:
                if not self._pending or self.paused.is_set():
                    continue
                batch, self._pending = self._pending, []
                block = Block(len(self.blocks))
                for tx_num, envelope in enumerate(batch):
                    tx_id, code, event = self._validate(envelope, block.number, tx_num)
                    block.txs.append((tx_id, code, event))
                    self.status.setdefault(tx_id, (code, block.number))
                self.blocks.append(block)
                self.cond.notify_all()

    def _validate(
        self, envelope: common_pb2.Envelope, block_num: int, tx_num: int
    ) -> tuple[str, int, chaincode_event_pb2.ChaincodeEvent | None]:
        payload = common_pb2.Payload.FromString(envelope.payload)
        tx_id = common_pb2.ChannelHeader.FromString(payload.header.channel_header).tx_id
        if tx_id in self.status:
            return tx_id, transaction_pb2.DUPLICATE_TXID, None
        tx = transaction_pb2.Transaction.FromString(payload.data)
        cap = transaction_pb2.ChaincodeActionPayload.FromString(tx.actions[0].payload)
        prp_bytes = cap.action.proposal_response_payload
        orgs: set[str] = set()
        for endorsement in cap.action.endorsements:
            endorser = identities_pb2.SerializedIdentity.FromString(endorsement.endorser)
            if not verify(endorser.id_bytes, endorsement.signature, prp_bytes + endorsement.endorser):
                return tx_id, transaction_pb2.ENDORSEMENT_POLICY_FAILURE, None
            orgs.add(endorser.mspid)
        if not self.policy <= orgs:
            return tx_id, transaction_pb2.ENDORSEMENT_POLICY_FAILURE, None
        prp = proposal_response_pb2.ProposalResponsePayload.FromString(prp_bytes)
        action = proposal_pb2.ChaincodeAction.FromString(prp.extension)
        rwset = kv_rwset_pb2.KVRWSet.FromString(rwset_pb2.TxReadWriteSet.FromString(action.results).ns_rwset[0].rwset)
        for read in rwset.reads:
            current = self.state.get(read.key)
            wanted = (read.version.block_num, read.version.tx_num) if read.HasField("version") else None
            if (current[1] if current else None) != wanted:
                return tx_id, transaction_pb2.MVCC_READ_CONFLICT, None
        for write in rwset.writes:
            if write.is_delete:
                self.state.pop(write.key, None)
            else:
                self.state[write.key] = (write.value, (block_num, tx_num))
        event = chaincode_event_pb2.ChaincodeEvent.FromString(action.events) if action.events else None
        return tx_id, transaction_pb2.VALID, event
