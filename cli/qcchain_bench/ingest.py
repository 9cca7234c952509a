"""``qcchain bench ingest``: records/s committed on chain end to end through the HTTPS ingestion API.

Setup: an ingestion server (``qcchain ingest serve``, HTTPS) in its own process — on a temporary devnet
(default; the devnet runs detached, its chaincode as a CCaaS server) or against a Fabric network given by a
connection profile + the ingesting org's registered SM2 key. ``appids`` using units (credentials issued in
the server's state database) post batches concurrently (:mod:`.ingestload`) for ``duration`` seconds.
Afterwards the ledger is asked back (``ingest:summary`` per appid: batch headers and their record counts;
``ingest:count`` per unit: distinct record IDs) so ``records_on_chain`` is counted, not assumed.
``floor_records_per_s`` runs the same kind of batches through validation, canonical JSON and the SM3 Merkle
root in this one process (no HTTP, no chain): the pipeline's own limit on one core.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from qcchain_devnet.daemon import read_pid
from qcchain_gateway.profile import connect_profile
from qcchain_ingest.batch import china_today, parse_batch
from qcchain_ingest.credentials import CredentialStore
from qcchain_ingest.db import open_engine, sqlite_url

from .errors import BenchError
from .ingestdata import credit_code
from .ingestload import LoadResult, Sender, drive, plan_batch

__all__ = ["IngestOptions", "run_ingest_bench", "floor_records_per_s", "format_figures"]

QC = [sys.executable, "-m", "qcchain_cli.main"]
READY_TIMEOUT = 240.0


@dataclass
class IngestOptions:
    """Settings of one run (see ``qcchain bench ingest --help``)."""

    duration: float = 60.0
    appids: int = 24
    batch_size: int = 500
    profile: Path | None = None
    key: Path | None = None
    user: str = "Admin"
    channel: str = "qcchannel"
    floor_batches: int = 18
    rate: float = 0.0
    max_endorsing: int = 3


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99)}


def floor_records_per_s(batches: int, size: int) -> float:
    """Records/s of validation + canonical JSON + SM3 Merkle root over ``batches`` batches of all nine tables,
    in this process. Raises BenchError: a generated batch is invalid (a bug of the generator)."""
    day = china_today(time.time())
    sender = Sender("floor", "", day, 10 ** 6)
    docs = [plan_batch(sender, size) for _ in range(batches)]
    count = sum(len(d["data"]) for d in docs)
    begin = time.perf_counter()
    for doc in docs:
        try:
            parse_batch(doc, day, max(size, 1))
        except ValueError as exc:
            raise BenchError(f"the generated batch {doc['batchNo']} is invalid: {exc}") from exc
    return round(count / (time.perf_counter() - begin), 1)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process (Linux /proc; 0 when unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _devnet_pids(state: Path | None) -> dict[str, int]:
    if state is None:
        return {}
    pid = read_pid(state)
    if pid is None:
        return {}
    return {"devnet": pid, **{f"devnet_child_{c}": c for c in _children(pid)}}


@dataclass
class _Server:
    url: str
    cafile: str
    proc: subprocess.Popen[bytes]
    state: Path | None
    profile: Path


def _start_server(tmp: Path, opts: IngestOptions, db_url: str, stack: ExitStack) -> _Server:
    ready = tmp / "ready.json"
    args = QC + ["ingest", "serve", "--port", "0", "--ready-file", str(ready), "--db", db_url,
                 "--channel", opts.channel, "--user", opts.user, "--max-endorsing", str(opts.max_endorsing)]
    state: Path | None = None
    if opts.profile is not None:
        if opts.key is None:
            raise BenchError("--profile needs --key (the ingesting org's registered SM2 key, PEM)")
        args += ["--profile", str(opts.profile), "--key", str(opts.key)]
        profile = opts.profile
    else:
        state = tmp / "devnet"
        args += ["--dir", str(state)]
        profile = state / "connection-profiles" / "connection-regulator.json"
        stack.callback(subprocess.run, QC + ["devnet", "down", "--dir", str(state)], capture_output=True)
    log = stack.enter_context(open(tmp / "serve.log", "wb"))  # noqa: SIM115 - closed by the stack
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(_stop, proc)
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BenchError("the ingestion server did not start: " + (tmp / "serve.log").read_text()[-1500:])
        time.sleep(0.2)
    info = json.loads(ready.read_text())
    return _Server(info["url"], info["tls_cert"], proc, state, profile)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _on_chain(server: _Server, opts: IngestOptions, senders: list[Sender], units: dict[str, str]) -> dict[str, int]:
    """Batches, records (header counts) and distinct IDs of the run's appids, read back from the ledger."""
    gateway = connect_profile(server.profile, user=opts.user)
    try:
        ingest = gateway.get_network(opts.channel).get_contract("qcchain", "ingest")
        batches = records = ids = 0
        for sender in senders:
            summary = json.loads(ingest.evaluate_transaction("summary", sender.appid))
            batches += summary["batches"]
            records += summary["records"]
            ids += json.loads(ingest.evaluate_transaction("count", units[sender.appid], ""))["records"]
    finally:
        gateway.close()
    return {"batches": batches, "records": records, "ids": ids}


