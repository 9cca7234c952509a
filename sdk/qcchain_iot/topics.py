"""MQTT topic layout: ``qcchain/<org>/devices/<device_id>/telemetry`` (a device publishes only there) and
``qcchain/<org>/notifications`` (the org's warning notifications: its notifier writes, its listeners read).

Device ids and org names are restricted to ``[A-Za-z0-9_.-]{1,64}`` so they can never contain MQTT
wildcards or separators.
"""

from __future__ import annotations

import re

from .errors import ReadingRejected

__all__ = ["ID_RE", "telemetry_topic", "notification_topic", "parse_topic", "SUBSCRIPTION", "check_id"]

ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SUBSCRIPTION = "qcchain/+/devices/+/telemetry"


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a valid id. Raises ValueError naming ``what``."""
    if not isinstance(value, str) or not ID_RE.match(value):
        raise ValueError(f"{what} must match [A-Za-z0-9_.-]{{1,64}}")
    return value


def telemetry_topic(org: str, device_id: str) -> str:
    """The topic a device publishes its readings to. Raises ValueError: bad org or device id."""
    return f"qcchain/{check_id(org, 'org')}/devices/{check_id(device_id, 'device id')}/telemetry"


def notification_topic(org: str) -> str:
    """The topic the org's warning notifications are published to (:mod:`.notify`). Raises ValueError: bad org."""
    return f"qcchain/{check_id(org, 'org')}/notifications"


def parse_topic(topic: str) -> tuple[str, str]:
    """``(org, device_id)`` of a telemetry topic. Raises ReadingRejected: not a telemetry topic."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "qcchain" or parts[2] != "devices" or parts[4] != "telemetry":
        raise ReadingRejected("topic is not qcchain/<org>/devices/<device>/telemetry")
    if not ID_RE.match(parts[1]) or not ID_RE.match(parts[3]):
        raise ReadingRejected("topic has an invalid org or device id")
    return parts[1], parts[3]
