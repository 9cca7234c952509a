"""``qcchain records``: graded QC records — submit, get, query — through a connection profile.

Writes are signed with your org admin's SM2 key (``--key``: a keystore label or a PEM file; one password,
``QCCHAIN_KEYSTORE_PASSWORD`` or ``--password-file``). The grade is decided by the chain's grading policy
unless ``--grade`` asks for a higher one. L1 payloads go to world state, L2/L3 payloads are SM4-GCM
encrypted on this machine with the data key wrapped for every entitled org, L4 sends only the SM3 digest
of the original file (kept off chain). Reads re-verify the SM2 signature and SM3 digests of what they
return and say so in a sentence; a read that returns metadata only says why and what to do.
``--json`` prints JSON. Options may come before or after the sub-command.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from qcchain_model.envelope import STAGES
from qcchain_model.grades import GRADES
from qcchain_model.tables import CATEGORIES
from qcchain_sdk.contracts.sealed import MAX_PAYLOAD, MAX_SEALED_PAYLOAD

from .errors import CliError
from .options import common_options, connect_contract, emit, optional_key, sdk_call, signing_key
from .tables import table
from .timefmt import show_time

log = logging.getLogger(__name__)

#: The largest payload file read: the chain's sealed-payload limit, with room for indentation.
MAX_PAYLOAD_FILE = 2 * MAX_SEALED_PAYLOAD


@click.group()
@common_options()
@click.pass_context
def records(ctx: click.Context) -> None:
    """Graded QC records: submit, get, query (each read re-verified)."""
    ctx.ensure_object(dict)


def _payload(payload: Path | None, original: Path | None, grade: str) -> tuple[dict[str, Any] | None, bytes | None]:
    if grade == "L4":
        if original is None or payload is not None:
            raise CliError("this record is L4 (an original kept off chain): give --original FILE and no --payload")
        return None, original.read_bytes()
    if payload is None or original is not None:
        raise CliError(f"this record is {grade}: give --payload FILE (a JSON object, see examples/) and no --original")
    try:  # the size first: a file larger than any payload the chain accepts is not read at all
        size = payload.stat().st_size
        if size > MAX_PAYLOAD_FILE:
            raise CliError(f"--payload {payload}: {size} bytes; a payload file may have at most {MAX_PAYLOAD_FILE} "
                           f"(the chain accepts {MAX_PAYLOAD} bytes in clear, about 1 MiB encrypted); nothing was sent")
        data = json.loads(payload.read_text(encoding="utf-8"))
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # a lone surrogate (\ud800) parses but cannot be sent
    except UnicodeEncodeError as exc:
        raise CliError(f"--payload {payload}: holds a character that cannot be encoded as UTF-8 "
                       f"({exc.object[exc.start:exc.end]!r}, a lone surrogate escape); fix the file") from exc
    except (OSError, ValueError) as exc:
        raise CliError(f"--payload {payload}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise CliError(f"--payload {payload}: must be a JSON object")
    return data, None


def _meta_lines(meta: dict[str, Any]) -> list[str]:
    keys = ("record_id", "version", "bus_type", "category", "grade", "placement", "owner_msp", "equipment_code",
            "stage", "digest", "tx_id")
    lines = [f"{k}: {meta[k]}" for k in keys if k in meta]
    if "at" in meta:
        lines.append(f"at: {show_time(meta['at'])}")
    return lines


@records.command()
@click.option("--record-id", required=True, help="Your id of the record (e.g. EQ-32019999).")
@click.option("--category", type=click.Choice(CATEGORIES), required=True, help="Data category.")
@click.option("--equipment", "equipment_code", required=True, help="Equipment code (e.g. 32019999).")
@click.option("--stage", type=click.Choice(STAGES), required=True, help="Life-cycle stage of the equipment.")
@click.option("--grade", type=click.Choice(GRADES), default=None,
              help="Ask for a grade above the policy's minimum (default: the minimum the chain decides; lower is refused).")
@click.option("--payload", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="L1-L3: the record as a JSON object (see examples/).")
@click.option("--original", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="L4: the original file (only its SM3 digest goes on chain).")
@click.option("--bus-type", type=click.Choice(["I", "U", "D"]), default="I", show_default=True,
              help="I insert, U update, D delete.")
@click.option("--version", "version", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--exec-type", type=click.Choice(["publish", "share", "report"]), default="publish", show_default=True)
@click.option("--receiver-role", default="", help="Receiver role for --exec-type share/report.")
@common_options()
@click.pass_context
def submit(ctx: click.Context, payload: Path | None, original: Path | None, **fields: Any) -> None:
    """Sign and submit one record version (insert, update or delete)."""
    from qcchain_sdk.actions import minimum_grade, submit_record

    signing = signing_key(ctx, "records submit")
    base = connect_contract(ctx)
    if fields["grade"] is None:
        fields["grade"] = sdk_call(lambda: minimum_grade(base, fields["category"], fields["exec_type"],
                                                         fields["receiver_role"]))
    data, blob = _payload(payload, original, fields["grade"]) if fields["bus_type"] != "D" else ({}, b"")
    try:
        meta = sdk_call(lambda: submit_record(base, signing, payload=data, original=blob, **fields))
    except (ValueError, LookupError) as exc:  # an invalid record: nothing was sent
        raise CliError(str(exc)) from exc
    emit(ctx, meta, lambda m: [f"submitted {m['record_id']} v{m['version']} as {m['grade']} "
                               f"({m['placement']}) in tx {m['tx_id'][:16]}…"] + _meta_lines(m))


def _records_contract(ctx: click.Context) -> Any:
    from qcchain_sdk.actions import NamedContract

    return NamedContract(connect_contract(ctx), "records")


def verify_read(ctx: click.Context, view: dict[str, Any]) -> list[str]:
    """Problems of a record view re-verified against the submitter's registered key ([] = all hold)."""
    from qcchain_sdk.actions import verify_read as verify

    base = connect_contract(ctx)
    return sdk_call(lambda: verify(base, view))  # type: ignore[no-any-return]


