"""A record as the console shows it: the payload this org may see (L1/L2 in clear, L3 decrypted only
when the data key was wrapped for the console's key), personal fields masked unless the org owns the
record, and the verification badge (SM3 digest and SM2 signature re-checked against the key on chain)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from qcchain_core.errors import CryptoError
from qcchain_gateway.errors import GatewayError
from qcchain_sdk.contracts.records import decrypt_view
from qcchain_sdk.contracts.verify import read_key_record, verify_record_view

log = logging.getLogger(__name__)

__all__ = ["PERSONAL_FIELDS", "mask", "masked_payload", "ShownRecord", "show_record", "payload_for"]

#: fields naming or identifying a person (D-A tables): names, phone numbers, ID-card numbers
PERSONAL_FIELDS = frozenset({"checkMan", "dutyMan", "linkMan", "linkTel", "dLinkMan", "dLinkTel", "deputy", "dealMan",
                             "acceptMan", "psnName", "idCardNo", "holderName", "inspectors"})


def mask(value: Any) -> str:
    """Keep the first character (and the last for long values), star the rest: 王** / 138******78."""
    text = str(value)
    if len(text) <= 1:
        return "*"
    if len(text) >= 7:
        return text[:3] + "*" * (len(text) - 5) + text[-2:]
    return text[0] + "*" * (len(text) - 1)


def masked_payload(payload: dict[str, Any], owner: bool) -> tuple[dict[str, Any], bool]:
    """``(payload with personal fields masked unless owner, whether anything was masked)``."""
    if owner:
        return dict(payload), False
    out, hit = {}, False
    for name, value in payload.items():
        if name in PERSONAL_FIELDS and value not in (None, ""):
            out[name], hit = mask(value), True
        else:
            out[name] = value
    return out, hit


def payload_for(chain: Any, view: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The payload the console may show and how it got it: ``clear``, ``decrypted``, ``encrypted`` (no data
    key for this org's console key), ``offchain`` (L4) or ``undecryptable`` (a wrapped key that fails)."""
    if "payload" in view:
        return dict(view["payload"]), "clear"
    if view.get("placement") == "off_chain":
        return None, "offchain"
    wrapped = view.get("wrapped_key") or {}
    if view.get("ciphertext") and wrapped.get("wrapped") and wrapped.get("key_id") in ("", None, chain.key_id):
        try:
            return decrypt_view(view, wrapped["wrapped"], chain.key), "decrypted"
        except (CryptoError, ValueError):
            return None, "undecryptable"
    return None, "encrypted"


@dataclass
class ShownRecord:
    view: dict[str, Any]
    payload: dict[str, Any] | None
    how: str
    masked: bool
    problems: list[str] = field(default_factory=list)
    verified: bool = False


def show_record(chain: Any, view: dict[str, Any], verify: bool = True) -> ShownRecord:
    """The record as this org's staff see it. Gateway errors reading the signing key become problems."""
    payload, how = payload_for(chain, view)
    masked = False
    if payload is not None:
        payload, masked = masked_payload(payload, view.get("owner_msp") == chain.msp_id)
    problems: list[str] = []
    if verify:
        try:
            problems = verify_record_view(view, read_key_record(chain.default, view["key_id"]))
        except (GatewayError, KeyError, ValueError) as exc:
            problems = [f"cannot re-verify: {type(exc).__name__}"]
    return ShownRecord(view, payload, how, masked, problems, verify and not problems)
