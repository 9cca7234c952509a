"""A bootstrapped devnet for the IoT chain path (``bench iot`` warning latency, the end-to-end test):
the consortium bootstrapped as in ``qcchain devnet up --bootstrap``, the monitoring devices registered
by the using unit, and the orgs' Gateway clients (:class:`IotChain`).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from qcchain_consortium.consortium import load_consortium
from qcchain_core.gm import sm3
from qcchain_devnet.daemon import UpOptions, running_devnet
from qcchain_devnet.detached import start_detached
from qcchain_devnet.detached import stop as stop_devnet
from qcchain_sdk.contracts.bootstrap import bootstrap_consortium
from qcchain_sdk.contracts.story import StoryConfig, orgs_from_profiles
from qcchain_sdk.contracts.warnings import DevicesClient, WarningsClient

from .errors import BenchError

__all__ = ["IotChain", "iot_chain", "device_doc"]

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "qcchannel"


def device_doc(device_id: str, reg_no: str = "32010001", device_type: str = "pressure_vessel") -> dict[str, Any]:
    """A ``devices:register`` document of a pressure transmitter (seed-002 groups filled in)."""
    return {"device_id": device_id, "reg_no": reg_no, "device_type": device_type,
            "credential_sha256": sm3(device_id.encode()).hex(),
            "statistics": {"sensor_kind": "pressure transmitter", "quantities": ["pressure", "temperature"],
                           "install_location": "bench rig", "install_date": "2025-01-10"},
            "basic": {"manufacturer": "Sensor Co.", "model": "PT-100", "serial_no": device_id},
            "maintenance": {"maintainer": "Maintenance Co.", "last_calibration": "2025-01-01",
                            "calibration_due": "2026-01-01"}}


@dataclass
class IotChain:
    """Gateway clients of the orgs (``orgs``: name -> StoryOrg) and the connection profiles."""

    orgs: dict[str, Any]
    profiles: dict[str, Path]
    state_dir: Path

    def warnings(self, org: str) -> WarningsClient:
        return WarningsClient(self.orgs[org].contract(""))

    def devices(self, org: str) -> DevicesClient:
        return DevicesClient(self.orgs[org].contract(""))

    def msp(self, org: str) -> str:
        return str(self.orgs[org].msp_id)


@contextlib.contextmanager
def iot_chain(state_dir: Path, device_ids: Sequence[str], owner: str = "UsingUnit",
              detached: bool = False) -> Iterator[IotChain]:
    """A devnet running from the empty ``state_dir`` — in this process, or in its own process when
    ``detached`` (the bench: it must not share this process's interpreter lock with the consumer) —
    bootstrapped, with ``device_ids`` registered by ``owner``; stopped on exit.

    Raises:
        BenchError: the devnet did not start or the bootstrap / a registration was refused.
    """
    members = {o.name: {"role": o.role, "credit_code": o.credit_code, "full_name": o.full_name}
               for o in load_consortium(None).orgs}
    policies = {n: yaml.safe_load((ROOT / "policies" / f"{n}.yaml").read_text(encoding="utf-8"))
                for n in ("governance", "grading", "sharing", "warnings")}
    stack = contextlib.ExitStack()
    try:
        options = UpOptions(state_dir=state_dir, port=0, chaincode_module="qcchain_contracts")
        if detached:
            state_dir.mkdir(parents=True, exist_ok=True)
            start_detached(options)
            stack.callback(lambda: stop_devnet(state_dir))
        else:
            stack.enter_context(running_devnet(options))
        info = json.loads((state_dir / "devnet.json").read_text(encoding="utf-8"))
        profiles = {name: Path(p) for name, p in info["connection_profiles"].items()}
        orgs, gateways = orgs_from_profiles(profiles, CHANNEL, members)
        stack.callback(lambda: [g.close() for g in gateways])
        digest = info["chaincode_servers"]["qcchain"]["package_id"].rsplit(":", 1)[1]
        bootstrap_consortium(orgs, StoryConfig(CHANNEL, policies, lambda: int(time.time()), (digest, digest), {},
                                               say=lambda _line: None))
        devices = DevicesClient(orgs[owner].contract(""))
        for device_id in device_ids:
            devices.register(device_doc(device_id))
    except Exception as exc:  # noqa: BLE001 - devnet, gateway and story errors: one line for the bench
        stack.close()
        raise BenchError(f"IoT chain set-up failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from exc
    with stack:
        yield IotChain(orgs, profiles, state_dir)
