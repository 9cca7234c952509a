"""A contract for the runtime tests, served in its own process (``python -m loadcc``, ``tests/runtime`` on
``PYTHONPATH``): CPU-bound work, a short read, and transactions that raise what contract code must never
let end the server. ``LOADCC_TIME_SLICE`` (seconds, test entry point only) sets the time slice."""

from __future__ import annotations

import os
import sys

from qcchain_shim import Context, Contract, serve, transaction


class Load(Contract):
    """CPU-bound and misbehaving transactions."""

    name = "load"

    @transaction(evaluate=True)
    def spin(self, ctx: Context, rounds: int) -> int:
        """Pure-Python arithmetic for ``rounds`` rounds (no stub call: nothing gives the loop back)."""
        total = 0
        for i in range(rounds):
            total = (total * 31 + i) % 1_000_003
        return total

    @transaction(evaluate=True)
    def get(self, ctx: Context, key: str) -> str:
        """The value of ``key`` (one GET_STATE round trip)."""
        return ctx.stub.get_state(key).decode()

    @transaction
    def put(self, ctx: Context, key: str, value: str) -> None:
        """Write ``value`` under ``key``."""
        ctx.stub.put_state(key, value.encode())

    @transaction
    def raise_base(self, ctx: Context, kind: str) -> None:
        """Raise ``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit`` or call ``sys.exit``/``os._exit`` never."""
        if kind == "exit":
            sys.exit(3)
        raise {"SystemExit": SystemExit, "KeyboardInterrupt": KeyboardInterrupt,
               "GeneratorExit": GeneratorExit, "BaseException": BaseException}[kind]("raised by contract code")


def main() -> None:
    """Serve :class:`Load` (CCaaS variables from the environment)."""
    serve([Load()], time_slice=float(os.environ.get("LOADCC_TIME_SLICE", "0.01")))


if __name__ == "__main__":
    main()
