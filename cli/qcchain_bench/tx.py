"""Transaction benchmark: N submits with C concurrent clients through the Gateway, plus evaluates.

Measures what issue 3 asks for: committed transactions per second, submit-to-commit latency
(endorse + submit + commit status, per transaction) p50/p95/p99 and evaluate latency p50/p95. Works
against any Gateway endpoint described by a connection profile (the devnet or real Fabric).

Workloads are named (``WORKLOADS``): ``put`` writes a fresh key per transaction with the example
chaincode's ``put(key, value)`` and reads it back with ``get(key)``. Other workloads (``records``) can be
registered by adding a :class:`Workload` to ``WORKLOADS``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger(__name__)

__all__ = ["Workload", "PutWorkload", "RecordsWorkload", "WORKLOADS", "TxBenchResult", "percentile", "run_tx_bench"]

Call = tuple[str, list[str]]


class Workload:
    """What one benchmark transaction and one evaluate call do (function name and arguments)."""

    name = "abstract"

    def setup(self, contract: Any) -> None:
        """Prepare the ledger before measuring (default: nothing)."""

    def submit_call(self, index: int) -> Call:
        """The transaction for submit number ``index``."""
        raise NotImplementedError

    def evaluate_call(self, index: int) -> Call:
        """The query for evaluate number ``index`` (may read what submits wrote)."""
        raise NotImplementedError


class PutWorkload(Workload):
    """``put(key, value)`` of a fresh key per transaction; ``get(key)`` of a written key."""

    name = "put"

    def __init__(self, put_fn: str = "put", get_fn: str = "get", value_size: int = 64) -> None:
        self.put_fn, self.get_fn = put_fn, get_fn
        self.run = uuid.uuid4().hex[:10]
        self.value = "v" * value_size

    def setup(self, contract: Any) -> None:
        """Check that the chaincode has the workload's functions (an evaluate of ``get_fn`` on a key that does
        not exist must answer 404 "not found"), so a wrong chaincode fails here and not as N failed submits.

        Raises:
            BenchError: the chaincode answers anything else (e.g. it has no such function).
            EvaluateError: the runtime cannot be reached.
        """
        from qcchain_gateway.errors import EvaluateError, NotFoundError
        from .errors import BenchError

        try:
            contract.evaluate_transaction(self.get_fn, f"bench-{self.run}-probe")
        except NotFoundError:
            return
        except EvaluateError as exc:
            if exc.chaincode_status is None:  # not the chaincode's answer: the runtime is unreachable
                raise
            raise BenchError(
                f"the {self.name!r} workload needs a chaincode with {self.put_fn}(key, value) and {self.get_fn}(key) "
                f"(qcchain_bench.example): {exc.message}. Against the qcchain contracts use --workload records; "
                "for a devnet with the example chaincode start it with --chaincode-module qcchain_bench.example"
            ) from None
        raise BenchError(f"the {self.name!r} workload's probe key bench-{self.run}-probe unexpectedly exists")

    def submit_call(self, index: int) -> Call:
        return self.put_fn, [f"bench-{self.run}-{index}", self.value]

    def evaluate_call(self, index: int) -> Call:
        return self.get_fn, [f"bench-{self.run}-{index}"]


class RecordsWorkload(Workload):
    """``records:submit`` of SM2-signed L1 equipment records (world state; schema-validated, graded and
    signature-checked on chain), each with a fresh id; ``records:get`` reads one back. (With the shipped
    grading policy no category is L2 any more: the grade floor is the strictest route.)

    :meth:`setup` needs an org admin (``use_admin``): it bootstraps governance on an empty ledger (the
    admin's org as inspection body, ``RegulatorMSP`` as regulator) and registers a fresh SM2 ``sign``
    key for the admin's org; the record signatures are made inside the measured submits.
    """

    name = "records"
    REGULATOR = ("RegulatorMSP", "11100000000013127D")
    INSPECTION_CODE = "12100000400011546Y"

    def __init__(self) -> None:
        from qcchain_core.gm import SM2PrivateKey

        self.run = uuid.uuid4().hex[:10]
        self.key = SM2PrivateKey.generate()
        self.admin: tuple[Any, bytes] | None = None
        self.msp = ""
        self.channel = ""

    def __getstate__(self) -> dict[str, Any]:
        """Picklable state for bench worker processes: the run id, the key (PEM) and the MSP ID (no admin)."""
        return {"run": self.run, "key": self.key.to_pem(), "msp": self.msp, "channel": self.channel}

    def __setstate__(self, state: dict[str, Any]) -> None:
        from qcchain_core.gm import SM2PrivateKey

        self.run, self.msp, self.channel, self.admin = state["run"], state["msp"], state["channel"], None
        self.key = SM2PrivateKey.from_pem(state["key"])

    def use_admin(self, contract: Any, cert_pem: bytes) -> None:
        """The admin's contract (chaincode default contract) and certificate used by :meth:`setup`."""
        self.admin = (contract, cert_pem)

    def setup(self, contract: Any) -> None:
        """Bootstrap if needed and register the bench key. Raises ValueError without an admin; SDK errors."""
        import json

        from qcchain_sdk.contracts.governance import GovernanceClient

        if self.admin is None:
            raise ValueError("the records workload needs an org admin for its setup (use_admin)")
        admin, cert = self.admin
        self.channel = str(getattr(admin, "channel", "") or getattr(contract, "channel", ""))
        self.msp = json.loads(admin.evaluate_transaction("governance:whoami"))["msp_id"]
        gov = GovernanceClient(_Prefixed(admin, "governance"), _Prefixed(admin, "keys"), self.msp, cert, self.key)
        if not json.loads(admin.evaluate_transaction("governance:info")):
            policies = _policies()
            gov.bootstrap([{"msp_id": self.msp, "role": "inspection_body", "name": "Bench inspection body",
                            "credit_code": self.INSPECTION_CODE},
                           {"msp_id": self.REGULATOR[0], "role": "regulator", "name": "Bench regulator",
                            "credit_code": self.REGULATOR[1]}], policies)
        now = int(time.time())
        gov.register_key(now - 60, now + 86400, usages=("sign",))

    def submit_call(self, index: int) -> Call:
        from qcchain_sdk.contracts.records import build_record

        rid = f"bench-{self.run}-{index}".replace("--", "-m")
        payload = {"ID": rid, "busType": "I", "updateDate": "2025-06-01", "regNo": "32010001",
                   "equipmentKind": "电梯", "equipmentName": "Passenger lift", "model": "XL-1",
                   "productNo": f"P-{index}", "manufacturerName": "Lift Maker Co.", "manufactureDate": "2024-12-01"}
        category, grade = "equipment", "L1"
        built = build_record(record_id=rid, category=category, equipment_code="32010001", stage="inspection",
                             owner_msp=self.msp, grade=grade, signing_key=self.key, payload=payload,
                             **({"channel": self.channel} if self.channel else {}))
        return "records:submit", built.args()

    def evaluate_call(self, index: int) -> Call:
        return "records:get", [f"bench-{self.run}-{index}"]


class _Prefixed:
    """``<contract>:fn`` calls on a chaincode's default contract."""

    def __init__(self, contract: Any, name: str) -> None:
        self.contract, self.name = contract, name

    def evaluate_transaction(self, fn: str, *args: Any) -> bytes:
        return bytes(self.contract.evaluate_transaction(f"{self.name}:{fn}", *args))

    def submit_transaction(self, fn: str, *args: Any, transient: dict[str, bytes] | None = None) -> bytes:
        return bytes(self.contract.submit_transaction(f"{self.name}:{fn}", *args, transient=transient))


def _policies() -> dict[str, Any]:
    """The shipped on-chain policy documents (``policies/*.yaml`` of the source tree)."""
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2] / "policies"
    return {n: yaml.safe_load((root / f"{n}.yaml").read_text(encoding="utf-8")) for n in ("governance", "grading", "sharing")}


