"""A smart contract on a channel: evaluate and submit transactions, or build proposals to sign offline."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.commit import SubmittedTransaction
from qcchain_gateway.proposal import Proposal
from qcchain_gateway.proposalbuilder import Argument, TransactionContext, build_proposed_transaction

logger = logging.getLogger(__name__)


class Contract:
    """Transactions of one chaincode (and optionally one named contract in it) on one channel."""

    def __init__(
        self,
        client: GatewayClient,
        signing_identity: SigningIdentity,
        channel: str,
        chaincode: str,
        contract_name: str = "",
    ) -> None:
        self._client = client
        self._signing_identity = signing_identity
        self.channel = channel
        self.chaincode_name = chaincode
        self.contract_name = contract_name

    def _qualified(self, name: str) -> str:
        return f"{self.contract_name}:{name}" if self.contract_name else name

    def new_proposal(
        self,
        transaction_name: str,
        arguments: Sequence[Argument] = (),
        transient: Mapping[str, Argument] | None = None,
        endorsing_organizations: Sequence[str] | None = None,
    ) -> Proposal:
        """Build (not send) a proposal; ``proposal.bytes()``/``digest()`` allow signing elsewhere.

        Raises:
            ArgumentError: an argument or transient value is not str/bytes.
        """
        ctx = TransactionContext.new(self._signing_identity.creator())
        proposed = build_proposed_transaction(
            ctx,
            self.channel,
            self.chaincode_name,
            self._qualified(transaction_name),
            arguments,
            transient,
            endorsing_organizations,
        )
        return Proposal(self._client, self._signing_identity, self.channel, proposed)

    def evaluate_transaction(self, name: str, *args: Argument) -> bytes:
        """Evaluate ``name(*args)`` on a peer (query; nothing is ordered).

        Raises:
            EvaluateError, SigningError, ArgumentError.
        """
        return self.evaluate(name, arguments=args)

    def evaluate(
        self,
        name: str,
        arguments: Sequence[Argument] = (),
        transient: Mapping[str, Argument] | None = None,
        endorsing_organizations: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Evaluate with options; ``endorsing_organizations`` picks the target org(s).

        Raises:
            EvaluateError, SigningError, ArgumentError.
        """
        proposal = self.new_proposal(name, arguments, transient, endorsing_organizations)
        return proposal.evaluate(timeout)

    def submit_transaction(
        self,
        name: str,
        *args: Argument,
        transient: Mapping[str, Argument] | None = None,
        endorsing_organizations: Sequence[str] | None = None,
    ) -> bytes:
        """Endorse, submit and wait for the commit of ``name(*args)``; returns the chaincode's result.

        Raises:
            EndorseError, SubmitError, CommitStatusError, CommitError, SigningError, ArgumentError.
        """
        return self.submit(name, args, transient, endorsing_organizations)

    def submit(
        self,
        name: str,
        arguments: Sequence[Argument] = (),
        transient: Mapping[str, Argument] | None = None,
        endorsing_organizations: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """As :meth:`submit_transaction`; ``timeout`` (if given) bounds each of the three calls.

        Raises:
            EndorseError, SubmitError, CommitStatusError, CommitError, SigningError, ArgumentError.
        """
        submitted = self.submit_async(name, arguments, transient, endorsing_organizations, timeout)
        submitted.get_status(timeout).raise_for_status()
        return submitted.get_result()

    def submit_async(
        self,
        name: str,
        arguments: Sequence[Argument] = (),
        transient: Mapping[str, Argument] | None = None,
        endorsing_organizations: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> SubmittedTransaction:
        """Endorse and submit; returns at once with a handle (``get_result()``, ``get_status()``).

        Raises:
            EndorseError, SubmitError, SigningError, ArgumentError.
        """
        proposal = self.new_proposal(name, arguments, transient, endorsing_organizations)
        return proposal.endorse(timeout).submit(timeout)
