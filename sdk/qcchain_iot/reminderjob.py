"""The daily reminder job on chain (issue 15; seed 003 §四): close the expiry reminders their renewal
answers, then raise the reminders and overdue-rectification warnings due today.

1. The open expiry reminders are read from the chain (``warnings:list_open``); each whose item now has a
   later due date (a renewed certificate's ``endDate``, the next ``nextInspectionDate``, a valve's or node
   certificate's new date — :func:`~qcchain_iot.reminders.renewals`) is closed by
   ``warnings:resolve_reminder`` with the renewal as evidence (new due date, SM3 of the renewed record).
   The contract lets only a regulator or inspection body other than the responsible unit record it, so the
   job runs as one of them.
2. The warnings of today (:func:`~qcchain_iot.reminders.overdue_rectifications`,
   :func:`~qcchain_iot.reminders.expiry_reminders`) are raised in batches (``warnings:raise_warnings``);
   their ids are deterministic, so a rerun or a run after a crash raises nothing twice. A renewed item due
   soon again gets a new reminder (its due date is part of the id).

A refusal (logged with the contract's one-line reason) leaves the item for the next run; nothing is retried
in a loop.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from qcchain_gateway.errors import GatewayError
from qcchain_sdk.contracts.warnings import WarningsClient

from .policy import WarningsPolicy
from .reminders import DueItem, expiry_reminders, overdue_rectifications, renewal_of, renewals

log = logging.getLogger(__name__)

__all__ = ["JobResult", "run_reminder_job", "MAX_OPEN"]

MAX_OPEN = 500          # open reminders read per run (the contract's list limit)
BATCH = 32


@dataclass
class JobResult:
    resolved: list[str] = field(default_factory=list)      # reminder ids closed by their renewal
    raised: list[str] = field(default_factory=list)        # warning ids raised now
    duplicates: int = 0                                     # already on chain (a rerun)
    failed: list[str] = field(default_factory=list)        # refused: left for the next run

    def summary(self) -> dict[str, Any]:
        return {"resolved": len(self.resolved), "raised": len(self.raised), "duplicates": self.duplicates,
                "failed": len(self.failed)}


def _raise_all(client: WarningsClient, docs: Sequence[dict[str, Any]], result: JobResult) -> None:
    for i in range(0, len(docs), BATCH):
        chunk = list(docs[i:i + BATCH])
        try:
            answers = client.raise_warnings(chunk)["warnings"]
        except GatewayError as exc:      # one refused warning refuses its batch: raise them one at a time
            log.warning("reminder batch refused (%s); raised one at a time", str(exc)[:200])
            answers = []
            for doc in chunk:
                try:
                    answers.append(client.raise_warning(doc))
                except GatewayError as one:
                    log.warning("warning %s not raised: %s", doc["warning_id"][:16], str(one)[:300])
                    result.failed.append(doc["warning_id"])
        for answer in answers:
            if answer["duplicate"]:
                result.duplicates += 1
            else:
                result.raised.append(answer["warning_id"])


def run_reminder_job(client: WarningsClient, today: dt.date, policy: WarningsPolicy, items: Iterable[DueItem] = (),
                     dangers: Iterable[dict[str, Any]] = (), dangers_msp: str = "",
                     responsible_msp: str = "") -> JobResult:
    """Run the job for ``today`` as ``client``'s org: close renewed reminders, raise today's warnings
    (``dangers`` are the D-A.11 records of ``dangers_msp``; only the open reminders of ``responsible_msp``
    are considered when it is given).

    Raises:
        GatewayError: the open reminders cannot be read (nothing was written).
    """
    items = list(items)
    result = JobResult()
    open_reminders = client.list_open("expiry", responsible_msp, MAX_OPEN)
    for warning, item in renewals(open_reminders, items):
        try:
            client.resolve_reminder(warning["warning_id"], renewal_of(item))
            result.resolved.append(warning["warning_id"])
        except GatewayError as exc:
            log.warning("reminder %s not resolved: %s", warning["warning_id"][:16], str(exc)[:300])
            result.failed.append(warning["warning_id"])
    docs = overdue_rectifications(dangers, dangers_msp, today, policy) if dangers_msp else []
    docs += expiry_reminders(items, today, policy)
    _raise_all(client, docs, result)
    return result
