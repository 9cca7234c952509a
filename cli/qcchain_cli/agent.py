"""``qcchain agent``: the using unit's sync agent — init, check, run, status, reconcile.

Every command takes the mapping file (docs/AGENT.md). Secrets (AppSecret, database password) come from the
environment variable or file the mapping names, never from the command line, and are never printed.
A broken mapping is refused before anything is read or sent, one line per problem naming its path.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import click

from qcchain_agent.build import open_agent
from qcchain_agent.errors import AgentError, MappingError
from qcchain_agent.mapping import Mapping, load_mapping
from qcchain_agent.receipts import load_receipt_key
from qcchain_agent.reconcile import reconcile as reconcile_source
from qcchain_agent.secrets import read_secret
from qcchain_agent.skeleton import mapping_skeleton
from qcchain_agent.source import Source

from .errors import CliError
from .proclogs import process_logs

log = logging.getLogger(__name__)

class AgentCliError(CliError):
    """One ``qcchain: error:`` line per problem, with its own exit status."""

    def __init__(self, lines: list[str], exit_code: int = 1) -> None:
        super().__init__("\n".join(lines))
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        for line in self.message.splitlines():
            click.echo(f"qcchain: error: {line}", err=True, file=file)


MAPPING = click.argument("mapping", type=click.Path(dir_okay=False, path_type=Path))


def _load(path: Path) -> Mapping:
    try:
        return load_mapping(path)
    except MappingError as exc:
        raise AgentCliError([f"{path}: {problem}" for problem in exc.problems]) from None


def _emit(doc: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2) if as_json else text(doc))


def _agent(mapping: Mapping, send: bool = True):
    try:
        return open_agent(mapping, os.environ, send=send)
    except MappingError as exc:
        raise CliError("; ".join(exc.problems)) from None
    except AgentError as exc:
        raise CliError(str(exc)) from None


@click.group("agent")
def agent() -> None:
    """Using unit's sync agent: init, check, run, status, reconcile."""


