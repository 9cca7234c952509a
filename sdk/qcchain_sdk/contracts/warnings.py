"""Typed client of the ``warnings`` and ``devices`` contracts (issue 15): raise a four-colour warning (or a
batch of them), take the closed-loop steps, close an expiry reminder by its renewal, escalate overdue
warnings, register / revoke monitoring devices, anchor telemetry window roots and check a reading's proof on
chain.

Works over a Gateway ``Contract`` of the ``qcchain`` chaincode (no default contract name) or any
:class:`~qcchain_sdk.contractlike.ContractLike` test double. Errors are the wrapped contract's
(:mod:`qcchain_gateway.errors`: ``EndorseError`` with the chaincode's status and message on a refusal).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import sm3

from ..contractlike import ContractLike

__all__ = ["WarningsClient", "DevicesClient", "STEPS", "COLOURS", "reading_digest", "device_warning"]

STEPS = ("acknowledge", "start", "dispose", "verify", "close")
COLOURS = ("blue", "yellow", "orange", "red")


def reading_digest(leaf: dict[str, Any]) -> str:
    """Hex SM3 of a reading's canonical leaf object (what ``evidence.reading_digest`` must be)."""
    return sm3(canonical_json(leaf)).hex()


def device_warning(warning_id: str, colour: str, source: str, device_id: str, rule: str, responsible_msp: str,
                   summary: str, leaf: dict[str, Any]) -> dict[str, Any]:
    """The ``raise_warning`` document of a device or prediction warning with its reading as evidence."""
    return {"warning_id": warning_id, "colour": colour, "source": source, "subject": device_id, "rule": rule,
            "responsible_msp": responsible_msp, "summary": summary,
            "evidence": {"reading": leaf, "reading_digest": reading_digest(leaf)}}


def _j(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class WarningsClient:
    """``warnings:*`` over a contract."""

    def __init__(self, contract: ContractLike) -> None:
        self.contract = contract

    def _submit(self, fn: str, *args: str) -> Any:
        return json.loads(self.contract.submit_transaction(f"warnings:{fn}", *args))

    def _evaluate(self, fn: str, *args: str) -> Any:
        return json.loads(self.contract.evaluate_transaction(f"warnings:{fn}", *args))

    def raise_warning(self, warning: dict[str, Any]) -> dict[str, Any]:
        """Raise (or find the already raised, ``duplicate: true``) warning. Raises: as the contract."""
        return dict(self._submit("raise_warning", _j(warning)))

    def raise_warnings(self, warnings: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Raise up to 64 warnings in one transaction (all checked first: one refused warning refuses the
        batch, its index in the message); ``{warnings: [{warning_id, duplicate, status}], raised,
        duplicates}``. Raises: as the contract."""
        return dict(self._submit("raise_warnings", _j(list(warnings))))

    def resolve_reminder(self, warning_id: str, renewal: dict[str, Any]) -> dict[str, Any]:
        """Close an open expiry reminder by its recorded renewal ``{due, note, digests}`` (a regulator or
        inspection body). Raises: as the contract."""
        return dict(self._submit("resolve_reminder", warning_id, _j(renewal)))

    def list_open(self, source: str = "", responsible_msp: str = "", limit: int = 100) -> list[dict[str, Any]]:
        """Warnings not closed yet (without history), filtered by source and responsible unit. Raises: as
        the contract."""
        return list(self._evaluate("list_open", source, responsible_msp, str(limit)))

    def step(self, step: str, warning_id: str, evidence: dict[str, Any] | None = None) -> dict[str, Any]:
        """Take a closed-loop step (``acknowledge``, ``start``, ``dispose``, ``verify``, ``close``).

        Raises:
            ValueError: unknown step. Otherwise as the contract.
        """
        if step not in STEPS:
            raise ValueError(f"step must be one of {', '.join(STEPS)}")
        return dict(self._submit(step, warning_id, _j(evidence or {})))

    def escalate_overdue(self, limit: int = 200) -> dict[str, Any]:
        """Escalate every warning past its deadline at the transaction time. Raises: as the contract."""
        return dict(self._submit("escalate_overdue", str(limit)))

    def get(self, warning_id: str) -> dict[str, Any]:
        """One warning with its history. Raises: as the contract (NotFoundError)."""
        return dict(self._evaluate("get", warning_id))

    def list(self, status: str = "", colour: str = "", responsible_msp: str = "", limit: int = 100) -> list[dict[str, Any]]:
        """Warnings (without history), filtered. Raises: as the contract."""
        return list(self._evaluate("list_warnings", status, colour, responsible_msp, str(limit)))


class DevicesClient:
    """``devices:*`` over a contract."""

    def __init__(self, contract: ContractLike) -> None:
        self.contract = contract

    def register(self, device: dict[str, Any]) -> dict[str, Any]:
        """Register a device owned by the caller's org. Raises: as the contract."""
        return dict(json.loads(self.contract.submit_transaction("devices:register", _j(device))))

    def revoke(self, device_id: str, reason: str) -> dict[str, Any]:
        """Revoke a device. Raises: as the contract."""
        return dict(json.loads(self.contract.submit_transaction("devices:revoke", device_id, reason)))

    def anchor_windows(self, windows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Anchor window roots ``{device_id, window_id, window_start, count, root}``; returns
        ``{anchored, unchanged, tx_id}``. Raises: as the contract."""
        return dict(json.loads(self.contract.submit_transaction("devices:anchor_windows", _j(list(windows)))))

    def get(self, device_id: str) -> dict[str, Any]:
        """One device record. Raises: as the contract (NotFoundError)."""
        return dict(json.loads(self.contract.evaluate_transaction("devices:get", device_id)))

    def list(self, reg_no: str = "", limit: int = 100) -> list[dict[str, Any]]:
        """Device records, optionally of one equipment. Raises: as the contract."""
        return list(json.loads(self.contract.evaluate_transaction("devices:list_devices", reg_no, str(limit))))

    def window(self, device_id: str, window_id: int) -> dict[str, Any]:
        """An anchored window. Raises: as the contract (NotFoundError when not anchored)."""
        return dict(json.loads(self.contract.evaluate_transaction("devices:window", device_id, str(window_id))))

    def prove(self, device_id: str, window_id: int, leaf: dict[str, Any], proof: dict[str, Any]) -> dict[str, Any]:
        """Check a reading's proof against its anchored window on chain. Raises: as the contract."""
        return dict(json.loads(self.contract.evaluate_transaction(
            "devices:prove", device_id, str(window_id), _j(leaf), _j(proof))))