def verdict(view: dict[str, Any], problems: list[str]) -> str:
    """The verification result as a sentence."""
    if problems:
        return f"NOT verified: {'; '.join(problems)}"
    what = "SM2 signature, SM3 digest" + (" and ciphertext digest" if view.get("ciphertext") else "")
    return f"verified: {what} hold for the key {view['owner_msp']} registered ({view['key_id'][:16]}…)"


def explain_access(view: dict[str, Any], has_key: bool) -> list[str]:
    """Why a read shows no payload, and what to do about it."""
    rid, owner, grade = view["record_id"], view["owner_msp"], view["grade"]
    if "payload" in view:
        return []
    if view.get("deleted"):
        return ["payload: none (the record was deleted)"]
    if grade == "L4":
        return [f"payload: the original is kept off chain by {owner}; prove a copy with `--original FILE`, or ask "
                f"for it with `qcchain sharing request {owner} --scope record:{rid} --purpose inspection` "
                "(each access is logged)"]
    if view.get("access") == "metadata":
        return [f"payload: not shown — {grade} data is for its grade's audience and grantees only, and you hold no "
                f"grant. Ask the owner: `qcchain sharing request {owner} --scope record:{rid} --purpose <purpose>`"]
    if view.get("access") == "grant":
        return [f"payload: you hold a grant; read it with `qcchain sharing access {rid} --purpose <purpose> --key "
                "<your key>` (the access is logged)"]
    if view.get("ciphertext") and not has_key:
        return [f"payload: encrypted ({grade}); give `--key <your key>` to decrypt it with your org's SM2 key"]
    return []


@records.command()
@click.argument("record_id")
@click.option("--original", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An L4 original to prove against the on-chain digest.")
@common_options()
@click.pass_context
def get(ctx: click.Context, record_id: str, original: Path | None) -> None:
    """Read a record as you are entitled to see it, re-verified; exit 1 on any mismatch.

    With --key (your SM2 key) an L3 payload wrapped for your org is decrypted."""
    from qcchain_sdk.contracts.records import RecordsClient, decrypt_view

    client = RecordsClient(_records_contract(ctx))
    view = sdk_call(lambda: client.get(record_id))
    problems = verify_read(ctx, view)
    key = optional_key(ctx)
    if key is not None and view.get("ciphertext") and view.get("wrapped_key"):
        try:
            view["payload"] = decrypt_view(view, view["wrapped_key"]["wrapped"], key)
        except ValueError as exc:
            problems.append(f"L3 payload does not decrypt/verify with this key: {exc}")
    if original is not None:
        proof = sdk_call(lambda: client.verify_original(record_id, original.read_bytes()))
        view["original_matches"] = proof["match"]
        if not proof["match"]:
            problems.append(f"{original} does not match the on-chain digest")
    view["verified"] = "ok" if not problems else problems

    def human(v: dict[str, Any]) -> list[str]:
        lines = _meta_lines(v)
        if "payload" in v:
            lines.append(f"payload: {json.dumps(v['payload'], ensure_ascii=False)}")
        lines += explain_access(v, key is not None)
        if original is not None and v.get("original_matches"):
            lines.append(f"original: {original} matches the on-chain SM3 digest")
        return lines + [verdict(v, problems)]

    emit(ctx, view, human)
    if problems:
        raise CliError(f"record {record_id} failed re-verification: {problems[0]}")


@records.command()
@click.argument("index", type=click.Choice(["equipment", "category", "stage"]))
@click.argument("value")
@click.option("--page-size", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--bookmark", default="", help="Continue after the page that printed this bookmark.")
@common_options()
@click.pass_context
def query(ctx: click.Context, index: str, value: str, page_size: int, bookmark: str) -> None:
    """One page of records by equipment code, category or stage, each re-verified (a table)."""
    from qcchain_sdk.contracts.records import RecordsClient

    client = RecordsClient(_records_contract(ctx))
    page = sdk_call(lambda: client.query(index, value, page_size, bookmark))
    bad = []
    for view in page["records"]:
        problems = verify_read(ctx, view)
        view["verified"] = "ok" if not problems else problems
        bad += problems
    columns = [("record", lambda v: v["record_id"]), ("version", lambda v: v["version"]),
               ("category", lambda v: v["category"]), ("grade", lambda v: v["grade"]),
               ("owner", lambda v: v["owner_msp"]), ("you see", lambda v: "payload" if "payload" in v else
                                                     "ciphertext" if v.get("ciphertext") else "metadata"),
               ("verified", lambda v: "yes" if v["verified"] == "ok" else "MISMATCH")]
    emit(ctx, page, lambda p: table(p["records"], columns, "(no record)")
         + [f"more: --bookmark {p['bookmark']}" if p["bookmark"] else "(last page)"])
    if bad:
        raise CliError(f"{len(bad)} mismatch(es): {bad[0]}")


