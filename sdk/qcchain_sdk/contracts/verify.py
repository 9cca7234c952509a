"""Re-verification of what a client reads, shared by the auditor and the CLI.

* :func:`read_key_record` — a registered SM2 key record, or None only when the chain says it does not exist;
* :func:`verify_key_record` — the key's id must be the SM3 of its public key;
* :func:`verify_signed_view` / :func:`verify_record_view` — a record version's SM2 signature and SM3 digests
  hold AND the signing key is registered to the record's owner org;
* :func:`verify_current_state` — a record's current world-state row is the last write of its history.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PublicKey

from qcchain_model.envelope import ENVELOPE_FIELDS

from qcchain_gateway.errors import NotFoundError

from ..contractlike import Evaluator
from .records import verify_view

log = logging.getLogger(__name__)

__all__ = ["is_not_found", "read_key_record", "verify_key_record", "verify_signed_view", "verify_record_view",
           "verify_current_state", "STATE_FIELDS"]

def is_not_found(exc: BaseException) -> bool:
    """True only when the chaincode answered 404 (:class:`qcchain_gateway.errors.NotFoundError`).

    Prefer ``except NotFoundError``; this stays for callers that test a caught error."""
    return isinstance(exc, NotFoundError)


def read_key_record(contract: Evaluator, key_id: str) -> dict[str, Any] | None:
    """The ``keys:get`` record of ``key_id``, or None if the chaincode answers 404 (not registered).

    Raises:
        qcchain_gateway.errors.EvaluateError: any other evaluate failure (unreachable peer, denied, ...).
        ValueError: the answer is not JSON.
    """
    try:
        return json.loads(contract.evaluate_transaction("keys:get", key_id))  # type: ignore[no-any-return]
    except NotFoundError:
        log.info("SM2 key %s is not registered", key_id[:16])
        return None


def verify_key_record(record: dict[str, Any] | None, key_id: str) -> tuple[SM2PublicKey | None, list[str]]:
    """The public key of a key record, after checking that ``key_id`` is the SM3 of it."""
    if record is None:
        return None, [f"SM2 key {key_id[:16]}... is not registered on chain"]
    try:
        public = SM2PublicKey.from_pem(record["public_key_pem"].encode("ascii"))
    except (CryptoError, ValueError, KeyError, AttributeError) as exc:
        return None, [f"SM2 key {key_id[:16]}...: stored public key is unreadable ({exc})"]
    if public.key_id() != key_id or record.get("key_id") != key_id:
        return None, [f"SM2 key {key_id[:16]}...: key id is not the SM3 of the stored public key"]
    return public, []


def verify_signed_view(view: dict[str, Any], public: SM2PublicKey, key_msp: str | None) -> list[str]:
    """Problems of a record view whose signing key is ``public``, registered to ``key_msp``."""
    problems = []
    if key_msp != view.get("owner_msp"):
        problems.append(f"{view['record_id']} v{view['version']}: signing key is not the owner's "
                        f"(it is registered to {key_msp}, the record is {view.get('owner_msp')}'s)")
    return problems + verify_view(view, public)


def verify_record_view(view: dict[str, Any], key_record: dict[str, Any] | None) -> list[str]:
    """Re-verify a record view against the key record named in it (None: not registered); [] = all good."""
    public, problems = verify_key_record(key_record, view["key_id"])
    if public is None:
        return problems
    return verify_signed_view(view, public, (key_record or {}).get("msp_id"))


#: Fields of a record row compared between the current world state and the last history write.
STATE_FIELDS = (*ENVELOPE_FIELDS, "signature", "tx_id", "at", "deleted", "placement", "payload", "ciphertext")


def verify_current_state(versions: list[dict[str, Any]], current: dict[str, Any] | None) -> list[str]:
    """Problems of a record's current state row against its history ([] = the row is the last write).

    Checks that every version's ``tx_id`` is the transaction of its history entry and that the current row
    (None: the chaincode says the record does not exist) equals the last version in every
    :data:`STATE_FIELDS` field both views carry.
    """
    problems = [f"{v['record_id']} v{v['version']}: written by {v['history_tx_id'][:16]}... but claims tx "
                f"{str(v.get('tx_id'))[:16]}..." for v in versions
                if v.get("history_tx_id") and v.get("tx_id") != v["history_tx_id"]]
    if not versions:
        return problems
    last = versions[-1]
    if current is None:
        return problems + [f"{last['record_id']}: current state row is missing; history ends at v{last['version']}"]
    differ = sorted(f for f in STATE_FIELDS if (f in last or f in current) and f != "ciphertext" and last.get(f) != current.get(f))
    if "ciphertext" in last and "ciphertext" in current and last["ciphertext"] != current["ciphertext"]:
        differ.append("ciphertext")
    if differ:
        problems.append(f"{last['record_id']}: current state row differs from its last history write "
                        f"v{last['version']} ({', '.join(differ)})")
    return problems
