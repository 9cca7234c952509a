"""A tiny example contract (test chaincode for tests, the benchmark and the devnet).

Run as CCaaS: ``CHAINCODE_ID=... CHAINCODE_SERVER_ADDRESS=127.0.0.1:9999 python -m qcchain_bench.example``.
"""

from __future__ import annotations

import logging
import os
import sys

from qcchain_shim.contract import Context, Contract, transaction
from qcchain_shim.errors import ChaincodeError


class KVContract(Contract):
    """Simple key/value operations exercising the stub."""

    name = "kv"

    @transaction
    def put(self, ctx: Context, key: str, value: str) -> str:
        """Read the key, write it, emit a ``Put`` event (the benchmark's 'put transaction')."""
        previous = ctx.stub.get_state(key)
        ctx.stub.put_state(key, value.encode("utf-8"))
        ctx.stub.set_event("Put", key.encode("utf-8"))
        return "updated" if previous else "created"

    @transaction(evaluate=True)
    def get(self, ctx: Context, key: str) -> str:
        """The value of ``key``.

        Raises:
            ChaincodeError: (404) the key does not exist.
        """
        value = ctx.stub.get_state(key)
        if not value:
            raise ChaincodeError(f"key {key} not found", status=404)
        return value.decode("utf-8")

    @transaction
    def put_batch(self, ctx: Context, prefix: str, count: int) -> int:
        """Write ``prefix-0`` … ``prefix-<count-1>`` (value: the index) in one write batch (on a Fabric
        v3.1+ peer: ``WRITE_BATCH_STATE`` messages instead of one round trip per key).

        Raises:
            ChaincodeError: (400) ``count`` is outside 1..5000.
        """
        if not 1 <= count <= 5000:
            raise ChaincodeError(f"count must be 1..5000, got {count}", status=400)
        ctx.stub.start_write_batch()
        for i in range(count):
            ctx.stub.put_state(f"{prefix}-{i}", str(i).encode("ascii"))
        return count

    @transaction(evaluate=True)
    def get_many(self, ctx: Context, keys: list) -> list:
        """The values of ``keys`` (JSON list) in order, ``""`` for absent ones, read with
        ``get_multiple_states`` (``GET_STATE_MULTIPLE`` on a Fabric v3.1+ peer)."""
        return [v.decode("utf-8") for v in ctx.stub.get_multiple_states(keys)]

    @transaction
    def delete(self, ctx: Context, key: str) -> None:
        """Delete ``key``."""
        ctx.stub.del_state(key)

    @transaction(evaluate=True)
    def keys(self, ctx: Context, start: str, end: str) -> list:
        """Simple keys in [start, end)."""
        with ctx.stub.get_state_by_range(start, end) as it:
            return [kv.key for kv in it]


def main() -> None:
    """Serve :class:`KVContract` as chaincode-as-a-service (configuration from the environment:
    the CCaaS variables, and ``QCCHAIN_GM_BACKEND`` to pick the native SM2 library). The process settings
    (gRPC, GC, time slicing) are the shared ones :func:`qcchain_shim.serve` applies."""
    from qcchain_core.gm import set_backend

    from qcchain_shim import serve
    from qcchain_shim.errors import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        set_backend(os.environ.get("QCCHAIN_GM_BACKEND"))
    except OSError as exc:
        sys.exit(f"qcchain_bench.example: error: QCCHAIN_GM_BACKEND: {exc}")
    try:
        serve([KVContract()])
    except ConfigError as exc:
        sys.exit(f"qcchain_bench.example: error: {exc}")


if __name__ == "__main__":
    main()
