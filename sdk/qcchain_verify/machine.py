"""The bounded model checker's machinery: results, a dict-backed chaincode stub, breadth-first search.

:func:`bfs` explores every state reachable from ``start`` within ``depth`` steps; each step reports the
invariants it broke, and breadth-first order makes the first trace recorded for an invariant a shortest one.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

__all__ = ["Violation", "Result", "Stub", "Ctx", "bfs", "CHANNEL", "ROLES"]

CHANNEL = "ch"
#: Org ``i`` of a model has role ``ROLES[i % 5]``.
ROLES = ("regulator", "inspection_body", "using_unit", "manufacturer", "maintenance_unit")


@dataclass(frozen=True)
class Violation:
    """An invariant that failed, with the shortest trace of operations reaching it."""

    invariant: str
    detail: str
    trace: tuple[str, ...]


@dataclass
class Result:
    """What a check explored and what it found."""

    machine: str
    states: int = 0
    transitions: int = 0
    violations: list[Violation] = field(default_factory=list)
    seconds: float = 0.0


class Stub:
    """Enough of a chaincode stub for the contract code the models drive (clock: ``now``, set per step)."""

    def __init__(self, now: int = 0, tx_id: str = "tx") -> None:
        self.state: dict[str, bytes] = {}
        self.now, self.tx_id = now, tx_id
        self.event: tuple[str, bytes] | None = None

    def create_composite_key(self, object_type: str, attributes: list[str]) -> str:
        return "\x00" + object_type + "\x00" + "".join(a + "\x00" for a in attributes)

    def get_state(self, key: str) -> bytes:
        return self.state.get(key, b"")

    def put_state(self, key: str, value: bytes) -> None:
        self.state[key] = value

    def get_channel_id(self) -> str:
        return CHANNEL

    def get_tx_timestamp(self) -> Any:
        return type("T", (), {"seconds": self.now, "nanos": 0})()

    def get_tx_id(self) -> str:
        return self.tx_id

    def del_state(self, key: str) -> None:
        self.state.pop(key, None)

    def set_event(self, name: str, payload: bytes) -> None:
        self.event = (name, payload)


class Ctx:
    """A transaction context: the stub and the caller's identity (``msp`` may be empty)."""

    def __init__(self, stub: Stub, msp: str = "") -> None:
        self.stub = stub
        self.client_identity = type("Identity", (), {"msp_id": msp, "id": f"x509::CN=admin@{msp}"})()


def bfs(machine: str, start: Any, steps: Callable[[Any], Iterator[tuple[str, Any, list[tuple[str, str]]]]],
         depth: int) -> Result:
    t0 = time.monotonic()
    result = Result(machine)
    parent: dict[Any, tuple[Any, str] | None] = {start: None}
    queue = deque([(start, 0)])
    while queue:
        state, d = queue.popleft()
        if d >= depth:
            continue
        for label, nxt, bad in steps(state):
            result.transitions += 1
            for invariant, detail in bad:
                if not any(v.invariant == invariant for v in result.violations):
                    result.violations.append(Violation(invariant, detail, _trace(parent, state) + (label,)))
            if nxt not in parent:
                parent[nxt] = (state, label)
                queue.append((nxt, d + 1))
    result.states = len(parent)
    result.seconds = round(time.monotonic() - t0, 3)
    return result


def _trace(parent: dict[Any, tuple[Any, str] | None], state: Any) -> tuple[str, ...]:
    out: list[str] = []
    while parent[state] is not None:
        state, label = parent[state]  # type: ignore[misc]
        out.append(label)
    return tuple(reversed(out))


