"""Test chaincode for the real-Fabric integration tests: the project's example contract (``kv``) plus
``probe``, which exercises the FABRIC-NOTES.md runtime items the example does not reach.

Run as CCaaS: ``CHAINCODE_ID=... CHAINCODE_SERVER_ADDRESS=... python probe_cc.py``.
"""

from __future__ import annotations

import logging

from qcchain_shim import ChaincodeError, Context, Contract, transaction
from qcchain_bench.example import KVContract


class Probe(Contract):
    """Probes of the chaincode runtime against a real peer."""

    name = "probe"

    @transaction
    def fail(self, ctx: Context, message: str) -> str:
        """Raise a plain exception (item 2: error response at once)."""
        raise RuntimeError(message)

    @transaction
    def refuse(self, ctx: Context, message: str) -> str:
        """Raise a ChaincodeError with status 409."""
        raise ChaincodeError(message, status=409)

    @transaction
    def page_then_write(self, ctx: Context, key: str) -> str:
        """A paginated range query, then a write the peer refuses (item 3)."""
        it, _meta = ctx.stub.get_state_by_range_with_pagination("", "", 5, "")
        for _ in it:
            pass
        ctx.stub.put_state(key, b"must-not-be-written")
        return "written"

    @transaction
    def put_raw(self, ctx: Context, key: str) -> str:
        """put_state with any key (item 7: the shim refuses bad simple keys)."""
        ctx.stub.put_state(key, b"x")
        return "ok"

    @transaction
    def put_composite(self, ctx: Context, object_type: str, attr: str) -> str:
        """Write a composite key."""
        key = ctx.stub.create_composite_key(object_type, [attr])
        ctx.stub.put_state(key, b"c")
        return "ok"

    @transaction(evaluate=True)
    def capabilities(self, ctx: Context) -> dict:
        """What the peer announced in READY (write batches, multi-key reads)."""
        caps = ctx.stub.capabilities()
        return {"use_write_batch": caps.use_write_batch, "max_write_batch": caps.max_write_batch,
                "use_get_multiple": caps.use_get_multiple, "max_get_multiple": caps.max_get_multiple}

    @transaction
    def page_then_batch(self, ctx: Context, key: str) -> str:
        """A paginated range query, then a batched write the peer refuses when the batch is sent."""
        ctx.stub.start_write_batch()
        it, _meta = ctx.stub.get_state_by_range_with_pagination("", "", 5, "")
        for _ in it:
            pass
        ctx.stub.put_state(key, b"must-not-be-written")
        return "written"

    @transaction(evaluate=True)
    def all_keys(self, ctx: Context) -> list:
        """An open-ended simple range scan (must not return composite keys)."""
        with ctx.stub.get_state_by_range("", "") as it:
            return [kv.key for kv in it]

    @transaction(evaluate=True)
    def range_raw(self, ctx: Context, start: str, end: str) -> list:
        """A simple range scan with caller-given bounds (keys starting with \\x00 are refused)."""
        with ctx.stub.get_state_by_range(start, end) as it:
            return [kv.key for kv in it]

    @transaction(evaluate=True)
    def by_type(self, ctx: Context, object_type: str) -> int:
        """How many composite keys of ``object_type``."""
        with ctx.stub.get_state_by_partial_composite_key(object_type, []) as it:
            return sum(1 for _ in it)

    @transaction(evaluate=True)
    def transient(self, ctx: Context, name: str) -> bytes:
        """The transient value ``name`` (item 8)."""
        return ctx.stub.get_transient().get(name, b"<absent>")

    @transaction(evaluate=True)
    def call(self, ctx: Context, chaincode: str, fn: str, arg: str) -> dict:
        """INVOKE_CHAINCODE (item 6): returns the callee's Response."""
        resp = ctx.stub.invoke_chaincode(chaincode, [fn.encode(), arg.encode()])
        return {"status": resp.status, "message": resp.message, "payload": resp.payload.decode("utf-8", "replace")}

    @transaction(evaluate=True)
    def history(self, ctx: Context, key: str) -> list:
        """Values of ``key`` over time (history DB)."""
        return [m.value.decode() for m in ctx.stub.get_history_for_key(key)]


def main() -> None:
    """Serve kv (default) and probe."""
    from qcchain_shim import serve

    logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve([KVContract(), Probe()])


if __name__ == "__main__":
    main()
