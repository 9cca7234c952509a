"""Contracts used by the devnet tests, served through the project's chaincode runtime (qcchain_shim)."""

from __future__ import annotations

from qcchain_shim import ChaincodeError, Context, Contract, transaction
from qcchain_bench.example import KVContract


class TestContract(Contract):
    """Exercises the peer's rules and features through the real chaincode protocol."""

    name = "t"

    @transaction
    def paged_then_write(self, ctx: Context, start: str, end: str) -> str:
        it, _meta = ctx.stub.get_state_by_range_with_pagination(start, end, 2, "")
        keys = [kv.key for kv in it]
        ctx.stub.put_state("after-page", b"x")
        return ",".join(keys)

    @transaction
    def put_private(self, ctx: Context, collection: str, key: str) -> None:
        ctx.stub.put_private_data(collection, key, ctx.stub.get_transient()["value"])

    @transaction(evaluate=True)
    def get_private(self, ctx: Context, collection: str, key: str) -> bytes:
        return ctx.stub.get_private_data(collection, key)

    @transaction(evaluate=True)
    def get_private_hash(self, ctx: Context, collection: str, key: str) -> str:
        return ctx.stub.get_private_data_hash(collection, key).hex()

    @transaction
    def set_ep(self, ctx: Context, key: str, ep_hex: str) -> None:
        ctx.stub.set_state_validation_parameter(key, bytes.fromhex(ep_hex))

    @transaction
    def call(self, ctx: Context, chaincode: str, fn: str, arg1: str, arg2: str) -> str:
        res = ctx.stub.invoke_chaincode(chaincode, [fn.encode(), arg1.encode(), arg2.encode()])
        if res.status >= 400:
            raise ChaincodeError(f"called chaincode failed: {res.message}")
        return res.payload.decode()

    @transaction
    def fail(self, ctx: Context, message: str) -> None:
        raise ChaincodeError(message)

    @transaction(evaluate=True)
    def history(self, ctx: Context, key: str) -> list:
        return [[m.tx_id, m.value.decode(), m.is_delete] for m in ctx.stub.get_history_for_key(key)]

    @transaction
    def count_then_put(self, ctx: Context, start: str, end: str, key: str) -> int:
        with ctx.stub.get_state_by_range(start, end) as it:
            n = sum(1 for _ in it)
        ctx.stub.put_state(key, str(n).encode())
        return n

    @transaction
    def put_many(self, ctx: Context, prefix: str, count: int) -> None:
        for i in range(count):
            ctx.stub.put_state(f"{prefix}{i:04d}", b"x")

    @transaction(evaluate=True)
    def count_range(self, ctx: Context, start: str, end: str) -> int:
        with ctx.stub.get_state_by_range(start, end) as it:
            return sum(1 for _ in it)

    @transaction
    def incr(self, ctx: Context, key: str) -> int:
        n = int(ctx.stub.get_state(key) or b"0") + 1
        ctx.stub.put_state(key, str(n).encode())
        return n


def test_contracts() -> list[Contract]:
    """The contracts served by the test chaincode server (KVContract first: the default)."""
    return [KVContract(), TestContract()]


test_contracts.__test__ = False  # type: ignore[attr-defined]
TestContract.__test__ = False  # type: ignore[attr-defined]


if __name__ == "__main__":
    from qcchain_shim.server import serve

    serve(test_contracts())
