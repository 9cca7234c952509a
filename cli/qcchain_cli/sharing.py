"""``qcchain sharing``: sharing grants — request, approve, reject, revoke, grant, access, list, check.

Every command talks to the ``sharing`` contract of the ``qcchain`` chaincode through a connection profile
(``--profile``). Writes are signed with your org admin's SM2 key (``--key``: keystore label or PEM file).
For L3 records the data key is wrapped for the grantee inside ``grant`` and ``approve`` (the owner's key
unwraps it, the grantee's registered encryption key receives it); ``access --key`` decrypts an L3 payload
under a grant. Expiry is a duration (``--expires-in 30d``) or an ISO-8601 time (``--expires-at``).
Results are sentences and tables; ``--json`` prints JSON. Options may come before or after the sub-command.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Callable

import click

from qcchain_model.grades import GRADES

from .errors import CliError
from .options import common_options, connect_contract, emit, optional_key, sdk_call, signing_key
from .tables import table
from .timefmt import Duration, When, show_time

log = logging.getLogger(__name__)

#: the purposes of the shipped sharing policy (policies/sharing.yaml; tests/cli keeps them equal)
PURPOSES = ("inspection", "maintenance", "supervision", "audit", "accident_investigation", "emergency",
            "insurance", "research")
BROAD_SCOPE_GRADE = "L3"


def _client(ctx: click.Context, write: bool = True) -> Any:
    from qcchain_sdk.contracts.sharing import SharingClient

    if not write:
        return SharingClient(connect_contract(ctx), "", lambda _: b"")
    return SharingClient.with_key(connect_contract(ctx), signing_key(ctx, "sharing writes"))


def _scope(value: str) -> tuple[str, str]:
    kind, sep, target = value.partition(":")
    if not sep or kind not in ("record", "category", "equipment") or not target:
        raise click.BadParameter(f"{value!r}: expected record:<id>, category:<name> or equipment:<code>",
                                 param_hint="--scope")
    return kind, target


def _max_grade(ctx: click.Context, scope: tuple[str, str], given: str | None) -> str:
    """``--max-grade``, else the record's own grade (record scope), else the broad-scope ceiling L3."""
    if given:
        return given
    if scope[0] != "record":
        return BROAD_SCOPE_GRADE
    from qcchain_sdk.actions import NamedContract
    from qcchain_sdk.contracts.records import RecordsClient

    records = RecordsClient(NamedContract(connect_contract(ctx), "records"))
    return str(sdk_call(lambda: records.get(scope[1]))["grade"])


def _expiry(expires_at: int | None, expires_in: int) -> int:
    return expires_at if expires_at is not None else int(time.time()) + expires_in


def _grant_line(g: dict[str, Any]) -> str:
    scope = f"{g['scope']['type']}:{g['scope']['value']}"
    uses = f", used {g.get('uses', 0)}/{g['max_uses'] or '∞'}" if g.get("max_uses") or g.get("uses") else ""
    return (f"grant {g['grant_id']} is {g['status']}: {g['owner_msp']} → {g['grantee_msp']}, {scope} up to "
            f"{g['max_grade']}, purpose {g['purpose']}, expires {show_time(g['expires_at'])}{uses}")


GRANT_COLUMNS = [("grant", lambda g: g["grant_id"]), ("status", lambda g: g["status"]),
                 ("owner", lambda g: g["owner_msp"]), ("grantee", lambda g: g["grantee_msp"]),
                 ("scope", lambda g: f"{g['scope']['type']}:{g['scope']['value']}"),
                 ("max", lambda g: g["max_grade"]), ("purpose", lambda g: g["purpose"]),
                 ("uses", lambda g: f"{g.get('uses', 0)}/{g.get('max_uses') or '∞'}"),
                 ("expires", lambda g: show_time(g["expires_at"]))]


@click.group()
@common_options()
@click.pass_context
def sharing(ctx: click.Context) -> None:
    """Sharing grants: request, approve, reject, revoke, grant, access, list, check."""
    ctx.ensure_object(dict)


