"""Errors raised by the benchmarks (each also inherits the matching built-in)."""

from __future__ import annotations


class BenchError(RuntimeError):
    """A benchmark cannot run or finish: its runtime does not start, lacks the workload's functions, or
    transactions fail (the message says which)."""
