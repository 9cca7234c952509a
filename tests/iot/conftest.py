"""Shared fixtures of the IoT tests: the policy, a credential directory, brokers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qcchain_iot.credentials import CredentialStore
from qcchain_iot.policy import WarningsPolicy, parse_policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def policy() -> WarningsPolicy:
    return parse_policy(yaml.safe_load((ROOT / "policies" / "warnings.yaml").read_text()))


@pytest.fixture
def creds(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "cred")