def _terms(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--scope", required=True, help="record:<id> | category:<name> | equipment:<code>"),
        click.option("--max-grade", type=click.Choice(GRADES), default=None,
                     help="Highest grade covered [default: the record's grade; L3 for category/equipment scopes]."),
        click.option("--purpose", type=click.Choice(PURPOSES), required=True, help="Why the data is needed."),
        click.option("--expires-in", type=Duration(minimum=60), default="30d", show_default=True,
                     help="Validity from now: 3d, 12h, 900s …"),
        click.option("--expires-at", type=When(), default=None,
                     help="Expiry as an ISO-8601 time (Asia/Shanghai unless an offset is given); overrides --expires-in."),
        click.option("--max-uses", type=click.IntRange(min=1), default=None, help="Number of accesses allowed [default: no limit]."),
        click.option("--grant-id", default=None, help="Grant id [default: random g-…]."),
    ]):
        func = option(func)
    return common_options()(func)


@sharing.command()
@click.argument("owner_msp")
@_terms
@click.pass_context
def request(ctx: click.Context, owner_msp: str, scope: str, max_grade: str | None, purpose: str,
            expires_in: int, expires_at: int | None, max_uses: int | None, grant_id: str | None) -> None:
    """Ask OWNER_MSP (e.g. UsingUnitMSP) for a grant; you are the grantee."""
    where = _scope(scope)
    grade = _max_grade(ctx, where, max_grade)
    client = _client(ctx)
    result = sdk_call(lambda: client.request(owner_msp, where, grade, purpose, _expiry(expires_at, expires_in),
                                             max_uses, grant_id))
    emit(ctx, result, lambda g: [_grant_line(g), f"next: {owner_msp}'s admin runs `qcchain sharing approve "
                                                 f"{g['grant_id']}` (or reject)"])


def _wrapped(ctx: click.Context, client: Any, grantee: str, scope: tuple[str, str], grade: str) -> list[dict[str, str]]:
    from qcchain_sdk.grantkeys import wrapped_keys_for_grant

    key = signing_key(ctx, "sharing writes")
    return sdk_call(lambda: wrapped_keys_for_grant(connect_contract(ctx), key, grantee, scope, grade))  # type: ignore[no-any-return]


@sharing.command()
@click.argument("grantee_msp")
@_terms
@click.pass_context
def grant(ctx: click.Context, grantee_msp: str, scope: str, max_grade: str | None, purpose: str,
          expires_in: int, expires_at: int | None, max_uses: int | None, grant_id: str | None) -> None:
    """Grant GRANTEE_MSP access directly (you are the owner); L3 data keys are wrapped for it here."""
    where = _scope(scope)
    grade = _max_grade(ctx, where, max_grade)
    client = _client(ctx)
    keys = _wrapped(ctx, client, grantee_msp, where, grade)
    result = sdk_call(lambda: client.grant(grantee_msp, where, grade, purpose, _expiry(expires_at, expires_in),
                                           max_uses, grant_id, keys))
    emit(ctx, result, lambda g: [_grant_line(g)] + ([f"{len(keys)} L3 data key(s) wrapped for {grantee_msp}"] if keys else []))


@sharing.command()
@click.argument("grant_id")
@click.option("--reason", default="", help="Why (recorded on chain).")
@common_options()
@click.pass_context
def approve(ctx: click.Context, grant_id: str, reason: str) -> None:
    """Approve a requested grant (owner); L3 data keys in its scope are wrapped for the grantee here."""
    client = _client(ctx)
    pending = sdk_call(lambda: client.get(grant_id))
    where = (pending["scope"]["type"], pending["scope"]["value"])
    keys = _wrapped(ctx, client, pending["grantee_msp"], where, pending["max_grade"]) if pending["status"] == "requested" else []
    result = sdk_call(lambda: client.approve(grant_id, keys, reason))
    emit(ctx, result, lambda g: [_grant_line(g)] + ([f"{len(keys)} L3 data key(s) wrapped for {g['grantee_msp']}"] if keys else []))


