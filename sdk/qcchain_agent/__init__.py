"""The using unit's sync agent (seed 001 5.2.1, 5.3, 5.4; seed 003 数据交换).

Extracts dual-prevention data from the unit's own database (any SQLAlchemy URL), transforms it into the
D-A records described by a declarative mapping file, detects inserts/updates/deletes by SM3 fingerprints
without touching the source, and pushes Appendix B batches to the ingestion service from a durable outbox
until each is acknowledged with a verified receipt.

Modules: :mod:`.mapping` (mapping file), :mod:`.tables` (D-A tables), :mod:`.transform` (row → record),
:mod:`.source` (SQLAlchemy), :mod:`.state` (SQLite state: fingerprints, outbox, batchNo sequence,
quarantine), :mod:`.scan` (change detection), :mod:`.client` (Appendix B HTTP), :mod:`.receipts`,
:mod:`.sender` (outbox), :mod:`.agent` (cycles), :mod:`.reconcile` (D-5.3), :mod:`.skeleton` (``init``),
:mod:`.secrets`.
"""

from .agent import Agent
from .errors import AgentError, MappingError, ReceiptError, RowError, SecretError, ServerError, SourceError, \
    StateError, TransportError
from .mapping import Mapping, load_mapping

__all__ = ["Agent", "AgentError", "Mapping", "MappingError", "ReceiptError", "RowError", "SecretError", "ServerError",
           "SourceError", "StateError", "TransportError", "load_mapping"]
