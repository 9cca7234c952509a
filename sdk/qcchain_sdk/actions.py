"""Business steps shared by every front end (the ``qcchain`` CLI, the console, the ingestion server).

Each function is one complete step over a chaincode's default contract (a
:class:`~qcchain_sdk.contractlike.ContractLike`): the front end parses its input, calls one function here
and shows the result. Nothing here reads files, environment variables or prompts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey

from .contractlike import ContractLike, Evaluator
from .contracts.records import RecordsClient, build_record, sealing_plan
from .contracts.sealed import MAX_PAYLOAD, MAX_SEALED_PAYLOAD
from .contracts.verify import read_key_record, verify_record_view
from .errors import NotMemberError, PackageMismatch, RecipientError

log = logging.getLogger(__name__)

__all__ = ["NamedContract", "check_package", "minimum_grade", "submit_record", "verify_read", "whoami"]


class NamedContract:
    """A view of a chaincode's default contract that prefixes every call with ``<name>:`` (the chaincode's
    named contract), for a Gateway ``Contract`` and for test doubles alike."""

    def __init__(self, contract: ContractLike, name: str) -> None:
        self.contract, self.name = contract, name
        self.channel = getattr(contract, "channel", "")

    def evaluate_transaction(self, fn: str, *args: str | bytes) -> bytes:
        """``<name>:<fn>(*args)`` evaluated. Raises: as the wrapped contract."""
        return bytes(self.contract.evaluate_transaction(f"{self.name}:{fn}", *args))

    def submit_transaction(self, fn: str, *args: str | bytes, transient: dict[str, bytes] | None = None,
                           **options: Any) -> bytes:
        """``<name>:<fn>(*args)`` submitted. Raises: as the wrapped contract."""
        return bytes(self.contract.submit_transaction(f"{self.name}:{fn}", *args, transient=transient))


def whoami(contract: Evaluator) -> str:
    """The caller's MSP id as the chain sees it (``governance:whoami``).

    Raises:
        qcchain_gateway.errors.EvaluateError: the read failed.
    """
    return str(json.loads(contract.evaluate_transaction("governance:whoami"))["msp_id"])


def submit_record(contract: ContractLike, signing_key: SM2PrivateKey, *, payload: dict[str, Any] | None,
                  original: bytes | None, **fields: Any) -> dict[str, Any]:
    """Sign and submit one record version: whoami → placement and recipients → build (grade, encryption, SM2
    signature) → ``records:submit``. ``fields`` are :func:`~qcchain_sdk.contracts.records.build_record`'s
    (record_id, category, equipment_code, stage, grade, bus_type, version, exec_type, receiver_role); the
    channel is the contract's. Returns the committed record's metadata.

    Raises:
        RecipientError: an encrypted (L2/L3) record's entitled org has no active SM2 encryption key (nothing sent).
        ValueError: the fields or payload do not make a valid record, or the payload is larger than the
            chaincode accepts (64 KiB in clear, about 1 MiB encrypted) — refused here, nothing sent.
        qcchain_gateway.errors.GatewayError: a read or the submit failed (typed, e.g. ForbiddenError).
    """
    if payload is not None:
        limit = MAX_SEALED_PAYLOAD if fields.get("grade") == "L3" else MAX_PAYLOAD
        size = len(canonical_json(payload))
        if size > limit:
            raise ValueError(f"payload is {size} bytes; the chain accepts at most {limit} for a "
                             f"{fields.get('grade')} record (nothing was sent)")
    owner = whoami(contract)
    try:  # the chain's placement of the grade; an encrypted one (L2, L3) needs its audience's keys
        placement, recipients = (sealing_plan(contract, fields["grade"], owner) if fields.get("bus_type", "I") != "D"
                                 else (None, None))
    except LookupError as exc:
        raise RecipientError(str(exc)) from exc
    built = build_record(owner_msp=owner, signing_key=signing_key, payload=payload, original=original,
                         recipients=recipients, channel=contract.channel, placement=placement, **fields)
    log.info("submitting record %s v%s (%s)", fields.get("record_id"), fields.get("version", 1), fields["grade"])
    return RecordsClient(NamedContract(contract, "records")).submit(built)  # type: ignore[no-any-return]


def verify_read(contract: Evaluator, view: dict[str, Any]) -> list[str]:
    """Problems of a record view read from the chain ([] = all good): the signing key must be registered
    (only a 404 from ``keys:get`` means it is not), its id the SM3 of its public key, registered to the
    record's owner org, and the signature and digests must hold.

    Raises:
        qcchain_gateway.errors.EvaluateError: reading the key record failed other than with a 404.
    """
    return verify_record_view(view, read_key_record(contract, view["key_id"]))


def check_package(package_sha256: str, proposal_digest: str, what: str) -> None:
    """Check that a chaincode package is the one a deploy/upgrade proposal approves (its SHA-256 is the
    proposal's ``package_digest``).

    Raises:
        PackageMismatch: naming ``what`` (e.g. the package file) when the digests differ.
    """
    if package_sha256 != proposal_digest:
        raise PackageMismatch(f"{what} is not the package of this proposal (sha256 differs)")


def minimum_grade(contract: Evaluator, category: str, exec_type: str = "publish", receiver_role: str = "") -> str:
    """The grade the chain's grading policy requires for the caller's record of ``category`` (a record may be
    submitted at this grade or higher; lower is refused).

    Raises:
        NotMemberError: the caller is not a consortium member (the consortium is not bootstrapped?).
        qcchain_gateway.errors.EvaluateError: the policy refused the route (e.g. unknown category).
    """
    me = json.loads(contract.evaluate_transaction("governance:whoami"))
    role = (me.get("member") or {}).get("role")
    if not role:
        raise NotMemberError(f"{me.get('msp_id')} is not a consortium member: the consortium must be bootstrapped first")
    decision = json.loads(contract.evaluate_transaction("grading:decide", category, role, receiver_role, exec_type))
    return str(decision["grade"])
