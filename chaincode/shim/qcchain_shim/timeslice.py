"""Preemptive time slicing of transaction greenlets, so one CPU-bound transaction cannot stall the others.

Each transaction runs in its own :class:`TxGreenlet` on the thread that reads the peer stream (no thread
hop per message, see :mod:`qcchain_shim.handler`). Cooperative greenlets alone would let a transaction
that computes for seconds hold the stream: no other transaction could start or receive its replies.

:func:`enable` arms a CPU-time interval timer (``ITIMER_PROF``: it counts only while the process runs,
so an idle server gets no signals). The ``SIGPROF`` handler runs on the main thread between two
bytecodes of whatever Python code is executing. When it finds a transaction greenlet running contract
code, it switches back to the loop and resumes that greenlet only after :data:`LOOP_TURNS` more turns of the
loop (each turn polls the sockets and runs what is ready): in those turns the reader handles the messages
that arrived, starts new transactions, delivers replies and writes answers, all of which take several
turns each (an asyncio hand-off per step). Then the long transaction continues. A short
transaction that arrives meanwhile therefore waits at most about one slice of CPU (plus the queue in
front of it), not for the long transaction to finish.

Only contract code is preempted (:attr:`TxGreenlet.preemptible`): never the shim's own stream code, so
the event loop's state is never seen half-updated. Limits: signals reach Python only on the main
thread, so slicing applies to a server whose loop runs there (as :func:`qcchain_shim.serve`'s does);
a transaction preempted while it holds a non-reentrant ``threading.Lock`` would block another transaction
that waits for the same lock (chaincode has no reason to use locks: it must not do I/O).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from greenlet import getcurrent, greenlet

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SLICE_S", "TxGreenlet", "enable", "disable", "enabled"]

DEFAULT_SLICE_S = 0.005
"""Process CPU time between two ticks: a tick that finds a transaction in contract code preempts it, so no
transaction computes for more than one slice while others wait. (A short transaction hit by a tick is
preempted too: it costs it the :data:`LOOP_TURNS` turns, ~0.1 ms, and happens on at most one tick in
several, so the overhead stays near 1 % of CPU even when the server is saturated.)"""
LOOP_TURNS = 24
"""Turns of the event loop a preempted transaction leaves to the others (an idle turn costs a few µs)."""


class TxGreenlet(greenlet):  # type: ignore[misc]
    """A transaction's greenlet: counts how often it was entered (a tick that sees the same count twice
    knows it has run for a whole slice) and how often it was preempted."""

    def __init__(self, run: Callable[..., Any], resume: Callable[[Callable[[], None]], object] | None) -> None:
        super().__init__(run)
        self.resume = resume
        self.entries = 0
        self.preemptions = 0
        self.preemptible = False

    def enter(self, *args: Any) -> Any:
        """Switch into this greenlet (from the event loop's greenlet)."""
        self.entries += 1
        return self.switch(*args)

    def _continue(self) -> None:
        if not self.dead:
            self.enter()


class _AfterTurns:
    """Re-schedules itself ``turns`` times on the loop, then resumes the preempted greenlet."""

    __slots__ = ("greenlet", "turns")

    def __init__(self, tx: TxGreenlet, turns: int) -> None:
        self.greenlet, self.turns = tx, turns

    def __call__(self) -> None:
        if self.turns > 0:
            self.turns -= 1
            self.greenlet.resume(self)  # type: ignore[misc]
        else:
            self.greenlet._continue()


def _tick(_signum: int, _frame: object) -> None:
    """The SIGPROF handler: a tick that lands in a transaction's contract code preempts it."""
    current = getcurrent()
    if isinstance(current, TxGreenlet) and current.preemptible and current.resume is not None:
        current.preemptions += 1
        current.resume(_AfterTurns(current, LOOP_TURNS))
        current.parent.switch()


_state: dict[str, Any] = {}


def enable(slice_s: float = DEFAULT_SLICE_S) -> bool:
    """Start slicing transaction greenlets every ``slice_s`` seconds of process CPU time.

    Returns False (and changes nothing) when not called on the main thread, when ``slice_s`` is 0, or on
    a platform without ``ITIMER_PROF``. Process-wide; replaces a ``SIGPROF`` handler only if none was set.

    Raises:
        ValueError: ``slice_s`` is negative.
    """
    if slice_s < 0:
        raise ValueError(f"time slice must be >= 0 seconds, got {slice_s}")
    if slice_s == 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "ITIMER_PROF"):
        return False
    if _state:
        disable()
    previous = signal.getsignal(signal.SIGPROF)
    if previous not in (signal.SIG_DFL, signal.SIG_IGN, None):
        logger.warning("SIGPROF already has a handler (a profiler?); transaction time slicing stays off")
        return False
    signal.signal(signal.SIGPROF, _tick)
    signal.siginterrupt(signal.SIGPROF, False)
    signal.setitimer(signal.ITIMER_PROF, slice_s, slice_s)
    _state.update(previous=previous, slice_s=slice_s)
    logger.debug("transaction time slicing on (%.0f ms of CPU)", slice_s * 1000)
    return True


def disable() -> None:
    """Stop slicing (idempotent; main thread only, as :func:`enable`)."""
    if not _state or threading.current_thread() is not threading.main_thread():
        return
    signal.setitimer(signal.ITIMER_PROF, 0, 0)
    signal.signal(signal.SIGPROF, _state["previous"] or signal.SIG_DFL)
    _state.clear()


def enabled() -> float:
    """The slice in seconds while slicing is on, else 0."""
    return float(_state.get("slice_s", 0.0))
