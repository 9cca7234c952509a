"""The service's link to the chain: one Fabric transaction per batch (``ingest:anchor``) through the Gateway
SDK as the ingesting org, and the reads the service needs (grading policy, entitled orgs' keys, headers).

The contract refuses a batch with a message ``... violations=[{"index", "field", "reason"}, ...]``; such a
refusal is a :class:`ChainError` with ``refused`` set and the parsed list in ``violations``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import orjson

from qcchain_contracts.grading_rules import placement_of, strictest_grade
from qcchain_core.gm import SM2PublicKey
from qcchain_gateway.errors import EndorseError, EvaluateError, GatewayError, NotFoundError
from qcchain_sdk.contracts.records import l3_recipients

from .errors import ChainError

log = logging.getLogger(__name__)

__all__ = ["ChainLink", "SENDER_ROLE", "parse_refusal"]

#: Ingested data is sent by using units (grading's ``sender_role``).
SENDER_ROLE = "using_unit"
_MARK = "violations="
PLAN_TTL = 30.0
#: Batches endorsed at once. More in flight than this only contend for the chaincode's and the peers' CPU
#: (the chaincode time-slices them, each takes longer) without finishing sooner; the others queue here.
MAX_ENDORSING = 3


def parse_refusal(exc: GatewayError) -> tuple[str, list[dict[str, Any]]]:
    """(one-line reason, violations) from a chaincode refusal."""
    texts = [d.message for d in exc.details] or [exc.message]
    text = texts[0]
    violations: list[dict[str, Any]] = []
    if _MARK in text:
        head, _, tail = text.partition(_MARK)
        try:
            violations = json.loads(tail[: tail.rindex("]") + 1])
        except ValueError:
            violations = []
        text = head
    text = " ".join(text.split()).rstrip(" ;:,")
    for prefix in ("chaincode response 400, ", "chaincode response 404, ", "chaincode response 409, ",
                   "chaincode response 403, ", "chaincode response 423, ", "chaincode response 410, "):
        if prefix in text:
            text = text.split(prefix, 1)[1]
    return text[:300], violations


class ChainLink:
    """``ingest`` (+ governance/keys reads) over a blocking Gateway ``Network`` of the ingesting org; at most
    ``max_endorsing`` batches are endorsed at once (the others wait their turn; committing is not limited).

    Raises (constructor):
        ValueError: ``max_endorsing`` < 1.
    """

    def __init__(self, network: Any, msp_id: str, chaincode: str = "qcchain", max_endorsing: int = MAX_ENDORSING) -> None:
        self.network, self.msp_id, self.chaincode = network, msp_id, chaincode
        if max_endorsing < 1:
            raise ValueError(f"max_endorsing must be >= 1, got {max_endorsing}")
        self._endorsing = threading.BoundedSemaphore(max_endorsing)
        self.ingest = network.get_contract(chaincode, "ingest")
        self.default = network.get_contract(chaincode)
        self._plans: dict[str, tuple[float, str, dict[str, SM2PublicKey]]] = {}
        self._lock = threading.Lock()

    @property
    def channel(self) -> str:
        return str(self.network.name)

    def plan(self, category: str) -> tuple[str, dict[str, SM2PublicKey]]:
        """(placement, entitled orgs' encryption keys when L3) of ``category``, cached for 30 s.

        Raises:
            ChainError: the policy cannot be read or an entitled org has no encryption key.
        """
        with self._lock:
            cached = self._plans.get(category)
            if cached and time.monotonic() - cached[0] < PLAN_TTL:
                return cached[1], cached[2]
        try:
            policy = json.loads(self.default.evaluate_transaction("governance:policy", "grading"))["document"]
            grade = strictest_grade(policy, category, SENDER_ROLE).grade
            placement = placement_of(policy, grade)
            keys = l3_recipients(self.default, grade, self.msp_id) if placement == "private_encrypted" else {}
        except (GatewayError, LookupError, KeyError, ValueError) as exc:
            raise ChainError(f"cannot read the grading policy or keys from the chain: {' '.join(str(exc).split())[:200]}") from exc
        with self._lock:
            self._plans[category] = (time.monotonic(), placement, keys)
        return placement, keys

    def anchor(self, batch: dict[str, Any], transient: dict[str, bytes]) -> tuple[dict[str, Any], str, int]:
        """Submit ``ingest:anchor`` and wait for its commit; returns (stored header, tx id, block number).

        Raises:
            ChainError: refused by the contract (``refused``; ``violations`` attached) or not committed.
        """
        proposal = self.ingest.new_proposal("anchor", arguments=[orjson.dumps(batch)],
                                            transient=transient or None)
        try:
            with self._endorsing:
                transaction = proposal.endorse()
            header = json.loads(transaction.result)
            status = transaction.submit().get_status()
        except EndorseError as exc:
            if exc.chaincode_status is not None and 400 <= exc.chaincode_status < 500:
                reason, violations = parse_refusal(exc)
                error = ChainError(reason, refused=True)
                error.violations = violations  # type: ignore[attr-defined]
                raise error from exc
            raise ChainError(f"the chain did not endorse the batch: {exc.code.name}") from exc
        except GatewayError as exc:
            raise ChainError(f"the batch was not committed: {type(exc).__name__} {exc.code.name}") from exc
        if not status.successful:
            raise ChainError(f"the batch transaction was invalidated ({status.code_name})")
        return header, status.transaction_id, status.block_number

    def header(self, appid: str, batch_no: str) -> dict[str, Any] | None:
        """The on-chain header of a batch, or None. Raises ChainError: the read failed."""
        try:
            return json.loads(self.ingest.evaluate_transaction("batch", appid, batch_no))
        except NotFoundError:
            return None
        except EvaluateError as exc:
            raise ChainError(f"cannot read the batch header: {exc.code.name}") from exc

    def record(self, record_id: str) -> dict[str, Any] | None:
        """A record as this org is entitled to see it, or None. Raises ChainError: the read failed."""
        try:
            return json.loads(self.ingest.evaluate_transaction("get", record_id))
        except NotFoundError:
            return None
        except EvaluateError as exc:
            raise ChainError(f"cannot read the record: {exc.code.name}") from exc

    def media_grant(self, record_id: str, grant: str) -> dict[str, Any] | None:
        """A logged media access (``ingest:media_grant``), or None. Raises ChainError: the read failed."""
        try:
            return json.loads(self.ingest.evaluate_transaction("media_grant", record_id, grant))
        except NotFoundError:
            return None
        except EvaluateError as exc:
            raise ChainError(f"cannot read the media grant: {exc.code.name}") from exc