def _decision(name: str, doc: str) -> click.Command:
    @click.argument("grant_id")
    @click.option("--reason", default="", help="Why (recorded on chain).")
    @common_options()
    @click.pass_context
    def command(ctx: click.Context, grant_id: str, reason: str) -> None:
        client = _client(ctx)
        result = sdk_call(lambda: getattr(client, name)(grant_id, reason))
        emit(ctx, result, lambda g: [_grant_line(g)])

    command.__doc__ = doc
    return click.command(name)(command)


sharing.add_command(_decision("reject", "Reject a requested grant (owner)."))
sharing.add_command(_decision("revoke", "Revoke a grant (owner or grantee)."))


@sharing.command()
@click.argument("record_id")
@click.option("--purpose", type=click.Choice(PURPOSES), required=True, help="Why you read it (must match your grant).")
@common_options()
@click.pass_context
def access(ctx: click.Context, record_id: str, purpose: str) -> None:
    """Logged access to an L2/L3/L4 record under a grant or supervision; an L3 payload is decrypted with --key."""
    from qcchain_sdk.grantkeys import open_access

    client = _client(ctx)
    key = optional_key(ctx)
    try:
        result = sdk_call(lambda: open_access(connect_contract(ctx), client, record_id, purpose, key))
    except ValueError as exc:
        raise CliError(f"record {record_id}: the payload does not decrypt/verify with this key: {exc}") from exc

    def human(r: dict[str, Any]) -> list[str]:
        e = r["entry"]
        lines = [f"access to {record_id} logged for {e['reader_msp']} (basis {e['basis']}"
                 f"{', grant ' + e['grant_id'] if e.get('grant_id') else ''}, purpose {purpose}) in tx {e['tx_id'][:16]}…"]
        if "payload" in r:
            lines.append(f"payload: {json.dumps(r['payload'], ensure_ascii=False)}")
        elif r["record"].get("grade") == "L4":
            lines.append(f"the original stays with {r['record']['owner_msp']}: obtain it from them and prove it with "
                         f"`qcchain records get {record_id} --original FILE`")
        elif r.get("wrapped_key") and key is None:
            lines.append("payload: give --key <your key> to decrypt it (the data key is wrapped for your org)")
        return lines

    emit(ctx, result, human)


@sharing.command(name="list")
@click.option("--status", type=click.Choice(["requested", "approved", "rejected", "revoked"]), default=None,
              help="Only grants in this status [default: all].")
@common_options()
@click.pass_context
def list_(ctx: click.Context, status: str | None) -> None:
    """Grants and requests you are party to (all of them for the regulator), as a table."""
    client = _client(ctx, write=False)
    grants = sdk_call(lambda: client.list_grants(status or ""))
    emit(ctx, grants, lambda gs: table(gs, GRANT_COLUMNS, "(no grant)"))


@sharing.command()
@click.option("--fail-on-findings", is_flag=True, help="Exit 1 if the check finds anything (for periodic jobs).")
@common_options()
@click.pass_context
def check(ctx: click.Context, fail_on_findings: bool) -> None:
    """T-9.1.2 sharing check (requirement T-9.1.2: periodic review of grants): expired, above-policy,
    revoked-key and never-used grants."""
    client = _client(ctx, write=False)
    report = sdk_call(client.check)
    columns = [(k, lambda f, k=k: f.get(k)) for k in ("grant_id", "issue", "detail")]
    emit(ctx, report, lambda r: [f"checked {r.get('grants')} grant(s) at {show_time(r.get('checked_at'))}: "
                                 f"{len(r['findings'])} finding(s)"]
         + (table(r["findings"], columns) if r["findings"] else []))
    if fail_on_findings and report.get("findings"):
        raise CliError(f"sharing check: {len(report['findings'])} finding(s)")