WORKLOADS: dict[str, Callable[[], Workload]] = {"put": PutWorkload, "records": RecordsWorkload}


@dataclass
class TxBenchResult:
    """Figures of one run (latencies in milliseconds)."""

    transactions: int
    concurrency: int
    committed: int
    failed: int
    duration_s: float
    tx_per_s: float
    submit_latency_ms: dict[str, float]
    evaluations: int
    evaluate_latency_ms: dict[str, float]
    single_submit_latency_ms: dict[str, float] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    endorsing_organizations: list[str] = field(default_factory=list)
    workload: str = ""
    client_processes: int = 0
    """Worker processes the clients ran in (0: threads of the measuring process itself)."""
    cpu_ms_per_tx: dict[str, float] = field(default_factory=dict)
    """CPU per committed transaction during the measured phase, by where it was spent (when known)."""
    client_nice: int = 0
    """Niceness the client worker processes ran at (they yield the CPU to the runtime measured)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks; NaN if empty.

    Raises:
        ValueError: ``q`` is outside 0..100.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _summary(values: Sequence[float], qs: Sequence[int]) -> dict[str, float]:
    return {f"p{q}": round(percentile(values, q) * 1000, 3) for q in qs}


def _submit_one(contract: Any, call: Call, endorsers: list[str] | None) -> tuple[float, str | None]:
    """One submit-to-commit; returns (seconds, failure reason or None)."""
    fn, args = call
    start = time.perf_counter()
    try:
        proposal = contract.new_proposal(fn, arguments=args, endorsing_organizations=endorsers)
        status = proposal.endorse().submit().get_status()
    except Exception as exc:  # noqa: BLE001 - a failed transaction is a measured outcome
        return time.perf_counter() - start, type(exc).__name__
    elapsed = time.perf_counter() - start
    code = getattr(status, "code", None)
    ok = getattr(status, "successful", code in (0, None))
    return elapsed, None if ok else f"validation code {code}"


def run_tx_bench(contracts: Sequence[Any], transactions: int, workload: Workload,
                 endorsers: list[str] | None = None, evaluations: int = 200, warmup: int = 10,
                 singles: int = 20) -> TxBenchResult:
    """Submit ``transactions`` with ``len(contracts)`` concurrent clients; then ``evaluations`` evaluates
    and ``singles`` sequential submits (single-submit latency, nothing else in flight).

    ``contracts`` holds one SDK ``Contract`` per client (each may have its own connection). Every
    client takes the next transaction index as soon as its previous one has committed.

    Raises:
        ValueError: ``transactions`` < 1, no contract given, or ``evaluations`` < 0.
    """
    if transactions < 1 or not contracts or evaluations < 0:
        raise ValueError("need transactions >= 1, at least one client and evaluations >= 0")
    workload.setup(contracts[0])
    for i in range(warmup):
        _submit_one(contracts[i % len(contracts)], workload.submit_call(-1 - i), endorsers)
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    counter = iter(range(transactions))

    def client(contract: Any) -> None:
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            elapsed, failure = _submit_one(contract, workload.submit_call(index), endorsers)
            with lock:
                if failure is None:
                    latencies.append(elapsed)
                else:
                    failures[failure] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(contracts), thread_name_prefix="bench-client") as pool:
        list(pool.map(client, contracts))
    duration = time.perf_counter() - start
    eval_latencies = _evaluate(contracts[0], workload, min(evaluations, transactions) if evaluations else 0)
    single = [_submit_one(contracts[0], workload.submit_call(transactions + i), endorsers) for i in range(singles)]
    log.info("bench: %d committed, %d failed in %.2f s", len(latencies), sum(failures.values()), duration)
    return TxBenchResult(
        transactions=transactions, concurrency=len(contracts), committed=len(latencies),
        failed=sum(failures.values()), duration_s=round(duration, 3),
        tx_per_s=round(len(latencies) / duration, 1) if duration > 0 else 0.0,
        submit_latency_ms=_summary(latencies, (50, 95, 99)), evaluations=len(eval_latencies),
        evaluate_latency_ms=_summary(eval_latencies, (50, 95)), failures=dict(failures),
        single_submit_latency_ms=_summary([t for t, f in single if f is None], (50, 95)),
        endorsing_organizations=list(endorsers or []), workload=workload.name)


SETTLE_S = 15.0


def _settle(contract: Any, workload: Workload, count: int) -> None:
    """Wait until the last submitted transaction's write is readable. Submits wait for their commit at the
    gateway's peer, but an evaluate may be served by another peer (another of the org's, on Fabric) that
    has not committed the last blocks yet and would answer 404 — a lag, not a latency to measure.

    Raises:
        BenchError: still not readable after SETTLE_S seconds.
    """
    from qcchain_gateway.errors import NotFoundError

    from .errors import BenchError

    fn, args = workload.evaluate_call(count - 1)
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            contract.evaluate_transaction(fn, *args)
            return
        except NotFoundError:
            if time.monotonic() > deadline:
                raise BenchError(f"what the benchmark wrote is still not readable after {SETTLE_S:.0f} s "
                                 f"({fn} {args[0] if args else ''} answers not found)") from None
            time.sleep(0.1)


def _evaluate(contract: Any, workload: Workload, count: int) -> list[float]:
    """Sequential evaluates (single-client latency), once the submits' writes are readable everywhere the
    gateway may ask."""
    if count:
        _settle(contract, workload, count)
    out = []
    for i in range(count):
        fn, args = workload.evaluate_call(i)
        start = time.perf_counter()
        contract.evaluate_transaction(fn, *args)
        out.append(time.perf_counter() - start)
    return out
