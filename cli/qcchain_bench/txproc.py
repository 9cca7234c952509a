"""Transaction benchmark with its clients in separate processes.

:func:`run_tx_bench_processes` spreads ``concurrency`` clients over ``processes`` worker processes
(``multiprocessing`` "spawn": no fork of a process that runs gRPC); a worker's clients are coroutines of
the asyncio SDK (:mod:`qcchain_gateway.aio`) on one event loop sharing one gRPC connection, as an asyncio
application would run them (cheaper per call than a thread per client contending for the GIL). Worker
processes keep the clients' CPU (signing, gRPC, protobuf) off the GIL of the process that measures, and
of an in-process devnet. Every worker connects and warms
up first; the measured phase starts when all are ready and ends when all are done. Evaluates and
single submits are then measured in the parent, one client, nothing else in flight.

The workers run at a lower CPU priority (``client_nice``, default :data:`CLIENT_NICE`): they are the load
generator, not the system measured, and on a small machine they would otherwise take CPU time from the
runtime at the moment it has work queued. Measured on the 2-core machine class (``qcchain bench tx``,
devnet, five alternating pairs): nice 0 → 536–620 tx/s at 1.67–1.75 cores busy, nice 19 → 638–741 tx/s
at 1.82–1.85 cores, with less CPU per transaction in all (fewer preemptions of the runtime's threads).
The niceness a worker really ran at is reported (``client_nice`` of the result).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcchain_core.grpcenv import quiet_gc

from .tx import TxBenchResult, Workload, _evaluate, _submit_one, _summary

log = logging.getLogger(__name__)

__all__ = ["CLIENT_NICE", "ProcessSetup", "lower_priority", "quiet_gc", "run_tx_bench_processes"]

READY_TIMEOUT = 120.0
CLIENT_NICE = 19
"""Default niceness of the client worker processes (0 = same priority as the runtime measured)."""
_WARMUP_STRIDE = 100_000


@dataclass(frozen=True)
class ProcessSetup:
    """Where and how every client connects (picklable: handed to each worker process)."""

    profile: str
    user: str
    channel: str
    chaincode: str
    endorsers: tuple[str, ...] = ()


def _connect(setup: ProcessSetup, user: str | None = None) -> tuple[Any, Any]:
    from qcchain_gateway.profile import connect_profile

    gateway = connect_profile(setup.profile, user=user or setup.user)
    return gateway, gateway.get_network(setup.channel).get_contract(setup.chaincode)


def _client_parts(setup: ProcessSetup) -> tuple[Any, Any, Any]:
    """(peer entry, identity, signer) of the profile's user for its org's first peer.

    Raises:
        ProfileError, IdentityError: as :func:`~qcchain_gateway.profile.connect_profile`.
    """
    from qcchain_gateway.errors import ProfileError
    from qcchain_gateway.msp import load_identity
    from qcchain_gateway.profile import load_profile

    profile = load_profile(setup.profile)
    org = profile.organizations.get(profile.organization)
    msp_dir = org.users.get(setup.user) if org else None
    if org is None or msp_dir is None or not org.peers or org.peers[0] not in profile.peers:
        raise ProfileError(f"connection profile {setup.profile}: no user {setup.user!r} or peer for its client org")
    identity, signer = load_identity(msp_dir, org.msp_id)
    return profile.peers[org.peers[0]], identity, signer


async def _submit_one_async(contract: Any, call: tuple[str, list[str]], endorsers: list[str] | None) -> tuple[float, str | None]:
    """One submit-to-commit through :mod:`qcchain_gateway.aio`; returns (seconds, failure reason or None)."""
    fn, args = call
    begin = time.perf_counter()
    try:
        submitted = await contract.submit_async(fn, args, endorsing_organizations=endorsers)
        status = await submitted.get_status()
    except Exception as exc:  # noqa: BLE001 - a failed transaction is a measured outcome
        return time.perf_counter() - begin, type(exc).__name__
    return time.perf_counter() - begin, None if status.successful else f"validation code {status.code}"


async def _run_clients(number: int, setup: ProcessSetup, clients: int, workload: Workload, warmup: int,
                       counter: Any, total: int, start: Any, results: Any, nice: int = 0) -> None:
    """The worker's clients as coroutines on one event loop, sharing one gRPC connection (as an asyncio
    application shares its channel between gateways)."""
    from qcchain_gateway import aio

    peer, identity, signer = _client_parts(setup)
    channel = aio.new_channel(peer.target, peer.tls_ca_pem if peer.tls else None,
                              peer.server_name_override if peer.tls else None)
    try:
        contracts = [aio.connect(identity, channel, signer).get_network(setup.channel).get_contract(setup.chaincode)
                     for _ in range(clients)]
        endorsers = list(setup.endorsers) or None
        for i in range(warmup):
            await _submit_one_async(contracts[i % clients], workload.submit_call(-1 - number * _WARMUP_STRIDE - i),
                                    endorsers)
        quiet_gc()
        results.put(("ready", number, nice))
        await asyncio.get_running_loop().run_in_executor(None, start.wait)
        cpu0 = time.process_time()
        latencies: list[float] = []
        failures: Counter[str] = Counter()

        async def client(contract: Any) -> None:
            while True:
                with counter.get_lock():
                    index = counter.value
                    counter.value += 1
                if index >= total:
                    return
                elapsed, failure = await _submit_one_async(contract, workload.submit_call(index), endorsers)
                if failure is None:
                    latencies.append(elapsed)
                else:
                    failures[failure] += 1

        await asyncio.gather(*(client(c) for c in contracts))
        results.put(("done", number, (latencies, dict(failures), time.process_time() - cpu0)))
    finally:
        await channel.close()


def lower_priority(increment: int) -> int:
    """Raise this process's niceness by ``increment`` (0..19; lowering it again needs privileges, so this
    is for processes that should yield the CPU) and return the niceness it now runs at. Where the
    platform has no ``os.nice`` or refuses, the process keeps its priority and that niceness is returned.

    Raises:
        ValueError: ``increment`` is outside 0..19.
    """
    if not 0 <= increment <= 19:
        raise ValueError(f"niceness increment must be 0..19, got {increment}")
    if not hasattr(os, "nice"):
        return 0
    try:
        return os.nice(increment)
    except OSError as exc:
        log.warning("could not lower the priority of process %d: %s", os.getpid(), exc)
        return os.nice(0)


def _worker(number: int, setup: ProcessSetup, clients: int, workload: Workload, warmup: int,
            counter: Any, total: int, start: Any, results: Any, client_nice: int = 0) -> None:
    """One worker process: ``clients`` asyncio clients (uvloop when installed), each taking the next index
    from ``counter``, at niceness ``client_nice`` (see :func:`lower_priority`)."""
    try:
        nice = lower_priority(client_nice)
        try:
            import uvloop
        except ImportError:
            runner = asyncio.run
        else:
            runner = uvloop.run
        runner(_run_clients(number, setup, clients, workload, warmup, counter, total, start, results, nice))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        results.put(("error", number, f"{type(exc).__name__}: {exc}"))






def _collect(results: Any, procs: list[Any], kind: str, timeout: float | None) -> list[Any]:
    """One ``kind`` message per worker. Raises: RuntimeError if a worker fails, dies or times out."""
    out: dict[int, Any] = {}
    deadline = None if timeout is None else time.monotonic() + timeout
    while len(out) < len(procs):
        try:
            what, number, payload = results.get(timeout=1.0)
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead or (deadline is not None and time.monotonic() > deadline):
                raise RuntimeError(f"bench worker processes failed (exit codes {dead or 'none; timeout'})") from None
            continue
        if what == "error":
            raise RuntimeError(f"bench worker {number} failed: {payload}")
        if what == kind:
            out[number] = payload
    return [out[n] for n in sorted(out)]


def _child_pids() -> list[int]:
    """PIDs of this process's children (Linux ``/proc``; empty elsewhere)."""
    pids: list[int] = []
    try:
        for task in Path("/proc/self/task").iterdir():
            pids += [int(x) for x in (task / "children").read_text().split()]
    except OSError:
        return []
    return pids


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; 0.0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _split(concurrency: int, processes: int) -> list[int]:
    base, extra = divmod(concurrency, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


def run_tx_bench_processes(setup: ProcessSetup, transactions: int, workload: Workload, *, concurrency: int = 50,
                           processes: int = 1, evaluations: int = 200, warmup: int = 4, singles: int = 20,
                           admin: tuple[Any, bytes] | None = None, client_nice: int = CLIENT_NICE) -> TxBenchResult:
    """Submit ``transactions`` with ``concurrency`` clients spread over ``processes`` worker processes
    running at niceness ``client_nice`` (0..19); then ``evaluations`` evaluates and ``singles`` sequential
    submits from this process.

    ``admin`` (contract, certificate PEM) is handed to a workload that needs one for its setup.
    Workers are started with "spawn": a calling script needs the ``if __name__ == "__main__":`` guard.

    Raises:
        ValueError: ``transactions`` < 1, ``concurrency`` < 1, ``processes`` < 1, ``evaluations`` < 0 or
            ``client_nice`` outside 0..19.
        RuntimeError: a worker process cannot connect, fails or dies.
        ProfileError, IdentityError: the profile or the user's MSP directory is unusable.
    """
    if transactions < 1 or concurrency < 1 or processes < 1 or evaluations < 0:
        raise ValueError("need transactions >= 1, concurrency >= 1, processes >= 1 and evaluations >= 0")
    if not 0 <= client_nice <= 19:
        raise ValueError(f"client_nice must be 0..19, got {client_nice}")
    processes = min(processes, concurrency)
    gateway, contract = _connect(setup)
    try:
        if admin is not None and hasattr(workload, "use_admin"):
            workload.use_admin(*admin)
        workload.setup(contract)
        latencies, failures, duration, cpu, nice = _measure(setup, transactions, workload, concurrency, processes,
                                                            warmup, client_nice)
        eval_latencies = _evaluate(contract, workload, min(evaluations, transactions) if evaluations else 0)
        endorsers = list(setup.endorsers) or None
        single = [_submit_one(contract, workload.submit_call(transactions + i), endorsers) for i in range(singles)]
    finally:
        gateway.close()
    log.info("bench: %d committed, %d failed in %.2f s", len(latencies), sum(failures.values()), duration)
    return TxBenchResult(
        transactions=transactions, concurrency=concurrency, committed=len(latencies),
        failed=sum(failures.values()), duration_s=round(duration, 3),
        tx_per_s=round(len(latencies) / duration, 1) if duration > 0 else 0.0,
        submit_latency_ms=_summary(latencies, (50, 95, 99)), evaluations=len(eval_latencies),
        evaluate_latency_ms=_summary(eval_latencies, (50, 95)), failures=dict(failures),
        single_submit_latency_ms=_summary([t for t, f in single if f is None], (50, 95)),
        endorsing_organizations=list(setup.endorsers), workload=workload.name, client_processes=processes,
        cpu_ms_per_tx={k: round(v * 1000 / max(1, len(latencies)), 3) for k, v in cpu.items()}, client_nice=nice)


def _measure(setup: ProcessSetup, transactions: int, workload: Workload, concurrency: int, processes: int,
             warmup: int, client_nice: int = 0) -> tuple[list[float], Counter[str], float, dict[str, float], int]:
    """Start the workers, release them together, gather (latencies, failures, seconds, CPU seconds of
    the clients, of this process (an in-process devnet) and of its other children (chaincode servers),
    the lowest niceness a worker ran at)."""
    ctx = multiprocessing.get_context("spawn")
    counter, start, results = ctx.Value("q", 0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, name=f"bench-worker-{n}", daemon=True,
                         args=(n, setup, threads, workload, warmup, counter, transactions, start, results,
                               client_nice))
             for n, threads in enumerate(_split(concurrency, processes))]
    for p in procs:
        p.start()
    try:
        nice = min(_collect(results, procs, "ready", READY_TIMEOUT))
        workers = {p.pid for p in procs}
        others = [pid for pid in _child_pids() if pid not in workers]
        began, own, other = time.perf_counter(), time.process_time(), sum(_cpu_seconds(p) for p in others)
        start.set()
        done = _collect(results, procs, "done", None)
        duration = time.perf_counter() - began
        own, other = time.process_time() - own, sum(_cpu_seconds(p) for p in others) - other
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    latencies = [t for lat, _f, _c in done for t in lat]
    failures: Counter[str] = Counter()
    for _lat, fail, _c in done:
        failures.update(fail)
    cpu = {"clients": sum(c for _l, _f, c in done), "bench_process": own, "bench_process_children": other}
    return latencies, failures, duration, cpu, nice


def profile_path(path: str | Path) -> str:
    """The profile path as an absolute string (what worker processes are given)."""
    return str(Path(path).resolve())
