"""``qcchain devnet up|down|status``: the embedded development network.

``up`` runs in the foreground until Ctrl-C, or with ``--detach`` in the background (PID file and log in
DIR); ``up --bootstrap`` runs it in the background and bootstraps the consortium (members, policies, each
org admin's SM2 key generated into the keystore and registered, the chaincode deployed by governance), so
that you can act as each role at once. ``down`` stops a detached devnet. ``status`` says whether one runs and its block height
(exit status 0 when running, 3 when not). ``add-org`` / ``remove-org`` (:mod:`.devnetorgs`): members join and
leave, governed on chain.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qcchain_devnet.config import DEFAULT_HOST, DEFAULT_PORT
from qcchain_devnet.daemon import BANNER, LOG_FILE, UpOptions, run_foreground
from qcchain_devnet.detached import start_detached, status, stop
from qcchain_devnet.errors import DevnetError

from .devnetorgs import add_org, remove_org
from .errors import CliError
from .options import keystore_dir, password

_DIR = click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path),
                    default=Path(".devnet"), show_default=True,
                    help="State directory: crypto material, connection profiles, ledger, PID file, log.")


@click.group()
def devnet() -> None:
    """Run the embedded development network (one process, no consensus; production runs on Fabric)."""


@devnet.command()
@_DIR
@click.option("--detach", is_flag=True, help="Run in the background (PID file and log in DIR).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Gateway port (0 picks a free one).")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--chaincode-module", envvar="QCCHAIN_DEVNET_CHAINCODE", default="qcchain_contracts", show_default=True,
              help="Python module served as the chaincode (run as `python -m MODULE`; env QCCHAIN_DEVNET_CHAINCODE).")
@click.option("--consortium", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Consortium file (default: network/consortium.yaml, else the built-in default).")
@click.option("--no-tls", is_flag=True, help="Serve plain gRPC instead of TLS.")
@click.option("--bootstrap", is_flag=True,
              help="Run in the background and bootstrap the consortium: members, policies, each org admin's SM2 key "
                   "(generated into the keystore as the org's name, e.g. `inspection`, and registered), chaincode "
                   "deployed by governance. Then act as each role (README: act as each role).")
@click.option("--keystore", "keystore", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --bootstrap: keystore for the org admins' keys [default: env QCCHAIN_KEYSTORE, else "
                   "~/.qcchain/keystore].")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --bootstrap: the keystore password file (else env QCCHAIN_KEYSTORE_PASSWORD).")
def up(state_dir: Path, detach: bool, port: int, host: str, chaincode_module: str,
       consortium: Path | None, no_tls: bool, bootstrap: bool, keystore: Path | None,
       password_file: Path | None) -> None:
    """Start the devnet (material and connection profiles are generated in DIR on first use)."""
    options = UpOptions(state_dir=state_dir, host=host, port=port, chaincode_module=chaincode_module,
                        consortium=consortium, tls=not no_tls)
    secret = password(password_file, "the org admins' keys in the keystore") if bootstrap else b""
    try:
        if not (detach or bootstrap):
            run_foreground(options, click.echo)
            return
        click.echo(BANNER)
        pid = start_detached(options)
    except (DevnetError, OSError) as exc:
        raise CliError(str(exc)) from exc
    info = status(state_dir)
    click.echo(f"devnet running in the background (PID {pid}) at {info.get('url')}")
    click.echo(f"connection profiles: {state_dir.resolve() / 'connection-profiles'}")
    click.echo(f"log: {state_dir.resolve() / LOG_FILE}; stop with `qcchain devnet down --dir {state_dir}`")
    if bootstrap:
        from .devnetboot import bootstrap_devnet

        bootstrap_devnet(state_dir, consortium, keystore_dir(given=keystore), secret, click.echo)


@devnet.command()
@_DIR
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds to wait after SIGTERM before SIGKILL.")
def down(state_dir: Path, timeout: float) -> None:
    """Stop the devnet running from DIR (SIGTERM, then SIGKILL) and remove its PID file."""
    try:
        click.echo(stop(state_dir, timeout=timeout))
    except (DevnetError, OSError) as exc:
        raise CliError(str(exc)) from exc


@devnet.command("status")
@_DIR
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_cmd(state_dir: Path, as_json: bool) -> None:
    """Whether the devnet runs from DIR, where, and its block height per channel."""
    info = status(state_dir)
    if as_json:
        click.echo(json.dumps(info, sort_keys=True))
    elif not info["running"]:
        click.echo(f"devnet: not running ({info['state_dir']})")
    else:
        heights = ", ".join(f"{ch}={h}" for ch, h in sorted(info["heights"].items()))
        click.echo(f"devnet: running (PID {info['pid']}) at {info['url']}")
        if heights:
            click.echo(f"height: {heights}")
        if info["height_error"] or not heights:
            click.echo(info["height_error"] or "height unknown")
    if not info["running"]:
        sys.exit(3)  # SystemExit passes through click's non-standalone main unchanged


devnet.add_command(add_org)
devnet.add_command(remove_org)