@agent.command("init")
@click.option("--source", "source_url", required=True, help="SQLAlchemy URL of the source (no password).")
@click.option("--password-env", default=None, help="Environment variable holding the source password.")
@click.option("--server", "server_url", required=True, help="Base URL of the ingestion server (https://host:port).")
@click.option("--appid", required=True, help="This unit's appid.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(source_url: str, password_env: str | None, server_url: str, appid: str, output: Path, force: bool) -> None:
    """Write a commented mapping for the source's tables (edit it, then `agent check`)."""
    if output.exists() and not force:
        raise CliError(f"{output} exists (use --force to overwrite)")
    password = read_secret("source password", password_env, None, os.environ) if password_env else None
    try:
        text = mapping_skeleton(source_url, password, server_url, appid)
    except AgentError as exc:
        raise CliError(str(exc)) from None
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


@agent.command("check")
@MAPPING
@click.option("--no-source", is_flag=True, help="Check the mapping file only.")
def check(mapping: Path, no_source: bool) -> None:
    """Validate the mapping, secrets, receipt key and source (tables, columns) without sending anything."""
    parsed = _load(mapping)
    problems: list[str] = []
    try:
        password = read_secret("source password", parsed.source.password_env, parsed.source.password_file, os.environ)
    except AgentError as exc:
        problems.append(str(exc))
        password = None
    try:
        if read_secret("server secret", parsed.server.secret_env, parsed.server.secret_file, os.environ) is None:
            problems.append("server: no AppSecret configured")
    except AgentError as exc:
        problems.append(str(exc))
    if parsed.server.receipt_key is None:
        problems.append("server.receipt_key: required to verify receipts")
    else:
        try:
            load_receipt_key(parsed.server.receipt_key)
        except AgentError as exc:
            problems.append(str(exc))
    if not no_source:
        try:
            source = Source(parsed.source, password)
            source.ping()
            for txmap in parsed.txcodes.values():
                problems += source.check(txmap)
            source.close()
        except AgentError as exc:
            problems.append(str(exc))
    if problems:
        raise AgentCliError([f"{mapping}: {problem}" for problem in problems])
    click.echo(f"{mapping}: ok ({len(parsed.txcodes)} txcodes: {', '.join(parsed.txcodes)})")


def _progress(enabled: bool) -> Callable[[str], Callable[[int], None] | None]:
    def factory(txcode: str) -> Callable[[int], None] | None:
        if not enabled:
            return None
        seen = [0]

        def tick(n: int) -> None:
            seen[0] += n
            click.echo(f"\r  txcode {txcode}: {seen[0]} rows scanned", nl=False, err=True)

        return tick
    return factory


def _cycle_text(report: dict[str, Any]) -> str:
    if "error" in report:
        return f"cycle failed: {report['error']}"
    lines = [f"{s['txcode']}: {s['rows']} rows, I {s['inserted']} U {s['updated']} D {s['deleted']}, "
             f"unchanged {s['unchanged']}, quarantined {s['quarantined']}" for s in report["scans"]]
    send = report["send"]
    lines.append(f"sent: {send['acknowledged']} batches acknowledged, {len(send['quarantined'])} quarantined, "
                 f"{send['pending']} pending" + (f" ({send['error']})" if send["error"] else ""))
    return "\n".join(lines)


@agent.command("run")
@MAPPING
@click.option("--once", is_flag=True, help="One cycle, then exit (status 2 if batches stay unacknowledged).")
@click.option("--full", is_flag=True, help="Full load: re-send every current record of the scanned txcodes.")
@click.option("--all", "force", is_flag=True, help="Scan every txcode now, whatever its update cycle.")
@click.option("--txcode", "txcodes", multiple=True, help="Only these txcodes (repeatable).")
@click.option("--json", "as_json", is_flag=True)
def run(mapping: Path, once: bool, full: bool, force: bool, txcodes: tuple[str, ...], as_json: bool) -> None:
    """Sync: scan what is due, queue the changes, send until acknowledged (forever unless --once)."""
    process_logs("agent")
    parsed = _load(mapping)
    unknown = [c for c in txcodes if c not in parsed.txcodes]
    if unknown:
        raise CliError(f"--txcode {', '.join(unknown)}: not in the mapping")
    the_agent = _agent(parsed)
    progress = _progress(sys.stderr.isatty() and not as_json)
    try:
        if once:
            report = the_agent.cycle(txcodes or None, full=full, force=force, progress=progress)
            if progress("") is not None:
                click.echo("", err=True)
            _emit(report, as_json, _cycle_text)
            if report["send"]["pending"]:
                raise AgentCliError([f"{report['send']['pending']} batches remain unacknowledged "
                                     f"({report['send']['error']}); they are resent on the next run"], 2)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        if full or force:
            _emit(the_agent.cycle(txcodes or None, full=full, force=force, progress=progress), as_json, _cycle_text)
        try:
            the_agent.run(stop, on_cycle=lambda r: _emit(r, as_json, _cycle_text))
        except KeyboardInterrupt:
            stop.set()
    except AgentError as exc:
        raise CliError(str(exc)) from None
    finally:
        the_agent.store.close()


def _status_text(doc: dict[str, Any]) -> str:
    lines = [f"appid {doc['appid']}: batches {doc['batches'] or '{}'}, quarantined rows {doc['quarantined_rows']}"]
    for t in doc["txcodes"]:
        lines.append(f"  {t['txcode']} {t['cycle']:<8} records {t['records']:>7}  last scan {t['last_scan'] or '-'}"
                     f"  last ack {t['last_ack'] or '-'}  pending {t['pending_batches']}"
                     f"{'  OVERDUE' if t['overdue'] else ''}")
    for q in doc.get("quarantine", []):
        lines.append(f"  quarantined {q['txcode']} {q['id']} ({q['source_key']}): {q['reason']}")
    return "\n".join(lines)


@agent.command("status")
@MAPPING
@click.option("--quarantine", is_flag=True, help="List the quarantined rows with their source key and reason.")
@click.option("--json", "as_json", is_flag=True)
def status(mapping: Path, quarantine: bool, as_json: bool) -> None:
    """Per txcode: last scan and acknowledgement against its cycle (overdue?), outbox and quarantine."""
    parsed = _load(mapping)
    the_agent = _agent(parsed, send=False)
    try:
        doc = the_agent.status()
        if quarantine:
            doc["quarantine"] = the_agent.store.list_quarantine()
    finally:
        the_agent.store.close()
    _emit(doc, as_json, _status_text)


def _reconcile_text(doc: dict[str, Any]) -> str:
    lines = [f"checked {doc['checked']}, matching {doc['matching']}: " + ("clean" if doc["clean"] else "DIFFERENCES")]
    for kind in ("missing", "stale", "unexpected", "unverified"):
        for item in doc[kind]:
            lines.append(f"  {kind} {item['txcode']} {item['id']}" + (f": {item['reason']}" if "reason" in item else ""))
    return "\n".join(lines)


@agent.command("reconcile")
@MAPPING
@click.option("--json", "as_json", is_flag=True)
def reconcile(mapping: Path, as_json: bool) -> None:
    """Compare the source with what the chain holds for this unit (verified proofs); exit 3 on differences."""
    parsed = _load(mapping)
    the_agent = _agent(parsed)
    try:
        result = reconcile_source(parsed, the_agent.store, the_agent.source, the_agent.client, the_agent.key)
    except AgentError as exc:
        raise CliError(str(exc)) from None
    finally:
        the_agent.store.close()
    _emit(result.as_dict(), as_json, _reconcile_text)
    if not result.clean:
        raise AgentCliError(["the source and the chain differ (see the report)"], 3)
