"""A channel ("network") as seen through the Gateway."""

from __future__ import annotations

import logging

from qcchain_gateway.checkpoint import Checkpoint
from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.contract import Contract
from qcchain_gateway.events import ChaincodeEventsRequest, ChaincodeEventStream, new_chaincode_events_request

logger = logging.getLogger(__name__)


class Network:
    """One channel: its contracts and chaincode event streams."""

    def __init__(self, client: GatewayClient, signing_identity: SigningIdentity, name: str) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self.name = name

    def get_contract(self, chaincode: str, contract_name: str = "") -> Contract:
        """The contract ``contract_name`` (``""``: the default one) of ``chaincode``."""
        return Contract(self._client, self._signing_identity, self.name, chaincode, contract_name)

    def new_chaincode_events_request(
        self, chaincode: str, start_block: int | None = None, checkpoint: Checkpoint | None = None
    ) -> ChaincodeEventsRequest:
        """Build (not send) an events request; see :meth:`get_chaincode_events`.

        Raises:
            ValueError: ``start_block`` is negative.
        """
        signed = new_chaincode_events_request(
            self._signing_identity.creator(), self.name, chaincode, start_block, checkpoint
        )
        return ChaincodeEventsRequest(self._client, self._signing_identity, signed)

    def get_chaincode_events(
        self,
        chaincode: str,
        start_block: int | None = None,
        checkpoint: Checkpoint | None = None,
        timeout: float | None = None,
    ) -> ChaincodeEventStream:
        """Stream ``chaincode``'s events from ``start_block`` / after ``checkpoint`` / from the next block.

        Raises:
            ValueError: ``start_block`` is negative.
            SigningError: no signer / the signer failed.
        """
        return self.new_chaincode_events_request(chaincode, start_block, checkpoint).get_events(timeout)
