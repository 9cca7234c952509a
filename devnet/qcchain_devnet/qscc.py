"""The ``qscc`` system chaincode (ledger queries), answered from the devnet's ledgers.

Functions and encodings as hyperledger/fabric ``core/scc/qscc``: GetChainInfo → ``common.BlockchainInfo``,
GetBlockByNumber / GetBlockByHash / GetBlockByTxID → ``common.Block``, GetTransactionByID →
``peer.ProcessedTransaction``. Arguments are ``[function, channel, ...]``; errors are status-500 responses.
"""

from __future__ import annotations

from fabric_protos.common import common_pb2, ledger_pb2
from fabric_protos.peer import proposal_response_pb2, transaction_pb2

from .ledger import Ledger

__all__ = ["QSCC_NAME", "invoke_qscc"]

QSCC_NAME = "qscc"


def _error(message: str) -> proposal_response_pb2.Response:
    return proposal_response_pb2.Response(status=500, message=message)


def _ok(payload: bytes) -> proposal_response_pb2.Response:
    return proposal_response_pb2.Response(status=200, payload=payload)


def _chain_info(ledger: Ledger) -> bytes:
    info = ledger_pb2.BlockchainInfo(height=ledger.height, currentBlockHash=ledger.last_hash)
    if ledger.height > 1:
        raw = ledger.block_bytes(ledger.height - 1)
        if raw is not None:
            block = common_pb2.Block()
            block.ParseFromString(raw)
            info.previousBlockHash = block.header.previous_hash
    return info.SerializeToString()


def _block_for_tx(ledger: Ledger, tx_id: str) -> tuple[bytes, int, int] | None:
    loc = ledger.tx_location(tx_id)
    if loc is None:
        return None
    raw = ledger.block_bytes(loc[0])
    return (raw, loc[1], loc[2]) if raw is not None else None


def invoke_qscc(ledgers: dict[str, Ledger], args: list[bytes]) -> proposal_response_pb2.Response:
    """Answer one qscc call (never raises; errors are status-500 responses)."""
    if len(args) < 2:
        return _error(f"Incorrect number of arguments, {len(args)}")
    fn, channel = args[0].decode(errors="replace"), args[1].decode(errors="replace")
    ledger = ledgers.get(channel)
    if ledger is None:
        return _error(f"Invalid chain ID, {channel}")
    if fn == "GetChainInfo":
        return _ok(_chain_info(ledger))
    if len(args) < 3:
        return _error(f"missing 3rd argument for {fn}")
    arg = args[2]
    if fn == "GetBlockByNumber":
        try:
            num = int(arg.decode())
        except ValueError:
            return _error(f"Failed to parse block number with error strconv.ParseUint: parsing {arg!r}: invalid syntax")
        raw = ledger.block_bytes(num)
        return _ok(raw) if raw is not None else _error(
            f"Failed to get block number {num}, error Entry not found in index")
    if fn == "GetBlockByHash":
        num = ledger.block_number_by_hash(arg)
        raw = ledger.block_bytes(num) if num is not None else None
        return _ok(raw) if raw is not None else _error(
            f"Failed to get block hash {arg.hex()}, error Entry not found in index")
    tx_id = arg.decode(errors="replace")
    found = _block_for_tx(ledger, tx_id)
    if found is None:
        return _error(f"Failed to get transaction with id {tx_id}, error Entry not found in index")
    raw, idx, code = found
    if fn == "GetBlockByTxID":
        return _ok(raw)
    if fn == "GetTransactionByID":
        block = common_pb2.Block()
        block.ParseFromString(raw)
        env = common_pb2.Envelope()
        env.ParseFromString(block.data.data[idx])
        return _ok(transaction_pb2.ProcessedTransaction(transactionEnvelope=env,
                                                        validationCode=code).SerializeToString())
    return _error(f"Requested function {fn} not found.")
