"""Errors raised by :mod:`qcchain_iot` (each also inherits the matching built-in)."""

from __future__ import annotations


class IotError(Exception):
    """Base of every error raised by :mod:`qcchain_iot`."""


class PolicyError(IotError, ValueError):
    """The warnings policy document is invalid; ``problems`` lists every problem with its path."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ReadingRejected(IotError, ValueError):
    """A telemetry message is refused (malformed, oversized, unknown unit, out of range, clock skew...)."""


class CredentialError(IotError, LookupError):
    """A device credential operation names an unknown or revoked device, or bad fields."""


class StoreError(IotError, RuntimeError):
    """The time-series database is unreachable or refused a write."""


class ProofError(IotError, ValueError):
    """A reading has no proof (window not anchored yet) or its proof does not verify."""


class BrokerError(IotError, ConnectionError):
    """A broker could not be started, reached or authenticated against."""


class NotifyError(IotError, ConnectionError):
    """A notification sink (webhook, MQTT topic) did not accept a notification."""


class MqttProtocolError(IotError, ValueError):
    """A client sent bytes the embedded broker cannot accept as MQTT 3.1.1 (the connection is closed)."""
