"""Trusted time (REQUIREMENTS T-5.2a): refuse a proposal dated too far from the endorser's clock.

Every expiry decision of the contracts (grants, proposals, SM2 keys, node certificates) uses the
transaction timestamp (:func:`qcchain_contracts.common.tx_time`), which the *client* sets in the proposal
header and Fabric does not bound. Without a bound, a client could use an expired grant or a revoked key by
dating its proposal in the past. :func:`require_fresh` closes that: the endorsing chaincode refuses a
proposal whose timestamp differs from the clock of the chaincode server by more than the tolerance
``max_clock_skew_seconds`` of the installed ``governance`` policy (:data:`DEFAULT_MAX_SKEW` before
bootstrap or for a policy installed before the field existed).

This is the chaincode's ONE deliberate wall-clock read, and it is safe for determinism: the clock only
decides whether to *refuse*; a refusal writes nothing, and an accepted proposal's write set depends only
on the transaction timestamp, never on the clock. Endorsers of different organisations may disagree only
when their clocks differ by about the tolerance — hence H-8 "server clocks synchronised" (the network
scripts report every node's skew).

The clock source is configured once per process by the entry point (:mod:`qcchain_contracts.__main__`
passes ``time.time``); unconfigured (unit tests on ``MockStub``) the check is skipped. Rules layer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .common import tx_time
from .errors import Forbidden
from .store.policies import find_policy

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_SKEW", "SKEW_FIELD", "configure_clock", "clock_configured", "max_skew", "require_fresh"]

#: Tolerance (seconds) when the installed governance policy does not set :data:`SKEW_FIELD`.
DEFAULT_MAX_SKEW = 300
#: Field of the ``governance`` policy document holding the tolerance in seconds.
SKEW_FIELD = "max_clock_skew_seconds"

_CLOCK: Callable[[], float] | None = None


def configure_clock(source: Callable[[], float] | None) -> None:
    """Set (once per process, from the entry point) the clock the freshness check compares with;
    None disables the check (unit tests)."""
    global _CLOCK
    _CLOCK = source


def clock_configured() -> bool:
    """Whether a clock source is configured (the freshness check is active)."""
    return _CLOCK is not None


def max_skew(stub: Any) -> int:
    """The tolerance of the installed governance policy, or :data:`DEFAULT_MAX_SKEW`."""
    policy = find_policy(stub, "governance") or {}
    value = policy.get(SKEW_FIELD, DEFAULT_MAX_SKEW)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_SKEW


def require_fresh(ctx: Any) -> None:
    """Refuse a transaction whose timestamp is further than the tolerance from this server's clock.

    Raises:
        Forbidden: the proposal is backdated or post-dated beyond the tolerance (nothing is written).
    """
    clock = _CLOCK
    if clock is None:
        return
    stamped, now = tx_time(ctx), int(clock())
    tolerance = max_skew(ctx.stub)
    if abs(stamped - now) > tolerance:
        direction = "behind" if stamped < now else "ahead of"
        raise Forbidden(f"transaction timestamp {stamped} is {abs(stamped - now)} s {direction} the endorsing "
                        f"peer's clock (tolerance {tolerance} s, governance policy {SKEW_FIELD}); "
                        "check the client's clock")
