"""L3 data keys for grants, on the client (the chaincode never sees a data key).

:func:`wrapped_keys_for_grant` is what an owner sends with ``sharing:grant`` / ``sharing:approve``: for
every L3 record of the owner the grant covers, the record's SM4 data key unwrapped with the owner's SM2
key and re-wrapped for the grantee's registered SM2 encryption key. :func:`open_access` is the grantee's
side: the logged ``sharing:access``, then the payload decrypted with the data key the grant carries.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from qcchain_core.errors import CryptoError
from qcchain_core.gm import SM2PrivateKey, SM2PublicKey

from .actions import NamedContract, whoami
from .contractlike import ContractLike
from .contracts.records import RecordsClient, decrypt_with_data_key
from .contracts.sharing import SharingClient, unwrap_data_key, wrap_data_key
from .errors import GrantKeyError

log = logging.getLogger(__name__)

__all__ = ["encryption_key", "open_access", "wrapped_keys_for_grant"]

WRAPPING_GRADES = ("L2", "L3", "L4")  # a grant up to these grades covers encrypted (L2/L3) records
MAX_PAGES = 50


def encryption_key(contract: ContractLike, msp_id: str) -> SM2PublicKey:
    """``msp_id``'s current active SM2 encryption key from the key registry.

    Raises:
        GrantKeyError: the org has no active encryption key (it registers one with `contract register-key`).
        qcchain_gateway.errors.EvaluateError: the read failed.
    """
    keys = [k for k in json.loads(contract.evaluate_transaction("keys:list_org", msp_id))
            if k["state"] == "active" and "encrypt" in k["usages"]]
    if not keys:
        raise GrantKeyError(f"{msp_id} has no active SM2 encryption key registered: its admin runs "
                            "`qcchain contract register-key` first")
    best = max(keys, key=lambda k: (k["not_before"], k["registered_at"], k["key_id"]))
    return SM2PublicKey.from_pem(best["public_key_pem"].encode("ascii"))


def _views_in_scope(records: RecordsClient, scope: tuple[str, str]) -> list[dict[str, Any]]:
    kind, value = scope
    if kind == "record":
        return [records.get(value)]
    views: list[dict[str, Any]] = []
    bookmark = ""
    for _ in range(MAX_PAGES):
        page = records.query(kind, value, 100, bookmark)
        views += page["records"]
        bookmark = page["bookmark"]
        if not bookmark:
            break
    return views


def wrapped_keys_for_grant(contract: ContractLike, owner_key: SM2PrivateKey, grantee_msp: str,
                           scope: tuple[str, str], max_grade: str) -> list[dict[str, str]]:
    """The wrapped-key items a grant of ``scope`` up to ``max_grade`` needs: one per live L3 record of the
    caller in scope ([] when the grant covers no L3 record).

    Raises:
        GrantKeyError: the grantee has no encryption key, or ``owner_key`` cannot unwrap a record's data key
            (it is not the key the record was wrapped for).
        qcchain_gateway.errors.EvaluateError: a read failed.
    """
    if max_grade not in WRAPPING_GRADES:
        return []
    me = whoami(contract)
    views = [v for v in _views_in_scope(RecordsClient(NamedContract(contract, "records")), scope)
             if v.get("placement") == "private_encrypted" and v.get("owner_msp") == me and not v.get("deleted") and v.get("wrapped_key")]
    if not views:
        return []
    grantee = encryption_key(contract, grantee_msp)
    items = []
    for view in views:
        try:
            data_key = owner_key.decrypt(bytes.fromhex(view["wrapped_key"]["wrapped"]))
        except (CryptoError, ValueError) as exc:
            raise GrantKeyError(f"record {view['record_id']}: the data key does not unwrap with this key "
                                f"(use the key {me} registered for encryption)") from exc
        items.append(wrap_data_key(view["record_id"], data_key, grantee))
    log.info("wrapped %d L3 data key(s) for %s", len(items), grantee_msp)
    return items


def open_access(contract: ContractLike, sharing: SharingClient, record_id: str, purpose: str,
                key: SM2PrivateKey | None) -> dict[str, Any]:
    """The logged access to ``record_id``; with ``key`` and a data key wrapped for it, the L3 payload is
    decrypted (``result["payload"]``) and checked against the signed digest.

    Raises:
        ValueError: the payload does not decrypt or does not match its digest (DecryptionError is one).
        qcchain_gateway.errors.GatewayError: the access was refused (no grant, wrong purpose, ...).
    """
    result = sharing.access(record_id, purpose)
    item = result.get("wrapped_key")
    if key is not None and item:
        view = RecordsClient(NamedContract(contract, "records")).get(record_id)
        if view.get("ciphertext"):
            result["payload"] = decrypt_with_data_key(view, unwrap_data_key(item, key))
    return result
