"""200 concurrent submits on distinct keys all commit VALID; two concurrent read-modify-writes of one
key give one VALID and one MVCC_READ_CONFLICT; a range read followed by an insert gives a phantom."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from fabric_protos.peer import transaction_pb2

C = transaction_pb2.TxValidationCode


def test_200_concurrent_submits(client, devnet) -> None:
    h0 = devnet.height("mychannel")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda i: client.submit_and_wait("kv", "put", f"c{i:03d}", str(i)), range(200)))
    elapsed = time.perf_counter() - start
    assert [r[0] for r in results] == [C.VALID] * 200
    assert len({r[2] for r in results}) == 200
    assert devnet.height("mychannel") > h0
    print(f"200 concurrent submits: {elapsed:.2f} s ({200 / elapsed:.0f} tx/s)")


def test_two_read_modify_writes_of_one_key(client) -> None:
    client.submit_and_wait("kv", "t:incr", "counter")
    a = client.endorse("kv", "t:incr", "counter")
    b = client.endorse("kv", "t:incr", "counter")
    client.submit(a)
    client.submit(b)
    codes = [client.status(a.tx_id), client.status(b.tx_id)]
    assert [c[0] for c in codes] == [C.VALID, C.MVCC_READ_CONFLICT]
    assert client.evaluate("kv", "get", "counter") == b"2"


def test_phantom_read(client) -> None:
    client.submit_and_wait("kv", "put", "ph/1", "x")
    scan = client.endorse("kv", "t:count_then_put", "ph/", "ph0", "ph-count")
    client.submit_and_wait("kv", "put", "ph/2", "x")
    client.submit(scan)
    assert client.status(scan.tx_id)[0] == C.PHANTOM_READ_CONFLICT
