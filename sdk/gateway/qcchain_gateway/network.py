"""A channel ("network") as seen through the Gateway.

:class:`NetworkCore` builds contracts and event requests (transport-independent); :class:`Network` opens
blocking event streams, :class:`qcchain_gateway.aio.AsyncNetwork` asyncio ones.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

from qcchain_gateway.checkpoint import Checkpoint
from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.contract import Contract
from qcchain_gateway.events import ChaincodeEventsRequest, ChaincodeEventStream, new_chaincode_events_request

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")
ContractT = TypeVar("ContractT")
EventsRequestT = TypeVar("EventsRequestT")


class NetworkCore(Generic[ClientT, ContractT, EventsRequestT]):
    """One channel, whatever the transport. Subclasses set the contract and events-request types."""

    _contract_type: Any = None
    _events_request_type: Any = None

    def __init__(self, client: ClientT, signing_identity: SigningIdentity, name: str) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self.name = name

    def get_contract(self, chaincode: str, contract_name: str = "") -> ContractT:
        """The contract ``contract_name`` (``""``: the default one) of ``chaincode``."""
        return self._contract_type(self._client, self._signing_identity, self.name, chaincode, contract_name)  # type: ignore[no-any-return]

    def new_chaincode_events_request(
        self, chaincode: str, start_block: int | None = None, checkpoint: Checkpoint | None = None
    ) -> EventsRequestT:
        """Build (not send) an events request: from ``start_block``, after ``checkpoint`` (wins over
        ``start_block`` when non-empty), else from the next committed block. Sign it offline with
        ``bytes()``/``digest()``/``set_signature()`` or let ``get_events()`` sign it.

        Raises:
            ValueError: ``start_block`` is negative.
        """
        signed = new_chaincode_events_request(
            self._signing_identity.creator(), self.name, chaincode, start_block, checkpoint
        )
        return self._events_request_type(self._client, self._signing_identity, signed)  # type: ignore[no-any-return]


class Network(NetworkCore[GatewayClient, Contract, ChaincodeEventsRequest]):
    """One channel: its contracts (:meth:`get_contract`) and chaincode event streams.

    Events are read with :meth:`get_chaincode_events` (a ``with`` block closes the stream); to resume
    without loss or repeats, checkpoint each processed event with a checkpointer
    (:class:`~qcchain_gateway.checkpoint.InMemoryCheckpointer`, :class:`~qcchain_gateway.checkpoint.FileCheckpointer`)
    and pass it as ``checkpoint`` when reopening. A broken stream raises
    :class:`~qcchain_gateway.errors.EventsError` while iterating.
    """

    _contract_type = Contract
    _events_request_type = ChaincodeEventsRequest

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
