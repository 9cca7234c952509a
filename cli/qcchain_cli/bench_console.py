"""``qcchain bench console``: page response times of the browser console (H-8 targets: interactive pages
≤ 0.8 s p95, searches ≤ 3 s, reports ≤ 3 s), measured over HTTPS against a console served in-process on a
devnet holding the demo story plus ``--records`` extra equipment records (``records:submit``, one
transaction each) and ``--ingest-records`` records pushed through the ingestion server in batches of 500
(which also serves the Ingestion page's admin API). Each page's first request (cold caches) is reported
apart from the p50/p95 of the rounds. Figures, not a timed test.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from .errors import CliError

PAGES = {"overview": ("/", "interactive"), "contracts": ("/contracts", "interactive"),
         "records_search": ("/records?index=category&value=equipment", "search"),
         "record_detail": ("/records/EQ-32010001", "interactive"), "sharing": ("/sharing", "interactive"),
         "riskmap": ("/riskmap", "search"), "audit": ("/audit", "interactive"),
         "ingestion": ("/ingestion", "interactive"),
         "audit_search": ("/audit?kind=executed", "search"), "audit_report": ("/audit/report", "report"),
         "audit_csv": ("/audit/export.csv", "report")}
TARGET_P95 = {"interactive": 0.8, "search": 3.0, "report": 3.0}
PASSWORD = "Bench-admin-42"


def _load(profile: Path, count: int, threads: int) -> float:
    """Submit ``count`` L1 equipment records as the manufacturer; returns records/s."""
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.actions import submit_record
    from qcchain_sdk.contracts.governance import GovernanceClient

    key, now = SM2PrivateKey.generate(), int(time.time())
    tag = key.public_key().key_id()[:6]  # a rerun on the same devnet loads new ids
    with connect_profile(profile) as gateway:
        net = gateway.get_network("qcchannel")
        GovernanceClient(net.get_contract("qcchain", "governance"), net.get_contract("qcchain", "keys"),
                         gateway.identity.msp_id, gateway.identity.cert_pem, key).register_key(now - 60, now + 86400)
        contract = net.get_contract("qcchain")

        def one(i: int) -> None:
            rid = f"EQB-{tag}-{i:07d}"
            payload = {"ID": rid, "busType": "I", "updateDate": "2025-06-01", "regNo": f"B{tag}{i:07d}", "equipmentKind": "电梯",
                       "equipmentName": "lift", "model": "XL-1", "productNo": f"P-{i}",
                       "manufacturerName": "Example Lift Manufacturing Co.", "manufactureDate": "2024-12-01"}
            submit_record(contract, key, payload=payload, original=None, record_id=rid, category="equipment",
                          equipment_code=f"B{tag}{i:07d}", stage="production", grade="L1")

        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            for done, _ in enumerate(pool.map(one, range(count)), start=1):
                if done % 500 == 0:
                    click.echo(f"bench console: {done}/{count} records loaded", err=True)
        return count / max(time.monotonic() - started, 1e-9)


def _serve(devnet: Path, state: Path, ingest: Any) -> tuple[str, Any, Any]:
    import socket

    import uvicorn

    from qcchain_console.server import ServeSettings, open_console, open_state
    from qcchain_console.tlscert import ensure_self_signed

    open_state(state).add("bench", "admin", PASSWORD)
    info = json.loads((devnet / "devnet.json").read_text(encoding="utf-8"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app, console = open_console(ServeSettings(state=state, profile=Path(info["connection_profiles"]["Regulator"]),
                                              ingest_url=ingest.url, ingest_key_file=ingest.key_file,
                                              ingest_ca=ingest.cert))
    cert, key = ensure_self_signed(state, "127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, ssl_certfile=str(cert),
                                           ssl_keyfile=str(key), log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"https://127.0.0.1:{port}", server, console


def _page(client: Any, path: str, kind: str, rounds: int) -> tuple[dict[str, Any], str]:
    """Figures of one page over ``rounds`` requests (the first one apart) and its last answer's text."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - t0)
        if answer.status_code != 200:
            raise CliError(f"{path}: HTTP {answer.status_code}")
    first = times[0]
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    rows = len(re.findall(r"<tr", answer.text)) if "html" in answer.headers.get("content-type", "") else \
        answer.text.count("\n") - 1
    return {"path": path[:120], "kind": kind, "first_s": round(first, 4), "rows": rows,
            "p50_s": round(statistics.median(times), 4), "p95_s": round(p95, 4), "target_p95_s": TARGET_P95[kind],
            "meets": p95 <= TARGET_P95[kind] and first <= TARGET_P95[kind], "bytes": len(answer.content)}, answer.text


