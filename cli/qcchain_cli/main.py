"""Entry point of the ``qcchain`` console command.

Sub-command groups live in their own modules and are imported lazily, so ``qcchain --help`` stays
fast and a broken optional area cannot break the others. Every error reaches the user as one line
``qcchain: error: <message>`` with a non-zero exit code; ``-v`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

# name -> (module, attribute, one-line help). Each module owns its commands.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "bench": ("qcchain_cli.bench", "bench", "Benchmarks: crypto, chaincode, tx."),
    "devnet": ("qcchain_cli.devnet", "devnet", "Run the embedded development network."),
    "demo": ("qcchain_cli.demo", "demo", "Run the consortium demo (the main job)."),
    "keys": ("qcchain_cli.keys", "keys", "SM2 keys in an encrypted keystore: generate, show, export, list."),
    "contract": ("qcchain_cli.contract", "contract", "Contract lifecycle: create, compile, review, deploy, sign, execute, register-key, invoke, freeze, thaw, upgrade, destroy, status."),
    "records": ("qcchain_cli.records", "records", "Graded QC records: submit, get, query."),
    "sharing": ("qcchain_cli.sharing", "sharing", "Sharing grants: request, approve, reject, revoke, grant, access, list, check."),
    "audit": ("qcchain_cli.audit", "audit", "Auditor queries: history, timeline, verify."),
    "network": ("qcchain_cli.network", "network", "Consortium file: validate and generate a Fabric network."),
    "certs": ("qcchain_cli.certs", "certs", "Certificates of the consortium: check expiry."),
    "nodes": ("qcchain_cli.nodes", "nodes", "Node registry on chain: propose admit/remove, list, show."),
    "ingest": ("qcchain_cli.ingest", "ingest", "HTTPS ingestion service (seed 001): serve, credentials, proofs, overdue units."),
    "agent": ("qcchain_cli.agent", "agent", "Using unit's sync agent: init, check, run, status, reconcile."),
    "console": ("qcchain_cli.console", "console", "Browser console (B/S): serve, users."),
    "warnings": ("qcchain_cli.iot", "warnings", "Four-colour warnings: list, show, ack, dispose, verify, close."),
    "devices": ("qcchain_cli.iot", "devices", "Monitoring devices: register, list, show, revoke, credentials."),
    "crosschain": ("qcchain_cli.crosschain", "crosschain", "Cross-chain certificates: anchors, export, register/update/remove-source, import, verify, list."),
    "iot": ("qcchain_cli.iot", "iot", "IoT telemetry: simulate a device fleet, run the consumer."),
    "ledger": ("qcchain_cli.ledger", "ledger", "Ledger snapshots, archive, tamper check and recovery (devnet)."),
    "time": ("qcchain_cli.timecheck", "time_group", "Trusted time: every node's clock skew (time check)."),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs and full tracebacks on error.")
@click.version_option(package_name="qcchain")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """qcchain: trusted sharing of special-equipment QC data on Hyperledger Fabric."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    from qcchain_core.logconfig import configure  # graded logs: JSON lines in $QCCHAIN_LOG_DIR (docs/OPERATIONS.md)

    configure(os.environ.get("QCCHAIN_LOG_DIR") or None, process="qcchain", level=logging.DEBUG if verbose else logging.WARNING)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; turn any uncaught error into a one-line message and exit status 1.

    As the ``qcchain`` program (``argv`` None) it first applies the measured gRPC settings of
    :func:`qcchain_core.grpcenv.apply_grpc_tuning` (no command module, hence no ``grpc``, is loaded yet).
    """
    if argv is None:
        from qcchain_core.grpcenv import apply_grpc_tuning

        apply_grpc_tuning()
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args or "--verbose" in args
    try:
        return cli.main(args=args, prog_name="qcchain", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("qcchain: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("qcchain: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the CLI boundary: one line per error
        if verbose:
            raise
        from .errors import one_line

        click.echo(f"qcchain: error: {one_line(exc)} (details: -v)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