def _issue(db_url: str, count: int, base: int) -> Iterator[tuple[dict[str, str], str]]:
    store = CredentialStore(open_engine(db_url), time.time)
    for i in range(count):
        org_no = credit_code(base + i)
        yield store.issue(org_no, f"基准测试使用单位{i}"), org_no


def run_ingest_bench(opts: IngestOptions) -> dict[str, Any]:
    """Run the benchmark; returns the figures (see the module docstring).

    Raises:
        BenchError: the server did not start, or the ledger could not be read back.
    """
    floor = floor_records_per_s(opts.floor_batches, opts.batch_size)
    with tempfile.TemporaryDirectory(prefix="qcchain-bench-ingest-") as name, ExitStack() as stack:
        tmp = Path(name)
        db_url = sqlite_url(str(tmp / "ingest.db"))
        server = _start_server(tmp, opts, db_url, stack)
        base = int(time.time()) % 10 ** 5 * 100
        day = china_today(time.time())
        senders, units = [], {}
        for i, (cred, org_no) in enumerate(_issue(db_url, opts.appids, base)):
            senders.append(Sender(cred["appid"], cred["secret"], day, (i + 1) * 10 ** 5, inserts=i))  # tables staggered
            units[cred["appid"]] = org_no
        pids = {"ingest_server": server.proc.pid, **_devnet_pids(server.state)}
        cpu0 = {k: _cpu_seconds(p) for k, p in pids.items()}
        gen0 = time.process_time()
        load: LoadResult = asyncio.run(drive(server.url, server.cafile or None, senders, opts.batch_size, opts.duration,
                                           opts.rate))
        cpu = {k: round(_cpu_seconds(p) - cpu0[k], 1) for k, p in pids.items()}
        generator_cpu = round(time.process_time() - gen0, 1)  # the load generator (this process): not the system's
        chain = _on_chain(server, opts, senders, units)
    elapsed = max(load.finished - load.started, 1e-9)
    inserted = sum(s.fresh for s in senders)
    return {
        "runtime": f"profile {opts.profile}" if opts.profile else "devnet (temporary, detached; chaincode qcchain_contracts as a CCaaS server)",
        "records_per_s": round(load.records / elapsed, 1), "records_accepted": load.records,
        "records_on_chain": chain["records"], "batches": load.batches, "batches_on_chain": chain["batches"],
        "record_ids_inserted": inserted, "record_ids_on_chain": chain["ids"], "batch_size": opts.batch_size,
        "appids": opts.appids, "max_endorsing": opts.max_endorsing, "offered_records_per_s": opts.rate or None, "late_batches": load.late_batches,
        "duration_s": round(elapsed, 1), "syndata_latency_ms": _percentiles(load.latencies_ms),
        "floor_records_per_s": floor, "failures": len(load.failures), "failure_samples": load.failures[:5],
        "batches_by_bus_type": load.by_bus, "records_by_txcode": dict(sorted(load.by_txcode.items())),
        "cpu_s": cpu, "load_generator_cpu_s": generator_cpu, "cpu_count": os.cpu_count(),
        "cpu_ms_per_record": round(1000 * sum(cpu.values()) / load.records, 3) if load.records else None,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def format_figures(res: dict[str, Any]) -> str:
    """A few lines for people."""
    lat = res["syndata_latency_ms"]
    return "\n".join([
        f"runtime: {res['runtime']}; {res['appids']} appids, {res['batch_size']} records per batch, "
        + (f"open loop at {res['offered_records_per_s']} records/s offered ({res['late_batches']} batches sent late)"
           if res["offered_records_per_s"] else "closed loop (each appid posts again when answered)"),
        f"{res['records_accepted']} records in {res['batches']} batches accepted in {res['duration_s']} s "
        f"-> {res['records_per_s']} records/s committed (floor {res['floor_records_per_s']} records/s in one process)",
        f"on chain: {res['records_on_chain']} records in {res['batches_on_chain']} batches; "
        f"{res['record_ids_on_chain']}/{res['record_ids_inserted']} record IDs",
        f"syndata latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}; failures {res['failures']} "
        f"{res['failure_samples'] or ''}",
        "CPU s: " + "  ".join(f"{k} {v}" for k, v in res["cpu_s"].items())
        + f"  ({res['cpu_ms_per_record']} ms per record; load generator {res['load_generator_cpu_s']} s; "
        f"machine load average {res['load_average_1m']})"])
