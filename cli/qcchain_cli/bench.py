"""``qcchain bench``: benchmarks. This module owns the group; ``crypto``, ``tx``, ``chaincode`` and ``ingest``
are defined here. Sub-commands other areas write in their own modules (``bench_agent``, ``bench_console``,
``bench_iot``, ``bench_fabriccc``) are added at the bottom.
"""

from __future__ import annotations

import json
from typing import Any

import click

from . import bench_agent, bench_console, bench_fabriccc, bench_iot

__all__ = ["bench", "chaincode", "crypto"]

_TARGETS = "targets: SM2 >= 0.9x openssl speed and >= 20x gmssl; SM3/SM4 >= 100x gmssl"


@click.group(name="bench")
def bench() -> None:
    """Benchmarks: crypto, chaincode, tx, ingest (and those of the app services)."""


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:8.1f}x" if a and b else "      n/a"


def _table(res: dict[str, Any]) -> str:
    from qcchain_core.gm import _native  # noqa: PLC0415 - lazy: keep `qcchain --help` fast

    native, ref, speed = res["native"], res["gmssl"] or {}, res["openssl_speed_sm2"] or {}
    rows = [f"native backend: {_native.default().name}; {_TARGETS}",
            f"{'metric':<18}{'native':>12}{'gmssl':>12}{'x gmssl':>10}{'openssl speed':>15}{'x openssl':>10}"]
    for key, unit, speed_key in (("sm2_sign_per_s", "sign/s", "sign_per_s"),
                                 ("sm2_verify_per_s", "verify/s", "verify_per_s"),
                                 ("sm3_mb_per_s", "SM3 MB/s", None), ("sm4_gcm_mb_per_s", "SM4-GCM MB/s", None)):
        other = speed.get(speed_key) if speed_key else None
        rows.append(f"{unit:<18}{native[key]:>12.1f}{ref.get(key, 0.0):>12.3f}{_ratio(native[key], ref.get(key))}"
                    f"{(f'{other:.1f}' if other else '-'):>15}{_ratio(native[key], other) if other else '        -'}")
    return "\n".join(rows)


@bench.command(name="crypto")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--seconds", type=click.FloatRange(min=0.001), default=1.0, show_default=True,
              help="Time spent on each measurement.")
@click.option("--no-openssl", is_flag=True, help="Do not run `openssl speed sm2` for comparison.")
def crypto(as_json: bool, seconds: float, no_openssl: bool) -> None:
    """SM2 sign/verify per second, SM3 and SM4-GCM MB/s: native backend vs gmssl (and openssl speed)."""
    from qcchain_bench.crypto import measure  # noqa: PLC0415 - lazy import

    result = measure(seconds, openssl=not no_openssl)
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    else:
        click.echo(_table(result))


# ----------------------------------------------------------------------------- bench tx (issue 3 "Speed")

def _tx_figures(res: dict[str, Any]) -> str:
    sub, ev, one = res["submit_latency_ms"], res["evaluate_latency_ms"], res["single_submit_latency_ms"]
    return "\n".join([
        f"runtime: {res['runtime']}; channel {res['channel']}; workload {res['workload']}; "
        f"endorsers {', '.join(res['endorsing_organizations']) or 'policy default'}",
        f"load: {res['transactions']} submits, {res['concurrency']} concurrent clients in {_where(res)}; "
        f"each client sends its next transaction when the previous one has committed",
        f"{res['committed']}/{res['transactions']} committed in {res['duration_s']} s "
        f"-> {res['tx_per_s']} tx/s (failed: {res['failed']} {res['failures'] or ''})",
        f"submit-to-commit latency ms: p50 {sub['p50']}  p95 {sub['p95']}  p99 {sub['p99']}",
        f"single submit latency ms:    p50 {one.get('p50')}  p95 {one.get('p95')}  (one client, nothing else in flight)",
        f"evaluate latency ms:         p50 {ev['p50']}  p95 {ev['p95']}  ({res['evaluations']} calls)",
        "CPU ms per committed tx:     " + ("  ".join(f"{k} {v}" for k, v in sorted(res.get("cpu_ms_per_tx", {}).items()))
                                         or "unknown")
        + "  (bench_process = the in-process devnet, bench_process_children = its chaincode servers)"])


