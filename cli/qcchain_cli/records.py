"""``qcchain records``: graded QC records — submit, get, query — through a connection profile.

Writes are signed with the org's SM2 signing key (``--key``, PKCS#8 PEM; password from the environment
variable named by ``--key-password-env``). L1/L2 payloads go to world state, L3 payloads are SM4-GCM
encrypted on this machine and sent as transient data with the data key wrapped for every entitled org
(read from the chain), L4 sends only the SM3 digest of the original file (kept off chain). Reads
re-verify the SM2 signature and SM3 digests of what they return. ``--json`` prints JSON.

The connection helpers here (``connect_contract``, ``load_key``, ``emit``) are shared with ``audit``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import click

from qcchain_model.envelope import STAGES
from qcchain_model.grades import GRADES

from .errors import CliError

log = logging.getLogger(__name__)


def load_key(path: Path, password_env: str) -> Any:
    """The SM2 private key in ``path``. Raises CliError (unreadable, not SM2, wrong password)."""
    from qcchain_core.errors import InvalidKey
    from qcchain_core.gm import SM2PrivateKey

    password = os.environ.get(password_env)
    try:
        return SM2PrivateKey.from_pem(path.read_bytes(), password.encode() if password else None)
    except OSError as exc:
        raise CliError(f"cannot read SM2 key file {path}: {exc.strerror or exc}") from exc
    except InvalidKey as exc:
        raise CliError(f"{path} is not an SM2 private key (or ${password_env} is wrong): {exc}") from exc


def connect_contract(ctx: click.Context, chaincode: str | None = None) -> Any:
    """A Contract of the group's profile/user/channel (test hook: ``obj["contract_factory"](chaincode)``).

    Raises: CliError (no profile), the SDK's ProfileError / IdentityError.
    """
    obj = ctx.obj
    name = chaincode or obj["chaincode"]
    factory: Callable[[str], Any] | None = obj.get("contract_factory")
    if factory is not None:
        return factory(name)
    if obj.get("profile") is None:
        raise CliError("--profile is required (a connection profile JSON written by the devnet or the network generator)")
    from qcchain_gateway.profile import connect_profile

    if "gateway" not in obj:
        obj["gateway"] = connect_profile(obj["profile"], user=obj["user"])
        ctx.call_on_close(obj["gateway"].close)
    return obj["gateway"].get_network(obj["channel"]).get_contract(name)


def emit(ctx: click.Context, result: Any, human: Callable[[Any], list[str]]) -> None:
    """Print ``result`` as JSON (``--json``) or as the lines ``human`` makes of it."""
    if ctx.obj.get("json"):
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        for line in human(result):
            click.echo(line)


def sdk_call(call: Callable[[], Any]) -> Any:
    """Run an SDK call; gateway errors become one-line CLI errors."""
    from qcchain_gateway.errors import SdkError

    try:
        return call()
    except SdkError as exc:
        raise CliError(" ".join(str(exc).split())) from exc


def group_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--profile --user --channel --chaincode --json`` for a command group."""
    for option in reversed([
        click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                     help="Connection profile JSON of your org."),
        click.option("--user", default="Admin", show_default=True, help="User of the profile's org."),
        click.option("--channel", default="qcchannel", show_default=True),
        click.option("--chaincode", default="qcchain", show_default=True),
        click.option("--json", "json_output", is_flag=True, help="Print JSON."),
    ]):
        func = option(func)
    return func


def store_options(ctx: click.Context, options: dict[str, Any]) -> None:
    ctx.ensure_object(dict)
    options["json"] = options.pop("json_output")
    for name, value in options.items():
        ctx.obj.setdefault(name, value)


@click.group()
@group_options
@click.pass_context
def records(ctx: click.Context, **options: Any) -> None:
    """Graded QC records: submit, get, query."""
    store_options(ctx, options)