def _measure(url: str, rounds: int) -> dict[str, Any]:
    import html

    import httpx

    client = httpx.Client(base_url=url, verify=False, timeout=120)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    if token is None:
        raise CliError("console login page has no CSRF token")
    client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf": token.group(1)})
    out = {}
    for name, (path, kind) in PAGES.items():
        out[name], text = _page(client, path, kind, rounds)
        more = re.search(r'id="more">[^<]*<a href="([^"]+)"', text) if name == "audit_report" else None
        if more:  # the report's continuation: a range no request has verified yet (its first request is cold)
            out["audit_report_next"], _ = _page(client, html.unescape(more.group(1)), "report", rounds)
    return out


@click.command()
@click.option("--dir", "devnet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A running devnet with the demo story (default: run `qcchain demo --keep` in a temporary directory).")
@click.option("--records", default=100_000, show_default=True, type=click.IntRange(0),
              help="Extra L1 equipment records loaded first (as the manufacturer).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Loader threads (8 measured without a stall: 8,000 records at ~65/s).")
@click.option("--ingest-records", default=0, show_default=True, type=click.IntRange(0),
              help="Extra records pushed through the ingestion server first (batches of 500, tables 01-08).")
@click.option("--rounds", default=20, show_default=True, type=click.IntRange(2, 1000), help="Requests per page.")
@click.option("--json", "as_json", is_flag=True)
def console(devnet_dir: Path | None, records: int, threads: int, ingest_records: int, rounds: int, as_json: bool) -> None:
    """Console page p50/p95 per page (H-8 targets)."""
    import subprocess
    import sys

    temporary = devnet_dir is None
    if temporary:
        devnet_dir = Path(tempfile.mkdtemp(prefix="qcchain-bench-console-")) / "net"
        done = subprocess.run([sys.executable, "-m", "qcchain_cli.main", "demo", "--dir", str(devnet_dir), "--keep"],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise CliError(f"demo failed: {done.stderr.strip()[-300:]}")
    assert devnet_dir is not None
    from .bench_console_ingest import load as ingest_load, start_server

    work = Path(tempfile.mkdtemp(prefix="qcchain-bench-console-state-"))
    ingest = None
    try:
        info = json.loads((devnet_dir / "devnet.json").read_text(encoding="utf-8"))
        rate = _load(Path(info["connection_profiles"]["Manufacturer"]), records, threads) if records else None
        ingest = start_server(devnet_dir, work)
        ingest_rate = ingest_load(devnet_dir, ingest, ingest_records) if ingest_records else None
        url, server, ctx = _serve(devnet_dir, work / "console", ingest)
        try:
            pages = _measure(url, rounds)
            height = ctx.blocks.state.chain_height
        finally:
            server.should_exit = True
            ctx.blocks.stop()
            ctx.verifier.close()
            ctx.chain.close()
    finally:
        if ingest is not None:
            ingest.stop()
        if temporary:
            subprocess.run([sys.executable, "-m", "qcchain_cli.main", "devnet", "down", "--dir", str(devnet_dir)],
                           capture_output=True, check=False)
    result = {"records_loaded": records, "load_records_per_s": round(rate, 1) if rate else None,
              "ingest_records_loaded": ingest_records, "ingest_records_per_s": round(ingest_rate, 1) if ingest_rate else None,
              "chain_height": height, "rounds": rounds, "pages": pages}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for name, row in pages.items():
        click.echo(f"{name:15} first {row['first_s'] * 1000:7.1f} ms  p50 {row['p50_s'] * 1000:7.1f} ms  "
                   f"p95 {row['p95_s'] * 1000:7.1f} ms  "
                   f"(target {row['target_p95_s']} s: {'ok' if row['meets'] else 'MISSED'})")