def _where(res: dict[str, Any]) -> str:
    procs = res.get("client_processes", 0)
    return f"{procs} client process(es) at nice {res.get('client_nice', 0)}" if procs else "threads of the bench process"


def _run_tx(profile: Any, opts: dict[str, Any]) -> dict[str, Any]:
    from qcchain_bench.tx import WORKLOADS  # noqa: PLC0415 - lazy import
    from qcchain_bench.txproc import ProcessSetup, profile_path, run_tx_bench_processes  # noqa: PLC0415
    from qcchain_gateway.profile import connect_profile  # noqa: PLC0415

    setup = ProcessSetup(profile_path(profile), opts["user"], opts["channel"], opts["chaincode"],
                         tuple(opts["endorsers"]))
    workload = WORKLOADS[opts["workload"]]()
    admin_gateway = None
    try:
        admin = None
        if hasattr(workload, "use_admin"):  # records: bootstrap + SM2 key registration need an org admin
            admin_gateway = connect_profile(profile, user="Admin")
            admin = (admin_gateway.get_network(opts["channel"]).get_contract(opts["chaincode"]),
                     admin_gateway.identity.cert_pem)
        result = run_tx_bench_processes(setup, opts["transactions"], workload, concurrency=opts["concurrency"],
                                        processes=opts["processes"], evaluations=opts["evaluations"], admin=admin,
                                        client_nice=opts["client_nice"])
    finally:
        if admin_gateway is not None:
            admin_gateway.close()
    return {**result.to_dict(), "channel": opts["channel"]}


