"""The console's connection to the chain: the org's Fabric identity (connection profile) and the
console's SM2 key for this org (kept in an encrypted keystore in the state directory, registered on
chain by the org admin identity so sharing decisions can be SM2-signed).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcchain_core.gm import SM2PrivateKey
from qcchain_gateway.errors import GatewayError
from qcchain_gateway.keystore import FileKeystore
from qcchain_gateway.profile import connect_profile, load_profile
from qcchain_sdk.contracts.audit import AuditClient
from qcchain_sdk.contracts.governance import GovernanceClient
from qcchain_sdk.contracts.records import RecordsClient
from qcchain_sdk.contracts.sharing import SharingClient
from qcchain_sdk.contracts.verify import read_key_record

from .errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["ChainSettings", "OrgChain", "KEY_LABEL", "secret_file"]

KEY_LABEL = "console"
KEY_VALIDITY = 365 * 86400


@dataclass(frozen=True)
class ChainSettings:
    """Where the org's identity and the console's key come from."""

    profile: Path
    state: Path
    user: str = "Admin"
    channel: str = "qcchannel"


def secret_file(path: Path, size: int = 32) -> bytes:
    """Read (or create, mode 0600) a random secret file; returns its bytes."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(size))
    return path.read_bytes().strip()


class OrgChain:
    """One org's gateway connection and typed clients; thread-safe for the console's worker threads."""

    def __init__(self, settings: ChainSettings) -> None:
        """Connect with the profile's ``user`` identity.

        Raises:
            ConfigError: the profile or the identity is unusable.
        """
        self.settings = settings
        try:
            self.profile = load_profile(settings.profile)
            self.gateway = connect_profile(settings.profile, user=settings.user)
        except (GatewayError, OSError, ValueError) as exc:
            raise ConfigError(f"connection profile {settings.profile}: {exc}") from exc
        self.msp_id: str = self.gateway.identity.msp_id
        self.cert_pem: bytes = self.gateway.identity.cert_pem
        self.org_name: str = self.profile.organization
        self.channel = settings.channel
        self.network = self.gateway.get_network(settings.channel)
        self.default = self.network.get_contract("qcchain")
        self.qscc = self.network.get_contract("qscc")
        self.key = self._load_key(settings.state)
        self._key_registered = False
        self._lock = threading.Lock()

    def close(self) -> None:
        self.gateway.close()

    @staticmethod
    def _load_key(state: Path) -> SM2PrivateKey:
        store = FileKeystore(state / "keys")
        password = secret_file(state / "keystore.pass")
        if KEY_LABEL not in store.labels():
            store.put(KEY_LABEL, SM2PrivateKey.generate(), password)
        key = store.get(KEY_LABEL, password)
        if not isinstance(key, SM2PrivateKey):
            raise ConfigError(f"keystore {state / 'keys'}: key {KEY_LABEL!r} is not an SM2 key")
        return key

    # ------------------------------------------------------------------ clients
    def contract(self, name: str) -> Any:
        return self.network.get_contract("qcchain", name)

    def records(self) -> RecordsClient:
        return RecordsClient(self.contract("records"))

    def sharing(self) -> SharingClient:
        return SharingClient.with_key(self.default, self.key)

    def governance(self) -> GovernanceClient:
        return GovernanceClient(self.contract("governance"), self.contract("keys"), self.msp_id, self.cert_pem, self.key)

    def audit(self) -> AuditClient:
        return AuditClient(self.default, self.channel, self.qscc)

    def evaluate(self, fn: str, *args: str) -> Any:
        """JSON answer of a ``qcchain`` read. Raises the gateway's EvaluateError."""
        return json.loads(self.default.evaluate_transaction(fn, *args))

    # ------------------------------------------------------------------ console key
    @property
    def key_id(self) -> str:
        return self.key.public_key().key_id()

    def ensure_key_registered(self) -> bool:
        """Register the console's SM2 key for the org unless it already is; False if the chain refused
        (e.g. governance not bootstrapped yet). Never raises for a chain refusal."""
        with self._lock:
            if self._key_registered:
                return True
            try:
                if read_key_record(self.default, self.key_id) is None:
                    now = int(time.time())
                    self.governance().register_key(now - 60, now + KEY_VALIDITY)
                    log.info("registered the console's SM2 key %s for %s", self.key_id[:16], self.msp_id)
                self._key_registered = True
            except GatewayError as exc:
                log.warning("the console's SM2 key is not registered yet: %s", " ".join(str(exc).split())[:200])
            return self._key_registered
