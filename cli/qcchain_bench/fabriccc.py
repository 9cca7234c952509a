"""Native-Fabric chaincode comparison: this runtime vs Node's ``fabric-shim`` vs Go's ``fabric-chaincode-go``.

One real Fabric network (``qcchain_network.runner.up``: one raft orderer, two orgs with one peer each,
TLS, AND endorsement of both orgs), three CCaaS chaincodes with the same put/get/event behaviour
(:mod:`qcchain_bench.example`, ``bench/node-chaincode``, ``bench/go-chaincode``), driven by the
project's asyncio Gateway client in this process with ``in_flight`` requests outstanding. Rounds
alternate the arms (rotating which goes first) so the shared machine's load drifts over all of them.

Per arm and round: committed tx/s (endorse by both orgs + order + commit), evaluates/s, latency p50/p95,
and chaincode CPU per committed transaction and per evaluate, read from ``/proc/<pid>/stat`` of the
chaincode server process (user + system). Ratios are per round (same round, python/other), then
min/median/max.

The Node arm ``npm install``s ``fabric-shim`` into a temporary copy; the Go arm is built in a temporary
module whose ``vendor`` is Fabric's own vendor tree (no module proxy). An arm that cannot be prepared is
skipped with the reason in the result.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from qcchain_gateway.aio import connect as aio_connect
from qcchain_gateway.connection import new_aio_channel
from qcchain_gateway.msp import load_identity
from qcchain_gateway.profile import load_profile
from qcchain_network import cclifecycle, procs, runner
from qcchain_network.binaries import find_binary

from .chaincode import process_cpu_seconds
from .errors import BenchError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ARMS = ("python", "node", "go")
CHANNEL = "benchchannel"


@dataclass(frozen=True)
class Arm:
    """A chaincode server program to compare: its name and command line."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tools:
    """Where the Node and Go arms come from (read by the entry point)."""

    npm: str = "npm"
    node: str = "node"
    go: str = "go"
    fabric_src: Path = Path("/opt/fabric-src/fabric")


def _run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> str | None:
    """Run a preparation step; None when it worked, else a one-line reason."""
    try:
        done = subprocess.run(list(argv), cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[0]}: {exc}"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"{' '.join(argv[:2])} failed: {' | '.join(tail)}"
    return None


def prepare_python() -> Arm:
    """This runtime: :mod:`qcchain_bench.example` (the kv contract on :mod:`qcchain_shim`)."""
    return Arm("python", [sys.executable, "-m", "qcchain_bench.example"])


