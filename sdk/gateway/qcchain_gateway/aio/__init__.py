"""The Gateway client for asyncio programs: the full blocking API, awaited.

Shaped like the blocking API (and the official Node client, whose calls return promises)::

    from qcchain_gateway import aio
    channel = aio.new_channel("peer0.example.com:7051", tls_root_pem)      # inside the event loop
    async with aio.connect(identity, channel, signer, close_connection=True) as gateway:
        contract = gateway.get_network("qcchannel").get_contract("qcchain", "records")
        result = await contract.submit_transaction("create", "id1", "{}")
        async with gateway.get_network("qcchannel").get_chaincode_events("qcchain", start_block=0) as events:
            async for event in events:
                ...

Proposals, signatures, requests, offline signing and checkpoints are the blocking API's own code (the
``*Core`` classes of :mod:`qcchain_gateway.proposal`, :mod:`~qcchain_gateway.transaction`,
:mod:`~qcchain_gateway.commit`, :mod:`~qcchain_gateway.events`, :mod:`~qcchain_gateway.contract`,
:mod:`~qcchain_gateway.network`, :mod:`~qcchain_gateway.gateway`); only the transport
(:class:`~qcchain_gateway.aio.client.AsyncGatewayClient`) differs. Errors are those of
:mod:`qcchain_gateway.errors`, raised at the same stages.
"""

from __future__ import annotations

from qcchain_gateway.aio.events import AsyncChaincodeEventsRequest, AsyncChaincodeEventStream
from qcchain_gateway.aio.gateway import AsyncContract, AsyncGateway, AsyncNetwork, connect
from qcchain_gateway.aio.transactions import AsyncCommit, AsyncProposal, AsyncSubmittedTransaction, AsyncTransaction
from qcchain_gateway.connection import new_aio_channel as new_channel

__all__ = [
    "AsyncChaincodeEventStream",
    "AsyncChaincodeEventsRequest",
    "AsyncCommit",
    "AsyncContract",
    "AsyncGateway",
    "AsyncNetwork",
    "AsyncProposal",
    "AsyncSubmittedTransaction",
    "AsyncTransaction",
    "connect",
    "new_channel",
]