def _payload(payload: Path | None, original: Path | None, grade: str) -> tuple[dict[str, Any] | None, bytes | None]:
    if grade == "L4":
        if original is None or payload is not None:
            raise CliError("an L4 record takes --original FILE (kept off chain) and no --payload")
        return None, original.read_bytes()
    if payload is None or original is not None:
        raise CliError(f"an {grade} record takes --payload FILE (JSON object) and no --original")
    try:
        data = json.loads(payload.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"--payload {payload}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise CliError(f"--payload {payload}: must be a JSON object")
    return data, None


def _meta_lines(meta: dict[str, Any]) -> list[str]:
    keys = ("record_id", "version", "bus_type", "category", "grade", "placement", "owner_msp", "equipment_code",
            "stage", "digest", "tx_id", "access", "verified")
    return [f"{k}: {meta[k]}" for k in keys if k in meta]


@records.command()
@click.option("--record-id", required=True)
@click.option("--category", required=True, help="Data category (see `grading:categories`).")
@click.option("--equipment", "equipment_code", required=True, help="Equipment code.")
@click.option("--stage", type=click.Choice(STAGES), required=True)
@click.option("--grade", type=click.Choice(GRADES), required=True)
@click.option("--payload", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--original", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Your org's registered SM2 signing key (PKCS#8 PEM).")
@click.option("--key-password-env", default="QCCHAIN_KEY_PASSWORD", show_default=True)
@click.option("--bus-type", type=click.Choice(["I", "U", "D"]), default="I", show_default=True)
@click.option("--version", "version", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--exec-type", default="publish", show_default=True)
@click.option("--receiver-role", default="")
@click.pass_context
def submit(ctx: click.Context, key: Path, key_password_env: str, payload: Path | None, original: Path | None,
           **fields: Any) -> None:
    """Sign and submit one record version (insert, update or delete)."""
    from qcchain_sdk.actions import submit_record

    signing_key = load_key(key, key_password_env)
    data, blob = _payload(payload, original, fields["grade"]) if fields["bus_type"] != "D" else ({}, b"")
    base = connect_contract(ctx)
    try:
        meta = sdk_call(lambda: submit_record(base, signing_key, payload=data, original=blob, **fields))
    except (ValueError, LookupError) as exc:  # RecipientError, an invalid record: nothing was sent
        raise CliError(str(exc)) from exc
    emit(ctx, meta, _meta_lines)


def _records_contract(ctx: click.Context) -> Any:
    """The ``records`` contract (named-contract view of the same chaincode)."""
    from qcchain_sdk.actions import NamedContract

    return NamedContract(connect_contract(ctx), "records")


def verify_read(ctx: click.Context, view: dict[str, Any]) -> list[str]:
    """Re-verify a record view against the submitter's registered key: key id = SM3 of it, the key is the
    owner org's, signature and digests hold. Only a 404 from ``keys:get`` means "not registered"; any other
    read failure is reported as an error by ``sdk_call``."""
    from qcchain_sdk.actions import verify_read as verify

    base = connect_contract(ctx)
    return sdk_call(lambda: verify(base, view))  # type: ignore[no-any-return]


@records.command()
@click.argument("record_id")
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Your org's SM2 encryption key, to decrypt an L3 payload wrapped for it.")
@click.option("--key-password-env", default="QCCHAIN_KEY_PASSWORD", show_default=True)
@click.option("--original", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An L4 original to prove against the on-chain digest.")
@click.pass_context
def get(ctx: click.Context, record_id: str, key: Path | None, key_password_env: str, original: Path | None) -> None:
    """Read a record as you are entitled to see it, re-verified; exit 1 on any mismatch."""
    from qcchain_sdk.contracts.records import RecordsClient, decrypt_view

    client = RecordsClient(_records_contract(ctx))
    view = sdk_call(lambda: client.get(record_id))
    problems = verify_read(ctx, view)
    if key is not None and view.get("ciphertext") and view.get("wrapped_key"):
        try:
            view["payload"] = decrypt_view(view, view["wrapped_key"]["wrapped"], load_key(key, key_password_env))
        except ValueError as exc:
            problems.append(f"L3 payload does not decrypt/verify: {exc}")
    if original is not None:
        proof = sdk_call(lambda: client.verify_original(record_id, original.read_bytes()))
        view["original_matches"] = proof["match"]
        if not proof["match"]:
            problems.append(f"{original} does not match the on-chain digest")
    view["verified"] = "ok" if not problems else problems
    emit(ctx, view, lambda v: _meta_lines(v) + ([f"payload: {json.dumps(v['payload'], ensure_ascii=False)}"]
                                                if "payload" in v else []))
    if problems:
        raise CliError(f"record {record_id} failed re-verification: {problems[0]}")


@records.command()
@click.argument("index", type=click.Choice(["equipment", "category", "stage"]))
@click.argument("value")
@click.option("--page-size", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--bookmark", default="")
@click.pass_context
def query(ctx: click.Context, index: str, value: str, page_size: int, bookmark: str) -> None:
    """One page of records by equipment code, category or stage, each re-verified."""
    from qcchain_sdk.contracts.records import RecordsClient

    client = RecordsClient(_records_contract(ctx))
    page = sdk_call(lambda: client.query(index, value, page_size, bookmark))
    bad = []
    for view in page["records"]:
        problems = verify_read(ctx, view)
        view["verified"] = "ok" if not problems else problems
        bad += problems
    emit(ctx, page, lambda p: [f"{v['record_id']} v{v['version']} {v['category']} {v['grade']} {v['owner_msp']} "
                               f"verified={v['verified'] if v['verified'] == 'ok' else 'MISMATCH'}" for v in p["records"]]
         + [f"bookmark: {p['bookmark']}" if p["bookmark"] else "(last page)"])
    if bad:
        raise CliError(f"{len(bad)} mismatch(es): {bad[0]}")
