"""Test kit for contract tests on MockStub: a five-org consortium with admin/user certificates and SM2 keys.

Usage::

    kit = GovKit()            # bootstrapped, every org has one SM2 key (govern, sign, encrypt)
    kit.ok("governance:members", [], org="Regulator")
    kit.passed(kit.proposal("freeze", contract="records"), signers=["Regulator"])
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qcchain_core.canonical import canonical_json
from qcchain_core.gm import SM2PrivateKey
from qcchain_shim.testing import MockStub

from qcchain_contracts.governance import Governance
from qcchain_model.creditcode import credit_check_char
from qcchain_contracts.keyregistry import KeyRegistry, registration_message

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_760_000_000
CHANNEL = "qcchannel"
ORGS = [
    ("Inspection", "inspection_body", "91320000MA1NP0001"),
    ("Regulator", "regulator", "11320000MB1RG0002"),
    ("UsingUnit", "using_unit", "91320100MA1UN0003"),
    ("Manufacturer", "manufacturer", "91320200MA1MN0004"),
    ("Maintenance", "maintenance_unit", "91320300MA1MT0005"),
]


def policy(name: str) -> dict[str, Any]:
    """A shipped policy document from ``policies/<name>.yaml``."""
    return yaml.safe_load((ROOT / "policies" / f"{name}.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def cert_pem(msp_id: str, admin: bool) -> bytes:
    """A self-signed ECDSA P-256 certificate with NodeOU ``admin`` or ``client``."""
    key = ec.generate_private_key(ec.SECP256R1())
    ou = "admin" if admin else "client"
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{'Admin' if admin else 'User1'}@{msp_id}")])
    now = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Org:
    name: str
    role: str
    credit_code: str
    keys: list[SM2PrivateKey] = field(default_factory=list)

    @property
    def msp(self) -> str:
        return f"{self.name}MSP"

    def member(self) -> dict[str, str]:
        return {"msp_id": self.msp, "role": self.role, "name": f"{self.name} Co.", "credit_code": self.credit_code}

    @property
    def key(self) -> SM2PrivateKey:
        return self.keys[-1]

    @property
    def key_id(self) -> str:
        return self.key.public_key().key_id()


def make_org(name: str, role: str, first17: str) -> Org:
    return Org(name, role, first17 + credit_check_char(first17))


class GovKit:
    """A MockStub ledger with the consortium bootstrapped and keys registered."""

    def __init__(self, extra_contracts: tuple[Any, ...] = (), bootstrap: bool = True, keys: bool = True) -> None:
        self.stub = MockStub(CHANNEL)
        self.contracts = [Governance(), KeyRegistry(), *extra_contracts]
        self.now = T0
        self.orgs = {name: make_org(name, role, code) for name, role, code in ORGS}
        if bootstrap:
            self.ok("governance:bootstrap", [self.members(), self.policies()], org="Regulator")
        if bootstrap and keys:
            for org in self.orgs.values():
                self.register_key(org)

    def members(self) -> list[dict[str, str]]:
        return [org.member() for org in self.orgs.values()]

    @staticmethod
    def policies() -> dict[str, Any]:
        return {name: policy(name) for name in ("governance", "grading", "sharing")}

    def tick(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now

    def call(self, fn: str, args: list[Any], org: str = "Regulator", admin: bool = True, **kw: Any) -> Any:
        """Submit (invoke + commit if OK) and return the Response."""
        o = self.orgs.get(org)
        msp = o.msp if o else f"{org}MSP"
        raw = [a if isinstance(a, (str, bytes)) else json.dumps(a) for a in args]
        return self.stub.submit(self.contracts, fn, raw, creator=(msp, cert_pem(msp, admin)), tx_time=self.tick(), **kw)

    def ok(self, fn: str, args: list[Any], **kw: Any) -> Any:
        response = self.call(fn, args, **kw)
        assert response.ok, f"{fn} failed: {response.message}"
        return json.loads(response.payload) if response.payload else None

    def fails(self, fn: str, args: list[Any], contains: str, **kw: Any) -> str:
        before = {c: dict(t) for c, t in self.stub.state.items()}
        response = self.call(fn, args, **kw)
        assert not response.ok, f"{fn} unexpectedly succeeded"
        assert contains.lower() in response.message.lower(), response.message
        assert self.stub.last_writes == {}, f"{fn} wrote {sorted(self.stub.last_writes)} before refusing"
        assert {c: dict(t) for c, t in self.stub.state.items()} == before, "a failed transaction changed state"
        return response.message

    def register_key(self, org: Org, usages: tuple[str, ...] = ("encrypt", "govern", "sign"), lifetime: int = 10**7,
                     key: SM2PrivateKey | None = None) -> dict[str, Any]:
        key = key or SM2PrivateKey.generate()
        nb, na = self.now, self.now + lifetime
        message = registration_message(org.msp, key.public_key().key_id(),
                                       _sha256(cert_pem(org.msp, True)), sorted(usages), nb, na)
        result = self.ok("keys:register", [key.public_key().to_pem().decode(), sorted(usages), nb, na,
                                           key.sign(message).hex()], org=org.name)
        org.keys.append(key)
        return result

    def proposal(self, operation: str, contract: str = "", version: str = "", digest: str = "", nonce: str | None = None,
                 expiry: int | None = None, chaincode: str = "qcchain", reason: str = "test") -> dict[str, Any]:
        self._n = getattr(self, "_n", 0) + 1
        return {"operation": operation, "target": {"channel": CHANNEL, "chaincode": chaincode, "contract": contract},
                "version": version, "package_digest": digest, "reason": reason,
                "nonce": nonce or f"nonce-{self._n:06d}", "expiry": expiry if expiry is not None else self.now + 3600}

    def sig(self, org: str, body: dict[str, Any]) -> str:
        return self.orgs[org].key.sign(canonical_json(body)).hex()

    def passed(self, body: dict[str, Any], signers: list[str], artifact: dict[str, Any] | None = None,
               executor: str | None = None) -> dict[str, Any]:
        """Propose (first signer), sign (others) and execute; return the executed proposal."""
        first, *rest = signers
        p = self.ok("governance:propose", [body, artifact or {}, self.orgs[first].key_id, self.sig(first, body)], org=first)
        for name in rest:
            self.ok("governance:sign", [p["proposal_id"], self.orgs[name].key_id, self.sig(name, body)], org=name)
        return self.ok("governance:execute", [p["proposal_id"]], org=executor or first)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
