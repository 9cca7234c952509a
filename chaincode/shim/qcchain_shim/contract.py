"""Contract layer: contract classes, ``Contract:function`` routing, typed parameters and results.

Limits (documented): at most :data:`MAX_ARGS` arguments and :data:`MAX_ARGS_BYTES` bytes of arguments
per transaction; larger requests are refused with an error response before any contract code runs.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from greenlet import GreenletExit
from qcchain_core.canonical import canonical_json
from qcchain_core.errors import CanonicalJSONError

from .args import convert_arg, schema_for
from .errors import ChaincodeError, CreatorIdentityError, InvalidArgumentError, InvalidKeyError, PeerError
from .identity import ClientIdentity
from .ledger import Response
from .stubbase import StubBase

logger = logging.getLogger(__name__)

MAX_ARGS = 256
MAX_ARGS_BYTES = 8 * 1024 * 1024
SYSTEM_CONTRACT = "org.hyperledger.fabric"
METADATA_FUNCTION = f"{SYSTEM_CONTRACT}:GetMetadata"

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What a transaction function receives as ``ctx``: ``ctx.stub`` (the ledger and proposal API,
    :class:`~qcchain_shim.stubbase.StubBase`) and ``ctx.client_identity`` (the submitting client, parsed
    on first use). One context per transaction; do not keep it beyond the call."""

    def __init__(self, stub: StubBase) -> None:
        self.stub = stub

    @cached_property
    def client_identity(self) -> ClientIdentity:
        """The creator as :class:`ClientIdentity`. Raises CreatorIdentityError if the creator is malformed."""
        return ClientIdentity(self.stub.get_creator())


def transaction(fn: F | None = None, *, evaluate: bool = False) -> Any:
    """Mark a contract method as a transaction function, callable as ``"<contract>:<method>"``.

    Use as ``@transaction`` (submit: may write) or ``@transaction(evaluate=True)`` (read-only; the metadata
    says so, nothing enforces it). Parameters after ``ctx`` are converted from the argument bytes by their
    annotation (see :mod:`qcchain_shim.args`); the return value is encoded as described in
    :func:`encode_result`. Methods without the mark cannot be called.
    """

    def mark(func: F) -> F:
        func.__qc_transaction__ = {"evaluate": evaluate}  # type: ignore[attr-defined]
        return func

    return mark(fn) if fn is not None else mark


class Contract:
    """Base class of contracts (as fabric-contract-api's ``Contract``). ``name`` routes ``"name:fn"``
    (default: the class name; the first contract given to :func:`qcchain_shim.serve` also answers bare
    ``"fn"``); the hooks may be overridden.

    A transaction function that raises :class:`~qcchain_shim.errors.ChaincodeError` fails with its status
    and message; bad arguments fail with status 400 before the function runs; any other exception fails
    with status 500 naming the exception type. A failed transaction's writes are discarded by the peer.

    ``write_batch = True`` opens a write batch before every submitted (non-``evaluate``) transaction of the
    contract: on a Fabric v3.1+ peer its writes then go in one message at the end instead of one round
    trip each (see :meth:`~qcchain_shim.stubbase.StubBase.start_write_batch`).
    """

    name: str = ""
    write_batch: bool = False

    def before_transaction(self, ctx: Context) -> None:
        """Called before every transaction function of this contract."""

    def after_transaction(self, ctx: Context, result: object) -> None:
        """Called after a transaction function returned ``result``."""

    def unknown_transaction(self, ctx: Context) -> object:
        """Called for a function this contract does not have.

        Raises:
            ChaincodeError: always, naming the function (override to change).
        """
        fn, _ = ctx.stub.get_function_and_parameters()
        raise ChaincodeError(f"function '{fn}' is not defined in contract '{self.contract_name}'", status=400)

    @property
    def contract_name(self) -> str:
        """``name`` or the class name."""
        return self.name or type(self).__name__


@dataclass(frozen=True)
class _Param:
    name: str
    annotation: Any
    required: bool


@dataclass(frozen=True)
class _Tx:
    name: str
    method: Callable[..., Any]
    params: tuple[_Param, ...]
    returns: Any
    evaluate: bool
    #: how many parameters have no default (computed once, checked for every call)
    required: int = 0


def _describe(name: str, method: Callable[..., Any], evaluate: bool) -> _Tx:
    hints = typing.get_type_hints(method)
    sig = inspect.signature(method)
    params = []
    for index, p in enumerate(sig.parameters.values()):
        if index == 0:
            continue  # ctx
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            raise TypeError(f"transaction {name}: parameter {p.name} must be positional")
        params.append(_Param(p.name, hints.get(p.name, str), p.default is inspect.Parameter.empty))
    return _Tx(name, method, tuple(params), hints.get("return", Any), evaluate, sum(1 for p in params if p.required))


def encode_result(result: object) -> bytes:
    """``str`` → UTF-8, ``bytes`` → as is, ``None`` → empty, else canonical JSON.

    Raises:
        CanonicalJSONError: the result has no JSON form.
    """
    if result is None:
        return b""
    if isinstance(result, str):
        return result.encode("utf-8")
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    return canonical_json(result)


