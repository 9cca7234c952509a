"""qcchain business contracts: governance (members, policies, proposals), SM2 key registry, grading,
graded QC records, sharing grants and audit queries — one Fabric chaincode named ``qcchain``.

The package is a ladder; a module imports only modules of its own rung or below (no cycles,
``tests/contracts/test_ladder.py`` checks it):

1. base — :mod:`.errors`, :mod:`.common` (tx time, caller, canonical JSON state access, argument checks,
   timeline events), :mod:`.schemas` (payload JSON Schemas, from :mod:`qcchain_model`);
2. store — :mod:`.store` (members, policies, keys, units, proposals, nodes, records, grants): ledger
   records and their keys, no decisions;
3. rules — :mod:`.grading_rules`, :mod:`.sharing_rules` (pure); :mod:`.lifecycle` (unit state machine,
   thresholds, :func:`~.lifecycle.require_serving`); :mod:`.signatures`; :mod:`.policy_rules`;
   :mod:`.noderegistry`; :mod:`.proposals`; :mod:`.placement` (the records write path,
   :func:`~.placement.place_record`); :mod:`.entitlement` (who reads what, grant use, access log);
4. contract fronts — the ``Contract`` classes with their ``@transaction`` methods: :mod:`.governance`,
   :mod:`.keyregistry`, :mod:`.grading`, :mod:`.records`, :mod:`.sharing`, :mod:`.audit`.

:func:`contract_classes` lists the fronts in serving order (governance first = the default contract).
"""

from __future__ import annotations

from .audit import Audit
from .crosschain import CrossChain
from .devices import Devices
from .governance import Governance
from .grading import Grading
from .ingest import Ingest
from .keyregistry import KeyRegistry
from .records import Records
from .sharing import Sharing
from .warnings import Warnings

__all__ = ["contract_classes"]


def contract_classes() -> list[type]:
    """Every contract class of the chaincode, governance first."""
    return [Governance, KeyRegistry, Grading, Records, Sharing, Audit, Ingest, Devices, Warnings, CrossChain]