def prepare_node(work: Path, tools: Tools) -> Arm | str:
    """Copy ``bench/node-chaincode`` to ``work`` and ``npm install`` it; an Arm or the reason it is skipped."""
    src = ROOT / "bench" / "node-chaincode"
    if shutil.which(tools.node) is None or shutil.which(tools.npm) is None:
        return f"node/npm not found ({tools.node}, {tools.npm})"
    dest = work / "node-chaincode"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "index.js"):
        shutil.copyfile(src / name, dest / name)
    failed = _run([tools.npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--ignore-scripts"], dest)
    if failed:
        return failed
    return Arm("node", [shutil.which(tools.node) or tools.node, str(dest / "index.js")])


def prepare_go(work: Path, tools: Tools) -> Arm | str:
    """Build ``bench/go-chaincode`` in a temporary module vendoring Fabric's tree; an Arm or the skip reason."""
    vendor = tools.fabric_src / "vendor" / "github.com" / "hyperledger" / "fabric-chaincode-go" / "v2" / "shim"
    if not vendor.is_dir():
        return f"no fabric-chaincode-go shim in {tools.fabric_src}/vendor"
    if shutil.which(tools.go) is None:
        return f"go toolchain not found ({tools.go})"
    dest = work / "go-chaincode"
    dest.mkdir(parents=True, exist_ok=True)
    lines = (tools.fabric_src / "go.mod").read_text(encoding="utf-8").splitlines()
    (dest / "go.mod").write_text("\n".join("module qcchainbenchcc" if ln.startswith("module ") else ln
                                           for ln in lines) + "\n", encoding="utf-8")
    if not (dest / "vendor").exists():
        (dest / "vendor").symlink_to(tools.fabric_src / "vendor")
    shutil.copyfile(ROOT / "bench" / "go-chaincode" / "main.go", dest / "main.go")
    env = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=vendor", "GOPROXY": "off", "GOWORK": "off",
           "GOCACHE": os.environ.get("GOCACHE", str(work / "gocache"))}
    failed = _run([shutil.which(tools.go) or tools.go, "build", "-o", "gocc", "."], dest, env)
    return failed or Arm("go", [str(dest / "gocc")])


def consortium(base_port: int, arms: Sequence[str]) -> dict[str, Any]:
    """The bench network: one raft orderer, Inspection and Regulator with one peer each, one chaincode per arm."""
    return {
        "name": "qcchain-ccbench", "fabric_version": "3.1.5",
        "policies": {"endorsement": str(ROOT / "policies" / "endorsement.yaml"),
                     "collections": str(ROOT / "policies" / "collections.yaml")},
        "network": {"host": "127.0.0.1", "base_port": base_port},
        "orgs": [{"name": "Inspection", "msp_id": "InspectionMSP", "role": "inspection_body",
                  "domain": "inspection.qcchain.example", "peers": 1},
                 {"name": "Regulator", "msp_id": "RegulatorMSP", "role": "regulator",
                  "domain": "regulator.qcchain.example", "peers": 1}],
        "orderer": {"name": "Orderer", "msp_id": "OrdererMSP", "domain": "qcchain.example", "consensus": "raft",
                    "nodes": 1},
        "channels": [{"name": CHANNEL, "members": ["Inspection", "Regulator"],
                      "chaincodes": [{"name": f"{a}cc", "endorsement_policy": "inspection_with_regulator"}
                                     for a in arms]}],
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _window(calls: list[Callable[[], Any]], in_flight: int) -> tuple[int, list[str], float, list[float]]:
    """Run ``calls`` with ``in_flight`` outstanding; (ok, failures, wall seconds, latencies ms)."""
    slots = asyncio.Semaphore(in_flight)
    lat: list[float] = []
    failures: list[str] = []

    async def one(call: Callable[[], Any]) -> None:
        async with slots:
            t = time.perf_counter()
            try:
                await call()
            except Exception as exc:  # noqa: BLE001 - counted and reported (first few) as failures
                failures.append(f"{type(exc).__name__}: {str(exc)[:160]}")
                return
            lat.append((time.perf_counter() - t) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(c) for c in calls))
    return len(lat), failures, time.perf_counter() - t0, lat


async def _phase(contract: Any, pid: int, kind: str, keys: list[str], in_flight: int) -> dict[str, Any]:
    if kind == "submit":
        calls = [lambda k=k: contract.submit_transaction("put", k, "v" * 32) for k in keys]
    else:
        calls = [lambda k=k: contract.evaluate_transaction("get", k) for k in keys]
    cpu0, own0 = process_cpu_seconds(pid), time.process_time()
    ok, failures, wall, lat = await _window(calls, in_flight)
    cpu, own = process_cpu_seconds(pid) - cpu0, time.process_time() - own0
    return {"ok": ok, "failed": len(failures), "first_failures": failures[:3], "wall_s": round(wall, 3),
            "per_s": round(ok / wall, 1) if wall else 0.0, "p50_ms": round(_pct(lat, 0.5), 2),
            "p95_ms": round(_pct(lat, 0.95), 2), "cc_cpu_ms_per_op": round(cpu * 1000 / ok, 4) if ok else None,
            "client_cpu_ms_per_op": round(own * 1000 / ok, 3) if ok else None}


def _spread(values: list[float]) -> dict[str, float] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"min": round(min(vals), 4), "median": round(statistics.median(vals), 4), "max": round(max(vals), 4)}


METRICS = (("submit", "per_s"), ("evaluate", "per_s"), ("submit", "p50_ms"), ("submit", "p95_ms"),
           ("evaluate", "p50_ms"), ("evaluate", "p95_ms"), ("submit", "cc_cpu_ms_per_op"),
           ("evaluate", "cc_cpu_ms_per_op"))


def summarise(rounds: list[dict[str, dict[str, Any]]], arms: Sequence[str]) -> dict[str, Any]:
    """min/median/max of every metric per arm, and per-round ratios python/<other> (pure)."""
    per_arm = {a: {f"{ph}.{m}": _spread([r[a][ph][m] for r in rounds if a in r]) for ph, m in METRICS}
               for a in arms}
    ratios: dict[str, Any] = {}
    for other in arms:
        if other == "python":
            continue
        ratios[f"python/{other}"] = {
            f"{ph}.{m}": _spread([r["python"][ph][m] / r[other][ph][m] for r in rounds
                                  if r["python"][ph][m] and r[other][ph][m]]) for ph, m in METRICS}
    return {"arms": per_arm, "ratios": ratios}