@bench.command(name="tx")
@click.option("-n", "--transactions", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("-c", "--concurrency", type=click.IntRange(1, 1000), default=64, show_default=True,
              help="Concurrent clients in total (one Gateway each; the clients of a process share its gRPC "
                   "connection); each sends its next transaction when the previous one has committed.")
@click.option("-p", "--processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Client processes the clients are spread over (asyncio clients: one process holds many; "
                   "on 2 cores a second one only adds an interpreter competing for the CPU). The clients "
                   "never share the measured runtime's process.")
@click.option("--client-nice", type=click.IntRange(0, 19), default=19, show_default=True,  # = benchproc.CLIENT_NICE
              help="Niceness of the client processes: the load generator yields the CPU to the runtime "
                   "measured, as clients on other machines would (0: same priority).")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Connection profile of the runtime to measure (default: a fresh devnet in a temp dir, "
                   "run in this process).")
@click.option("--user", default="User1", show_default=True, help="User of the profile's org.")
@click.option("--channel", default=None,
              help="Channel [default: inspection-channel on the temporary devnet; qcchannel with --profile, the "
                   "consortium-wide channel the qcchain chaincode is committed on in every network].")
@click.option("--chaincode", default="qcchain", show_default=True)
@click.option("--endorsers", default=None,
              help="Comma-separated endorsing MSP IDs ('' lets the gateway choose by policy) [default: "
                   "InspectionMSP,RegulatorMSP on the temporary devnet; '' with --profile].")
@click.option("--workload", type=click.Choice(["put", "records"]), default=None,
              help="put: the example key-value chaincode; records: SM2-signed records:submit on the qcchain "
                   "contracts [default: put on the temporary devnet; records with --profile].")
@click.option("--evaluations", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--chaincode-module", default="qcchain_bench.example", show_default=True,
              help="Chaincode module of the temporary devnet (the records workload always uses qcchain_contracts).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def tx(profile: str | None, chaincode_module: str | None, as_json: bool, **opts: Any) -> None:
    """Committed tx/s and submit/evaluate latency through the Gateway (devnet by default).

    Setup measured (printed with the figures): N submits of the workload by C clients spread over P
    client processes, endorsed by the given orgs; then single submits (one client, nothing else in
    flight) and evaluates. The default devnet runs in this process, its chaincode server in its own.
    """
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from qcchain_bench.tx import WORKLOADS  # noqa: PLC0415

    from .errors import CliError  # noqa: PLC0415

    if opts["workload"] is None:
        opts["workload"] = "records" if profile is not None else "put"
    if opts["workload"] not in WORKLOADS:
        raise CliError(f"workload {opts['workload']!r} is not available yet")
    if opts["channel"] is None:
        opts["channel"] = "qcchannel" if profile is not None else "inspection-channel"
    if opts["endorsers"] is None:
        opts["endorsers"] = "" if profile is not None else "InspectionMSP,RegulatorMSP"
    opts["endorsers"] = [e.strip() for e in opts["endorsers"].split(",") if e.strip()]
    if profile is not None:
        result = {**_run_tx(profile, opts), "runtime": f"profile {profile}"}
    else:
        from qcchain_devnet.daemon import UpOptions, running_devnet  # noqa: PLC0415

        with tempfile.TemporaryDirectory(prefix="qcchain-bench-") as tmp:
            state = Path(tmp) / "devnet"
            module = "qcchain_contracts" if opts["workload"] == "records" else chaincode_module
            with running_devnet(UpOptions(state_dir=state, port=0, chaincode_module=module)):
                from qcchain_shim.server import quiet_gc  # noqa: PLC0415 - this process now runs the devnet

                quiet_gc()
                path = state / "connection-profiles" / "connection-inspection.json"
                result = {**_run_tx(path, opts), "runtime": f"devnet (temporary, in this process; chaincode {module} "
                                                            "as a CCaaS server process)"}
    click.echo(json.dumps(result, sort_keys=True) if as_json else _tx_figures(result))


@bench.command(name="chaincode")
@click.option("-n", "n", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Transactions per phase (put, then get).")
@click.option("--in-flight", type=click.IntRange(min=1), default=50, show_default=True,
              help="Transactions outstanding at once on the one stream.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def chaincode(n: int, in_flight: int, as_json: bool) -> None:
    """Chaincode-process CPU per put transaction (get+put+event) and per get, via the chaincode protocol."""
    from qcchain_bench.chaincode import format_table, run  # noqa: PLC0415 - lazy import

    result = run(n=n, in_flight=in_flight)
    click.echo(json.dumps(result, sort_keys=True) if as_json else format_table(result))


@bench.command(name="ingest")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Connection profile of the ingesting org (default: a fresh devnet in a temp dir).")
@click.option("--key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="With --profile: the ingesting org's registered SM2 private key (PEM).")
@click.option("--user", default="Admin", show_default=True, help="User of the profile's org.")
@click.option("--channel", default="qcchannel", show_default=True)
@click.option("--duration", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds of load (a batch started before the end is awaited).")
@click.option("--appids", type=click.IntRange(1, 1000), default=24, show_default=True,
              help="Using units posting concurrently (one batch in flight each).")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=500, show_default=True)
@click.option("--rate", type=click.FloatRange(min=0), default=5000.0, show_default=True,
              help="Open loop: records/s offered in all, each appid's batches due on a fixed schedule "
                   "(latency counted from the due time). 0 = closed loop (capacity).")
@click.option("--max-endorsing", type=click.IntRange(1, 64), default=3, show_default=True,
              help="The server's batches endorsed at once (qcchain ingest serve --max-endorsing).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def ingest_cmd(profile: str | None, key: str | None, user: str, channel: str, duration: float, appids: int,
               batch_size: int, rate: float, max_endorsing: int, as_json: bool) -> None:
    """Records/s committed on chain end to end through the HTTPS ingestion API (seed 001 Appendix B).

    Many appids post batches of all nine tables with inserts, updates and deletes; the records on chain
    are counted back from the ledger afterwards.
    """
    from pathlib import Path  # noqa: PLC0415

    from qcchain_bench.errors import BenchError  # noqa: PLC0415 - lazy import
    from qcchain_bench.ingest import IngestOptions, format_figures, run_ingest_bench  # noqa: PLC0415

    from .errors import CliError  # noqa: PLC0415

    opts = IngestOptions(duration=duration, appids=appids, batch_size=batch_size, user=user, channel=channel, rate=rate,
                         max_endorsing=max_endorsing,
                         profile=Path(profile) if profile else None, key=Path(key) if key else None)
    try:
        result = run_ingest_bench(opts)
    except BenchError as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps(result, sort_keys=True, ensure_ascii=False) if as_json else format_figures(result))


bench.add_command(bench_agent.agent, name="agent")
bench.add_command(bench_console.console, name="console")
bench.add_command(bench_iot.iot, name="iot")
bench.add_command(bench_fabriccc.fabric_chaincode, name="fabric-chaincode")
