"""Gateway request messages, built once for the blocking API and the asyncio API (:mod:`qcchain_gateway.aio`).

Pure functions: nothing here signs or sends.
"""

from __future__ import annotations

from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2

__all__ = ["endorse_request", "evaluate_request", "prepared_transaction", "submit_request"]


def evaluate_request(proposed: gateway_pb2.ProposedTransaction, channel: str) -> gateway_pb2.EvaluateRequest:
    """An ``EvaluateRequest`` for a (signed) proposal; its endorsing orgs become the target orgs."""
    return gateway_pb2.EvaluateRequest(
        transaction_id=proposed.transaction_id,
        channel_id=channel,
        proposed_transaction=proposed.proposal,
        target_organizations=proposed.endorsing_organizations,
    )


def endorse_request(proposed: gateway_pb2.ProposedTransaction, channel: str) -> gateway_pb2.EndorseRequest:
    """An ``EndorseRequest`` for a (signed) proposal."""
    return gateway_pb2.EndorseRequest(
        transaction_id=proposed.transaction_id,
        channel_id=channel,
        proposed_transaction=proposed.proposal,
        endorsing_organizations=proposed.endorsing_organizations,
    )


def prepared_transaction(transaction_id: str, response: gateway_pb2.EndorseResponse) -> gateway_pb2.PreparedTransaction:
    """The ``PreparedTransaction`` (unsigned envelope) of an endorse response."""
    return gateway_pb2.PreparedTransaction(transaction_id=transaction_id, envelope=response.prepared_transaction)


def submit_request(transaction_id: str, channel: str, envelope: common_pb2.Envelope) -> gateway_pb2.SubmitRequest:
    """A ``SubmitRequest`` for a signed envelope."""
    return gateway_pb2.SubmitRequest(transaction_id=transaction_id, channel_id=channel, prepared_transaction=envelope)
