"""A smart contract on a channel: evaluate and submit transactions, or build proposals to sign offline.

:class:`ContractCore` builds proposals (transport-independent); :class:`Contract` runs them with the
blocking client, :class:`qcchain_gateway.aio.AsyncContract` with the asyncio one.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, Mapping, Sequence, TypeVar

from qcchain_gateway.client import GatewayClient, SigningIdentity
from qcchain_gateway.commit import SubmittedTransaction
from qcchain_gateway.proposal import Proposal
from qcchain_gateway.proposalbuilder import Argument, TransactionContext, build_proposed_transaction

logger = logging.getLogger(__name__)

ClientT = TypeVar("ClientT")
ProposalT = TypeVar("ProposalT")


class ContractCore(Generic[ClientT, ProposalT]):
    """Transactions of one chaincode (and optionally one named contract in it) on one channel, whatever
    the transport. Subclasses set :attr:`_proposal_type`."""

    _proposal_type: Any = None

    def __init__(
        self,
        client: ClientT,
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
    ) -> ProposalT:
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
        return self._proposal_type(self._client, self._signing_identity, self.channel, proposed)  # type: ignore[no-any-return]


class Contract(ContractCore[GatewayClient, Proposal]):
    """Transactions of one chaincode (and optionally one named contract in it) on one channel.

    Which call to use:

    * :meth:`evaluate_transaction` / :meth:`evaluate` — a query: one peer runs the transaction and answers;
      nothing is endorsed, ordered or written.
    * :meth:`submit_transaction` / :meth:`submit` — an update: endorse on the peers the policy needs,
      submit to the orderer, wait until the transaction is committed, return the chaincode's result.
    * :meth:`submit_async` — endorse and submit, return at once with a :class:`SubmittedTransaction`:
      its result is known, its commit awaited later with ``get_status()`` (to pipeline many transactions).
    * :meth:`new_proposal` — build only: for offline signing (the key is elsewhere) or to control each step
      (``proposal.endorse()`` → ``transaction.submit()`` → ``commit.get_status()``). Each step's ``bytes()``
      and ``digest()`` go to the key holder; :meth:`Gateway.new_signed_proposal` and its siblings rebuild
      the step with the signature attached.

    Which error at which stage (all in :mod:`qcchain_gateway.errors`):

    * building: :class:`ArgumentError` (an argument not str/bytes); signing: :class:`SigningError`;
    * evaluate: :class:`EvaluateError`; endorse: :class:`EndorseError` (per-peer reasons in ``details``) —
      when the chaincode answered 400/401/403/404/409/410/423 the error is also :class:`InvalidInputError`,
      :class:`UnauthorizedError`, :class:`ForbiddenError`, :class:`NotFoundError`, :class:`ConflictError`,
      :class:`GoneError` or :class:`LockedError`;
    * submit: :class:`SubmitError` (the orderer refused); commit status: :class:`CommitStatusError`
      (e.g. ``DEADLINE_EXCEEDED``); validation: :class:`CommitError` (ordered but invalid, e.g.
      ``MVCC_READ_CONFLICT``) — raised by :meth:`submit`, a status value with :meth:`submit_async`.

    Every gRPC-stage error carries ``code`` (a ``grpc.StatusCode``), ``details`` and ``transaction_id``.
    """

    _proposal_type = Proposal

    def evaluate_transaction(self, name: str, *args: Argument) -> bytes:
        """Evaluate ``name(*args)`` on a peer (query; nothing is ordered).

        Raises:
            EvaluateError (or a typed status subtype), SigningError, ArgumentError.
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
            EvaluateError (or a typed status subtype), SigningError, ArgumentError.
        """
        return self.new_proposal(name, arguments, transient, endorsing_organizations).evaluate(timeout)

    def submit_transaction(
        self,
        name: str,
        *args: Argument,
        transient: Mapping[str, Argument] | None = None,
        endorsing_organizations: Sequence[str] | None = None,
    ) -> bytes:
        """Endorse, submit and wait for the commit of ``name(*args)``; returns the chaincode's result.

        Raises:
            EndorseError (or a typed status subtype), SubmitError, CommitStatusError, CommitError,
            SigningError, ArgumentError.
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
            EndorseError (or a typed status subtype), SubmitError, CommitStatusError, CommitError,
            SigningError, ArgumentError.
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
            EndorseError (or a typed status subtype), SubmitError, SigningError, ArgumentError.
        """
        proposal = self.new_proposal(name, arguments, transient, endorsing_organizations)
        return proposal.endorse(timeout).submit(timeout)
