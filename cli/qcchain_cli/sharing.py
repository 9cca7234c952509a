"""``qcchain sharing``: sharing grants (request, approve, reject, revoke, grant, access, list, check).

Every command talks to the ``sharing`` contract of the ``qcchain`` chaincode through a connection
profile (``--profile``, ``--user``, ``--channel``). Writes are signed with the org's SM2 signing key
(``--key``: PEM file; password from the environment variable named by ``--key-password-env``, read
here at the entry point). Results are printed as JSON.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable

import click

from qcchain_model.grades import GRADES

from .errors import CliError
from .records import load_key

log = logging.getLogger(__name__)


def _connect(ctx: click.Context) -> Any:
    """The ``sharing`` Contract for the group options (test hook: ``obj["contract_factory"]``)."""
    obj = ctx.obj
    factory: Callable[[], Any] | None = obj.get("contract_factory")
    if factory is not None:
        return factory()
    if obj["profile"] is None:
        raise CliError("--profile is required (a connection profile JSON written by the devnet or the network generator)")
    from qcchain_gateway.profile import connect_profile

    gateway = connect_profile(obj["profile"], user=obj["user"])
    ctx.call_on_close(gateway.close)
    return gateway.get_network(obj["channel"]).get_contract(obj["chaincode"])


def _client(ctx: click.Context) -> Any:
    from qcchain_sdk.contracts.sharing import SharingClient

    obj = ctx.obj
    if obj["key"] is None:
        raise CliError("--key is required for writes (the org's SM2 signing key, PEM)")
    return SharingClient.with_key(_connect(ctx), load_key(obj["key"], obj["key_password_env"]))


def _run(call: Callable[[], Any]) -> None:
    """Run an SDK call; print its result as JSON; gateway errors become one-line CLI errors."""
    from qcchain_gateway.errors import SdkError

    try:
        result = call()
    except SdkError as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))


def _scope(value: str) -> tuple[str, str]:
    kind, sep, target = value.partition(":")
    if not sep or kind not in ("record", "category", "equipment") or not target:
        raise click.BadParameter(f"{value!r}: expected record:<id>, category:<name> or equipment:<code>")
    return kind, target


def _wrapped(path: Path | None) -> list[dict[str, str]] | None:
    if path is None:
        return None
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read wrapped keys from {path}: {exc}") from exc
    if not isinstance(items, list):
        raise CliError(f"{path}: expected a JSON list of {{record_id, key_id, wrapped_key}}")
    return items


def _expiry(expires_at: int | None, days: float) -> int:
    return expires_at if expires_at is not None else int(time.time() + days * 86400)


@click.group()
@click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Connection profile JSON of your org.")
@click.option("--user", default="Admin", show_default=True, help="User of the profile's org.")
@click.option("--channel", default="qcchannel", show_default=True)
@click.option("--chaincode", default="qcchain", show_default=True)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="SM2 signing key (PKCS#8 PEM) registered for your org.")
@click.option("--key-password-env", default="QCCHAIN_KEY_PASSWORD", show_default=True,
              help="Environment variable holding the key file's password.")
@click.pass_context
def sharing(ctx: click.Context, **options: Any) -> None:
    """Sharing grants: request, approve, reject, revoke, grant, access, list, check."""
    ctx.ensure_object(dict)
    for name, value in options.items():
        ctx.obj.setdefault(name, value)


def _terms(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--scope", required=True, help="record:<id> | category:<name> | equipment:<code>"),
        click.option("--max-grade", type=click.Choice(GRADES), required=True),
        click.option("--purpose", required=True, help="One of the purposes of the sharing policy."),
        click.option("--expires-at", type=int, default=None, help="Expiry, seconds since the epoch."),
        click.option("--days", type=click.FloatRange(min=0.0, min_open=True), default=30.0, show_default=True,
                     help="Expiry in days from now (if --expires-at is not given)."),
        click.option("--max-uses", type=click.IntRange(min=1), default=None),
        click.option("--grant-id", default=None, help="Grant id (default: random)."),
    ]):
        func = option(func)
    return func


@sharing.command()
@click.argument("owner_msp")
@_terms
@click.pass_context
def request(ctx: click.Context, owner_msp: str, scope: str, max_grade: str, purpose: str, expires_at: int | None,
            days: float, max_uses: int | None, grant_id: str | None) -> None:
    """Ask OWNER_MSP for a grant (you are the grantee)."""
    client = _client(ctx)
    _run(lambda: client.request(owner_msp, _scope(scope), max_grade, purpose, _expiry(expires_at, days), max_uses, grant_id))


@sharing.command()
@click.argument("grantee_msp")
@_terms
@click.option("--wrapped-keys", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSON list of L3 data keys wrapped for the grantee.")
@click.pass_context
def grant(ctx: click.Context, grantee_msp: str, scope: str, max_grade: str, purpose: str, expires_at: int | None,
          days: float, max_uses: int | None, grant_id: str | None, wrapped_keys: Path | None) -> None:
    """Grant GRANTEE_MSP access directly (you are the owner)."""
    client = _client(ctx)
    _run(lambda: client.grant(grantee_msp, _scope(scope), max_grade, purpose, _expiry(expires_at, days), max_uses,
                              grant_id, _wrapped(wrapped_keys)))


@sharing.command()
@click.argument("grant_id")
@click.option("--wrapped-keys", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--reason", default="")
@click.pass_context
def approve(ctx: click.Context, grant_id: str, wrapped_keys: Path | None, reason: str) -> None:
    """Approve a requested grant (owner)."""
    client = _client(ctx)
    _run(lambda: client.approve(grant_id, _wrapped(wrapped_keys), reason))


@sharing.command()
@click.argument("grant_id")
@click.option("--reason", default="")
@click.pass_context
def reject(ctx: click.Context, grant_id: str, reason: str) -> None:
    """Reject a requested grant (owner)."""
    client = _client(ctx)
    _run(lambda: client.reject(grant_id, reason))


@sharing.command()
@click.argument("grant_id")
@click.option("--reason", default="")
@click.pass_context
def revoke(ctx: click.Context, grant_id: str, reason: str) -> None:
    """Revoke a grant (owner or grantee)."""
    client = _client(ctx)
    _run(lambda: client.revoke(grant_id, reason))


@sharing.command()
@click.argument("record_id")
@click.option("--purpose", required=True)
@click.pass_context
def access(ctx: click.Context, record_id: str, purpose: str) -> None:
    """Logged access to an L3/L4 record under a grant or supervision."""
    client = _client(ctx)
    _run(lambda: client.access(record_id, purpose))


@sharing.command(name="list")
@click.option("--status", type=click.Choice(["", "requested", "approved", "rejected", "revoked"]), default="")
@click.pass_context
def list_(ctx: click.Context, status: str) -> None:
    """Grants you are party to (all of them for the regulator)."""
    from qcchain_sdk.contracts.sharing import SharingClient

    client = SharingClient(_connect(ctx), "", lambda _: b"")
    _run(lambda: client.list_grants(status))


@sharing.command()
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 if the check finds anything (for periodic jobs).")
@click.pass_context
def check(ctx: click.Context, fail_on_findings: bool) -> None:
    """T-9.1.2 sharing check: expired, above-policy, revoked-key and never-used grants."""
    from qcchain_sdk.contracts.sharing import SharingClient

    client = SharingClient(_connect(ctx), "", lambda _: b"")
    report: dict[str, Any] = {}
    _run(lambda: report.update(client.check()) or report)
    if fail_on_findings and report.get("findings"):
        raise CliError(f"sharing check: {len(report['findings'])} finding(s)")