class Router:
    """Routes ``[function, *args]`` of a transaction to a contract method and encodes the response.

    Raises (constructor):
        InvalidArgumentError: no contracts, or two with one name (or a reserved name / one with ``:``).
    """

    def __init__(self, contracts: Sequence[Contract | type[Contract]], title: str = "qcchain", version: str = "0.1.0") -> None:
        if not contracts:
            raise InvalidArgumentError("at least one contract is required")
        self.contracts: dict[str, Contract] = {}
        self._txs: dict[str, dict[str, _Tx]] = {}
        for item in contracts:
            contract = item() if isinstance(item, type) else item
            cname = contract.contract_name
            if cname in self.contracts or cname == SYSTEM_CONTRACT or ":" in cname:
                raise InvalidArgumentError(f"contract name '{cname}' is duplicated or reserved")
            self.contracts[cname] = contract
            self._txs[cname] = self._collect(contract)
        self.default = next(iter(self.contracts))
        self.title, self.version = title, version
        self._metadata: bytes | None = None

    @staticmethod
    def _collect(contract: Contract) -> dict[str, _Tx]:
        found: dict[str, _Tx] = {}
        for attr in sorted(dir(type(contract))):
            member = getattr(type(contract), attr, None)
            mark = getattr(member, "__qc_transaction__", None)
            if mark is not None:
                found[attr] = _describe(attr, getattr(contract, attr), mark["evaluate"])
        return found

    def invoke(self, stub: StubBase) -> Response:
        """Run the transaction named by the stub's first argument; never raises (except ``GreenletExit``,
        which discards the transaction's greenlet): any ``BaseException`` of contract code, ``SystemExit`` and
        ``KeyboardInterrupt`` included, is a status-500 response."""
        args = stub.get_args()
        try:
            _check_sizes(args)
            if not args:
                raise InvalidArgumentError("no function name given (empty argument list)")
            try:
                fn = args[0].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidArgumentError("function name is not valid UTF-8") from exc
            if fn == METADATA_FUNCTION:
                return Response(200, "", self.metadata())
            return Response(200, "", self._run(stub, fn, args[1:]))
        except ChaincodeError as exc:
            return Response(exc.status if exc.status >= 400 else 500, exc.message)
        except (InvalidArgumentError, InvalidKeyError, CreatorIdentityError, CanonicalJSONError) as exc:
            return Response(400, str(exc))
        except PeerError as exc:
            return Response(500, f"peer refused a request: {exc}")
        except GreenletExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - the transaction boundary: contract code never ends the server
            logger.warning("transaction %s failed with %s", stub.get_tx_id()[:8], type(exc).__name__)
            return Response(500, f"{type(exc).__name__}: {exc}")

    def _run(self, stub: StubBase, fn: str, raw: list[bytes]) -> bytes:
        cname, _, tname = fn.rpartition(":")
        cname = cname or self.default
        contract = self.contracts.get(cname)
        if contract is None:
            raise ChaincodeError(f"contract '{cname}' does not exist (function '{fn}')", status=400)
        ctx = Context(stub)
        tx = self._txs[cname].get(tname)
        if tx is None:
            return encode_result(contract.unknown_transaction(ctx))
        values = _convert_all(tx, raw)
        if contract.write_batch and not tx.evaluate:
            stub.start_write_batch()
        contract.before_transaction(ctx)
        result = tx.method(ctx, *values)
        contract.after_transaction(ctx, result)
        return encode_result(result)

    def metadata(self) -> bytes:
        """Contract metadata JSON shaped like fabric-contract-api's GetMetadata answer."""
        if self._metadata is None:
            self._metadata = canonical_json(build_metadata(self))
        return self._metadata

    def transactions(self, contract: str) -> dict[str, _Tx]:
        """Transactions of ``contract`` by name."""
        return self._txs[contract]


def _check_sizes(args: list[bytes]) -> None:
    if len(args) > MAX_ARGS:
        raise InvalidArgumentError(f"too many arguments: {len(args)} > {MAX_ARGS}")
    total = sum(map(len, args))
    if total > MAX_ARGS_BYTES:
        raise InvalidArgumentError(f"arguments too large: {total} bytes > {MAX_ARGS_BYTES}")


def _convert_all(tx: _Tx, raw: list[bytes]) -> list[Any]:
    required = tx.required
    if not required <= len(raw) <= len(tx.params):
        want = str(required) if required == len(tx.params) else f"{required} to {len(tx.params)}"
        raise InvalidArgumentError(f"{tx.name} expects {want} arguments, got {len(raw)}")
    return [convert_arg(p.name, p.annotation, value) for p, value in zip(tx.params, raw)]


def build_metadata(router: Router) -> dict[str, Any]:
    """The metadata document (contracts, transactions, parameter schemas), with the system contract
    ``org.hyperledger.fabric`` (its ``GetMetadata``) as the Go and Node contract APIs list it."""
    contracts: dict[str, Any] = {}
    for cname, contract in router.contracts.items():
        txs = []
        for tx in router.transactions(cname).values():
            entry: dict[str, Any] = {
                "name": tx.name,
                "tag": ["EVALUATE", "evaluateTx"] if tx.evaluate else ["SUBMIT", "submitTx"],
                "parameters": [{"name": p.name, "schema": schema_for(p.annotation)} for p in tx.params],
            }
            if tx.returns not in (None, type(None)):
                entry["returns"] = schema_for(tx.returns)
            txs.append(entry)
        contracts[cname] = {
            "name": cname,
            "info": {"title": cname, "version": router.version},
            "transactions": txs,
        }
        if cname == router.default:
            contracts[cname]["default"] = True
    contracts[SYSTEM_CONTRACT] = {  # listed as fabric-contract-api-go and -node list their system contract
        "name": SYSTEM_CONTRACT,
        "info": {"title": SYSTEM_CONTRACT, "version": router.version},
        "transactions": [{"name": "GetMetadata", "tag": ["EVALUATE", "evaluateTx"], "parameters": [],
                          "returns": {"type": "string"}}],
    }
    return {
        "$schema": "https://hyperledger.github.io/fabric-chaincode-node/main/api/contract-schema.json",
        "info": {"title": router.title, "version": router.version},
        "contracts": contracts,
        "components": {"schemas": {}},
    }
