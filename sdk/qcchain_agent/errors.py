"""Errors raised by :mod:`qcchain_agent` (each also inherits the matching built-in)."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error raised by :mod:`qcchain_agent`."""


class MappingError(AgentError, ValueError):
    """The mapping file is unreadable or invalid.

    ``problems`` lists every problem found, one line each, each naming its mapping path
    (``txcodes.03.fields.psnName.column: ...``); ``str()`` joins them.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems) if problems else "invalid mapping")
        self.problems = list(problems)


class SecretError(AgentError, ValueError):
    """A secret (AppSecret, database password) named by the mapping cannot be read."""


class SourceError(AgentError, RuntimeError):
    """The source database cannot be reached or a mapped table, query or column is wrong."""


class RowError(AgentError, ValueError):
    """One source row cannot be turned into a record (the row is quarantined, the run goes on).

    ``field`` names the target field (or ``ID``); the message never repeats the row's values.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class StateError(AgentError, RuntimeError):
    """The agent's state directory is unusable (locked by another agent, corrupt, or not writable)."""


class TransportError(AgentError, ConnectionError):
    """The ingestion server could not be reached or answered with a transient failure (network, 5xx)."""


class ServerError(AgentError, RuntimeError):
    """The ingestion server answered in a way the agent cannot act on (not Appendix B, 4xx, bad token)."""


class ReceiptError(AgentError, ValueError):
    """A receipt's signature or Merkle root does not verify: the batch is NOT acknowledged."""
