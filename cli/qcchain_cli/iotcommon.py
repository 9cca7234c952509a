"""Helpers shared by the ``qcchain warnings`` / ``devices`` / ``iot`` command modules (:mod:`qcchain_cli.iot`,
:mod:`qcchain_cli.warnings_remind`): the chain options, the contract provider, JSON output with one-line
errors, step evidence and the warnings policy file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import click
import yaml

from .errors import CliError

__all__ = ["ROOT", "_chain_options", "_setup", "_connect", "_run", "_evidence", "_policy", "_wclient"]

ROOT = Path(__file__).resolve().parents[2]


def _chain_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Connection profile JSON of your org."),
        click.option("--user", default="Admin", show_default=True, help="User of the profile's org."),
        click.option("--channel", default="qcchannel", show_default=True),
        click.option("--chaincode", default="qcchain", show_default=True),
    ]):
        func = option(func)
    return click.pass_context(func)


def _setup(ctx: click.Context, options: dict[str, Any]) -> None:
    ctx.ensure_object(dict)
    for name, value in options.items():
        ctx.obj.setdefault(name, value)


def _profile_contract(ctx: click.Context, name: str) -> Any:
    """The group's own contract provider: a Gateway connection from ``--profile``/``--user`` on ``--channel``.

    Raises: CliError (no --profile).
    """
    obj = ctx.obj
    if obj.get("profile") is None:
        raise CliError("--profile is required (a connection profile JSON written by the devnet or the network generator)")
    from qcchain_gateway.profile import connect_profile

    gateway = connect_profile(obj["profile"], user=obj["user"])
    ctx.find_root().call_on_close(gateway.close)
    return gateway.get_network(obj["channel"]).get_contract(name)


def _connect(ctx: click.Context) -> Any:
    """The chaincode's Contract from the provider injected as ``obj["contract_provider"]`` (``provider(ctx,
    chaincode)``, as in :func:`qcchain_cli.options.connect_contract`), by default a profile connection.

    Raises: CliError (no --profile).
    """
    provider = ctx.obj.get("contract_provider", _profile_contract)
    return provider(ctx, ctx.obj["chaincode"])


def _run(call: Callable[[], Any]) -> None:
    """Run an SDK call and print its JSON; gateway errors become one-line CLI errors."""
    from qcchain_gateway.errors import SdkError

    try:
        result = call()
    except SdkError as exc:
        raise CliError(" ".join(str(exc).split())) from exc   # the chaincode's message on one line
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))


def _evidence(note: str | None, digests: tuple[str, ...], files: tuple[Path, ...]) -> dict[str, Any]:
    all_digests = list(digests) + [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    if note is None and not all_digests:
        return {}
    if not note:
        raise CliError("--note is required with evidence")
    return {"note": note, "digests": all_digests}


def _wclient(ctx: click.Context) -> Any:
    from qcchain_sdk.contracts.warnings import WarningsClient

    return WarningsClient(_connect(ctx))


def _policy(path: Path) -> Any:
    from qcchain_iot.errors import PolicyError
    from qcchain_iot.policy import parse_policy

    try:
        return parse_policy(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read the warnings policy {path}: {exc}") from exc
    except PolicyError as exc:
        raise CliError(f"{path}: " + "; ".join(exc.problems)) from exc
