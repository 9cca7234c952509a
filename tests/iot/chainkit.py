"""A ContractLike test double over the MockStub ledger of GovKit (the warnings and devices contracts),
raising the Gateway's typed errors as a real Gateway contract would."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import grpc

from qcchain_gateway.errors import EndorseError, EvaluateError, NotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contracts"))
from govkit import GovKit, cert_pem  # noqa: E402

from qcchain_contracts.devices import Devices  # noqa: E402
from qcchain_contracts.warnings import Warnings  # noqa: E402


class _NotFound(NotFoundError, EvaluateError):
    pass


class KitContract:
    """``submit_transaction`` / ``evaluate_transaction`` as one org of the kit."""

    def __init__(self, kit: GovKit, org: str) -> None:
        self.kit, self.org, self.channel = kit, org, "qcchannel"

    def _call(self, name: str, args: tuple[Any, ...], evaluate: bool) -> bytes:
        raw = [a if isinstance(a, (str, bytes)) else str(a) for a in args]
        if evaluate:
            response = self.kit.stub.invoke(self.kit.contracts, name, raw, creator=self._creator(),
                                            tx_time=self.kit.now)
        else:
            response = self.kit.call(name, raw, org=self.org)
        if not response.ok:
            message = f"chaincode response {response.status}, {response.message}"
            if response.status == 404:
                raise _NotFound(message, grpc.StatusCode.UNKNOWN)
            raise (EvaluateError if evaluate else EndorseError)(message, grpc.StatusCode.UNKNOWN)
        return bytes(response.payload)

    def _creator(self) -> tuple[str, bytes]:
        msp = self.kit.orgs[self.org].msp
        return msp, cert_pem(msp, True)

    def submit_transaction(self, name: str, *args: Any, **options: Any) -> bytes:
        return self._call(name, args, evaluate=False)

    def evaluate_transaction(self, name: str, *args: Any) -> bytes:
        return self._call(name, args, evaluate=True)


def chain_kit() -> GovKit:
    """A bootstrapped consortium with the devices and warnings contracts."""
    return GovKit(extra_contracts=(Devices(), Warnings()), keys=False)
