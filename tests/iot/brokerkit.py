"""The broker under test: ``embedded`` (:mod:`qcchain_iot.mqttbroker`) or our own ``mosquitto`` process
(skipped when Mosquitto is not installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qcchain_iot.embedded import EmbeddedBroker
from qcchain_iot.mosquitto import MosquittoProcess, find_mosquitto


def make_broker(kind: str, tmp_path: Path, port: int, cert: Path, key: Path) -> Any:
    """A stopped broker on 127.0.0.1:``port`` with TLS, the credentials of ``tmp_path/cred`` and its
    durable state in ``tmp_path``."""
    if kind == "mosquitto":
        if not find_mosquitto():
            pytest.skip("mosquitto is not installed")
        return MosquittoProcess(tmp_path / "mq", port, tmp_path / "cred", cert, key)
    return EmbeddedBroker(port, tmp_path / "cred", cert, key, state_dir=tmp_path / "embedded")