async def _drive(layout: Any, servers: dict[str, int], rounds: int, submits: int, evaluates: int,
                 in_flight: int) -> list[dict[str, dict[str, Any]]]:
    org = layout.consortium.orgs[0]
    profile = load_profile(layout.profile_file(org))
    org_profile = profile.organizations[org.name]
    endpoint = profile.peers[org_profile.peers[0]]
    identity, signer = load_identity(org_profile.users["Admin"], org_profile.msp_id)
    channel = new_aio_channel(endpoint.target, endpoint.tls_ca_pem, endpoint.server_name_override)
    out: list[dict[str, dict[str, Any]]] = []
    async with aio_connect(identity, channel, signer, close_connection=True) as gateway:
        network = gateway.get_network(CHANNEL)
        contracts = {a: network.get_contract(f"{a}cc", "kv") for a in servers}
        for arm, contract in contracts.items():  # warm-up: discovery, connections, first launch
            await _ready(contract, arm)
            await _window([lambda c=contract, i=i: c.submit_transaction("put", f"warm-{i}", "v")
                           for i in range(2 * in_flight)], in_flight)
        names = list(servers)
        for rnd in range(rounds):
            order = names[rnd % len(names):] + names[: rnd % len(names)]
            result: dict[str, dict[str, Any]] = {}
            for arm in order:
                keys = [f"r{rnd}-{i}" for i in range(submits)]
                sub = await _phase(contracts[arm], servers[arm], "submit", keys, in_flight)
                ev_keys = [keys[i % len(keys)] for i in range(evaluates)]
                ev = await _phase(contracts[arm], servers[arm], "evaluate", ev_keys, in_flight)
                result[arm] = {"submit": sub, "evaluate": ev, "load1": round(os.getloadavg()[0], 2)}
                log.info("round %d %s: %.1f tx/s, %.1f evaluates/s", rnd + 1, arm, sub["per_s"], ev["per_s"])
            out.append(result)
    return out


async def _ready(contract: Any, arm: str, timeout: float = 90.0) -> None:
    """Submit until both orgs' peers endorse (discovery has the chaincode, the peers dialled the server)."""
    t0, last = time.monotonic(), ""
    while time.monotonic() - t0 < timeout:
        try:
            await contract.submit_transaction("put", "ready", "1")
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            last = f"{type(exc).__name__}: {str(exc)[:200]}"
            await asyncio.sleep(0.5)
    raise BenchError(f"{arm} chaincode not usable through the gateway after {timeout:.0f}s: {last}")


def run_fabric_chaincode_bench(work: Path, arms: Sequence[str] = ARMS, rounds: int = 3, submits: int = 600,
                               evaluates: int = 3000, in_flight: int = 50, base_port: int = 29050,
                               tools: Tools = Tools()) -> dict[str, Any]:
    """Bring a native network up in ``work``, deploy every preparable arm, run alternating rounds, take it down.

    Raises:
        BenchError: the python arm is not requested, the network cannot come up, a chaincode cannot be
            deployed or never answers, or a server's CPU cannot be read.
        BinaryNotFound: no Fabric binaries (FABRIC_BIN / PATH).
    """
    if "python" not in arms:
        raise BenchError("--arms must include python (ratios are python/<other>)")
    work.mkdir(parents=True, exist_ok=True)
    prepared: dict[str, Arm] = {}
    skipped: dict[str, str] = {}
    for name in arms:
        got = {"python": lambda: prepare_python(), "node": lambda: prepare_node(work, tools),
               "go": lambda: prepare_go(work, tools)}[name]()
        if isinstance(got, Arm):
            prepared[name] = got
        else:
            skipped[name] = got
            log.warning("%s arm skipped: %s", name, got)
    cfile = work / "ccbench-consortium.yaml"
    cfile.write_text(yaml.safe_dump(consortium(base_port, list(prepared))), encoding="utf-8")
    out = work / "net"
    peer_bin = find_binary("peer")
    t0 = time.monotonic()
    try:
        layout = runner.up(cfile, out)
    except Exception as exc:
        runner.down(out)
        raise BenchError(f"native Fabric network did not come up: {exc}") from exc
    try:
        up_s = time.monotonic() - t0
        channel = layout.consortium.channels[0]
        servers: dict[str, int] = {}
        for name, arm in prepared.items():
            cc = f"{name}cc"
            pkg = cclifecycle.package(out / "packages", f"{cc}_1.0", f"127.0.0.1:{layout.chaincode_ports[cc]}")
            proc = cclifecycle.start_server(layout, pkg, arm.argv, arm.env)
            procs.wait_listening("127.0.0.1", layout.chaincode_ports[cc], proc, timeout=60)
            cclifecycle.deploy(layout, peer_bin, channel, cc, pkg)
            servers[name] = proc.pid
        rounds_out = asyncio.run(_drive(layout, servers, rounds, submits, evaluates, in_flight))
    except BenchError:
        raise
    except Exception as exc:
        raise BenchError(f"fabric chaincode bench failed: {type(exc).__name__}: {exc}") from exc
    finally:
        runner.down(out)
    return {"network_up_s": round(up_s, 1), "rounds": rounds_out, "skipped": skipped,
            "settings": {"rounds": rounds, "submits": submits, "evaluates": evaluates, "in_flight": in_flight,
                         "policy": "AND(Inspection, Regulator) peers", "client": "qcchain_gateway.aio",
                         "cpus": os.cpu_count()},
            **summarise(rounds_out, list(servers))}
