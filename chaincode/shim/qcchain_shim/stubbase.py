"""The stub API shared by the real stub (talking to the peer) and :class:`~qcchain_shim.testing.MockStub`.

Key rules, composite keys, argument checks and the proposal-derived fields live here once; a
concrete stub only implements the ``_``-prefixed ledger primitives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from fabric_protos.peer.chaincode_shim_pb2 import WriteRecord
from fabric_protos.peer.proposal_pb2 import SignedProposal
from google.protobuf.timestamp_pb2 import Timestamp

from . import keys as _keys
from .errors import InvalidArgumentError
from .ledger import KV, KeyModification, QueryIterator, QueryMetadata, Response
from .writebatch import PeerCapabilities, WriteBatch

VALIDATION_PARAMETER = "VALIDATION_PARAMETER"  # peer.MetaDataKeys name, as in the Go shim


def _check_value(value: object) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise InvalidArgumentError(f"value must be bytes, not {type(value).__name__}")


def _check_collection(collection: object) -> str:
    if not isinstance(collection, str) or collection == "":
        raise InvalidArgumentError("collection must be a non-empty str")
    return collection


def _check_keys(keys: object) -> list[str]:
    if not isinstance(keys, (list, tuple)):
        raise InvalidArgumentError(f"keys must be a list of str, not {type(keys).__name__}")
    return [_keys.check_key(k) for k in keys]


def _check_page(page_size: object, bookmark: object) -> tuple[int, str]:
    if not isinstance(page_size, int) or isinstance(page_size, bool) or not 0 < page_size < 2**31:
        raise InvalidArgumentError("page_size must be an int between 1 and 2**31-1")
    if not isinstance(bookmark, str):
        raise InvalidArgumentError("bookmark must be a str")
    return page_size, bookmark


class StubBase(ABC):
    """Everything a transaction can ask Fabric for (the Go shim's ``ChaincodeStubInterface``); reached as
    ``ctx.stub``. Subclasses provide the ledger primitives: the peer's stub (each call one request to the peer,
    blocking the transaction until the answer) and :class:`~qcchain_shim.testing.MockStub`.

    Reads see the state committed before the transaction started, never its own writes; writes are
    proposed changes that reach the ledger only if the transaction is endorsed, ordered and validated.
    Keys are checked as the Go shim does (UTF-8, no empty key, simple keys must not start with ``\x00``);
    a bad key raises :class:`~qcchain_shim.errors.InvalidKeyError` before anything is sent. A request
    the peer refuses raises :class:`~qcchain_shim.errors.PeerError` with the peer's message.
    """

    def __init__(
        self,
        channel_id: str,
        tx_id: str,
        args: list[bytes],
        *,
        creator: bytes = b"",
        transient: dict[str, bytes] | None = None,
        timestamp: Timestamp | None = None,
        signed_proposal: SignedProposal | None = None,
        binding: bytes = b"",
    ) -> None:
        self._channel_id = channel_id
        self._tx_id = tx_id
        self._args = list(args)
        self._creator = creator
        self._transient = dict(transient or {})
        self._timestamp = timestamp
        self._signed_proposal = signed_proposal
        self._binding = binding
        self.event: tuple[str, bytes] | None = None
        self._batch: WriteBatch | None = None

    # ---- ledger primitives -------------------------------------------------------------------
    @abstractmethod
    def _get(self, collection: str, key: str) -> bytes: ...

    @abstractmethod
    def _put(self, collection: str, key: str, value: bytes) -> None: ...

    @abstractmethod
    def _delete(self, collection: str, key: str) -> None: ...

    @abstractmethod
    def _purge(self, collection: str, key: str) -> None: ...

    @abstractmethod
    def _get_hash(self, collection: str, key: str) -> bytes: ...

    @abstractmethod
    def _range(
        self, collection: str, start: str, end: str, page: tuple[int, str] | None
    ) -> tuple[QueryIterator[KV], QueryMetadata]: ...

    @abstractmethod
    def _history(self, key: str) -> QueryIterator[KeyModification]: ...

    @abstractmethod
    def _get_metadata(self, collection: str, key: str) -> dict[str, bytes]: ...

    @abstractmethod
    def _put_metadata(self, collection: str, key: str, metakey: str, value: bytes) -> None: ...

    @abstractmethod
    def _invoke(self, name: str, args: list[bytes]) -> Response: ...

    def capabilities(self) -> PeerCapabilities:
        """What the peer running the transaction accepts (write batches, multi-key reads); none here."""
        return PeerCapabilities()

    def _get_multiple(self, collection: str, keys: list[str]) -> list[bytes]:
        """Values of ``keys`` in order (``b""`` for absent ones); here one ``_get`` per key."""
        return [self._get(collection, key) for key in keys]

    def _send_batch(self, records: list[WriteRecord]) -> None:
        """Hand a finished write batch to the ledger; here record by record through the write primitives."""
        for rec in records:
            if rec.type == WriteRecord.PUT_STATE:
                self._put(rec.collection, rec.key, rec.value)
            elif rec.type == WriteRecord.DEL_STATE:
                self._delete(rec.collection, rec.key)
            elif rec.type == WriteRecord.PURGE_PRIVATE_DATA:
                self._purge(rec.collection, rec.key)
            else:
                self._put_metadata(rec.collection, rec.key, rec.metadata.metakey, rec.metadata.value)

    # ---- writes (immediate, or kept in the open write batch) ------------------------------------
    def _w_put(self, collection: str, key: str, value: bytes) -> None:
        if self._batch is not None:
            self._batch.put(collection, key, value)
        else:
            self._put(collection, key, value)

    def _w_delete(self, collection: str, key: str) -> None:
        if self._batch is not None:
            self._batch.delete(collection, key)
        else:
            self._delete(collection, key)

    def _w_purge(self, collection: str, key: str) -> None:
        if self._batch is not None:
            self._batch.purge(collection, key)
        else:
            self._purge(collection, key)

    def _w_metadata(self, collection: str, key: str, metakey: str, value: bytes) -> None:
        if self._batch is not None:
            self._batch.put_metadata(collection, key, metakey, value)
        else:
            self._put_metadata(collection, key, metakey, value)

    def start_write_batch(self) -> None:
        """Keep this transaction's writes and send them together at :meth:`finish_write_batch` or at the end
        of the transaction (Fabric v3.1 ``StartWriteBatch``). Without peer support (a peer older than
        v3.1) this does nothing and writes go out one by one. A refused write is then reported when the
        batch is sent, not at the call."""
        if self._batch is None and self.capabilities().use_write_batch:
            self._batch = WriteBatch()

    def finish_write_batch(self) -> None:
        """Send the open write batch (in messages of at most the peer's maximum) and close it; nothing
        happens without one.

        Raises:
            PeerError: the peer refused a write of the batch.
        """
        batch, self._batch = self._batch, None
        if batch:
            self._send_batch(batch.records())

    @property
    def write_batch_open(self) -> bool:
        """Whether writes are being kept for a batch."""
        return self._batch is not None

    # ---- proposal fields --------------------------------------------------------------------
    def get_tx_id(self) -> str:
        """The transaction id."""
        return self._tx_id

    def get_channel_id(self) -> str:
        """The channel the transaction runs on."""
        return self._channel_id

    def get_args(self) -> list[bytes]:
        """All arguments, the function name first."""
        return list(self._args)

    def get_string_args(self) -> list[str]:
        """All arguments decoded as UTF-8 (invalid bytes replaced)."""
        return [a.decode("utf-8", "replace") for a in self._args]

    def get_function_and_parameters(self) -> tuple[str, list[str]]:
        """``(function, parameters)`` as strings; ``("", [])`` without arguments."""
        args = self.get_string_args()
        return (args[0], args[1:]) if args else ("", [])

    def get_creator(self) -> bytes:
        """The serialized identity (``msp.SerializedIdentity`` bytes) of the proposal's creator."""
        return self._creator

    def get_transient(self) -> dict[str, bytes]:
        """The proposal's transient map (never written to the ledger)."""
        return dict(self._transient)

    def get_tx_timestamp(self) -> Timestamp:
        """The timestamp of the proposal's channel header (the client's clock; deterministic)."""
        return self._timestamp if self._timestamp is not None else Timestamp()

    def get_signed_proposal(self) -> SignedProposal | None:
        """The signed proposal, or None when the peer sent none."""
        return self._signed_proposal

    def get_binding(self) -> bytes:
        """SHA-256(nonce ‖ creator ‖ epoch LE64), as the Go shim computes it."""
        return self._binding

    def set_event(self, name: str, payload: bytes) -> None:
        """Set the transaction's chaincode event (one per transaction; the last call wins).

        Raises:
            InvalidArgumentError: ``name`` is empty or ``payload`` is not bytes.
        """
        if not isinstance(name, str) or name == "":
            raise InvalidArgumentError("event name must be a non-empty str")
        self.event = (name, _check_value(payload))

    # ---- public state -------------------------------------------------------------------------
    def get_state(self, key: str) -> bytes:
        """The committed value of ``key`` (``b""`` if absent). Like Go's ``GetState``, it does not read the
        transaction's own, uncommitted writes.

        Raises:
            InvalidKeyError: ``key`` is empty or not a valid simple key.
            PeerError: the peer refused the read.
        """
        return self._get("", _keys.check_key(key))

    def put_state(self, key: str, value: bytes) -> None:
        """Propose writing ``value`` at ``key`` (the transaction's write set; the ledger changes only once the
        transaction is validated and committed). In an open write batch, the write waits for the batch.

        Raises:
            InvalidKeyError: ``key`` is empty or not a valid simple key.
            InvalidArgumentError: ``value`` is not bytes.
            PeerError: the peer refused the write (e.g. after a paginated query).
        """
        self._w_put("", _keys.check_key(key), _check_value(value))

    def del_state(self, key: str) -> None:
        """Delete ``key``. Raises InvalidKeyError, PeerError."""
        self._w_delete("", _keys.check_key(key))

    def get_multiple_states(self, keys: list[str]) -> list[bytes]:
        """Values of ``keys`` in their order (``b""`` for absent ones), in as few requests as the peer
        allows (Fabric v3.1 ``GetMultipleStates``; one request per key on older peers).

        Raises:
            InvalidKeyError: a key is invalid.
            InvalidArgumentError: ``keys`` is not a list of str.
            PeerError: the peer refused the read.
        """
        return self._get_multiple("", _check_keys(keys))

    def get_state_by_range(self, start: str, end: str) -> QueryIterator[KV]:
        """An iterator over the committed simple keys in ``[start, end)`` in key order (``""`` leaves that end
        open); composite keys are not returned. Close it (or use it as a context manager) when done early.

        Raises:
            InvalidKeyError: ``start`` or ``end`` is not a valid simple key.
            PeerError: the peer refused the query.
        """
        start = start or _keys.EMPTY_KEY_SUBSTITUTE
        _keys.validate_simple_keys(start, end)
        return self._range("", start, end, None)[0]

    def get_state_by_range_with_pagination(
        self, start: str, end: str, page_size: int, bookmark: str = ""
    ) -> tuple[QueryIterator[KV], QueryMetadata]:
        """One page of a range query. Raises InvalidKeyError, InvalidArgumentError, PeerError."""
        start = start or _keys.EMPTY_KEY_SUBSTITUTE
        _keys.validate_simple_keys(start, end)
        return self._range("", start, end, _check_page(page_size, bookmark))

    def create_composite_key(self, object_type: str, attributes: list[str]) -> str:
        """See :func:`qcchain_shim.keys.create_composite_key`. Raises InvalidKeyError."""
        return _keys.create_composite_key(object_type, attributes)

    def split_composite_key(self, key: str) -> tuple[str, list[str]]:
        """See :func:`qcchain_shim.keys.split_composite_key`. Raises InvalidKeyError."""
        return _keys.split_composite_key(key)

    def get_state_by_partial_composite_key(self, object_type: str, attributes: list[str]) -> QueryIterator[KV]:
        """Composite keys with this prefix. Raises InvalidKeyError, PeerError."""
        start, end = _keys.partial_composite_range(object_type, attributes)
        return self._range("", start, end, None)[0]

    def get_state_by_partial_composite_key_with_pagination(
        self, object_type: str, attributes: list[str], page_size: int, bookmark: str = ""
    ) -> tuple[QueryIterator[KV], QueryMetadata]:
        """One page of a partial composite-key query. Raises InvalidKeyError, InvalidArgumentError, PeerError."""
        start, end = _keys.partial_composite_range(object_type, attributes)
        return self._range("", start, end, _check_page(page_size, bookmark))

    def get_history_for_key(self, key: str) -> QueryIterator[KeyModification]:
        """Committed history of ``key``. Raises InvalidKeyError, PeerError."""
        return self._history(_keys.check_key(key))

    # ---- private data ------------------------------------------------------------------------
    def get_private_data(self, collection: str, key: str) -> bytes:
        """Private value (``b""`` if absent). Raises InvalidArgumentError, InvalidKeyError, PeerError."""
        return self._get(_check_collection(collection), _keys.check_key(key))

    def get_private_data_hash(self, collection: str, key: str) -> bytes:
        """SHA-256 hash of the private value, readable by non-members. Raises as get_private_data."""
        return self._get_hash(_check_collection(collection), _keys.check_key(key))

    def put_private_data(self, collection: str, key: str, value: bytes) -> None:
        """Write a private value. Raises InvalidArgumentError, InvalidKeyError, PeerError."""
        self._w_put(_check_collection(collection), _keys.check_key(key), _check_value(value))

    def del_private_data(self, collection: str, key: str) -> None:
        """Delete a private value. Raises InvalidArgumentError, InvalidKeyError, PeerError."""
        self._w_delete(_check_collection(collection), _keys.check_key(key))

    def purge_private_data(self, collection: str, key: str) -> None:
        """Purge a private value and its history. Raises InvalidArgumentError, InvalidKeyError, PeerError."""
        self._w_purge(_check_collection(collection), _keys.check_key(key))

    def get_multiple_private_data(self, collection: str, keys: list[str]) -> list[bytes]:
        """Private values of ``keys`` in their order (``b""`` for absent ones); see :meth:`get_multiple_states`.

        Raises:
            InvalidArgumentError, InvalidKeyError, PeerError: as :meth:`get_multiple_states`.
        """
        return self._get_multiple(_check_collection(collection), _check_keys(keys))

    def get_private_data_by_range(self, collection: str, start: str, end: str) -> QueryIterator[KV]:
        """Private simple keys in ``[start, end)``. Raises InvalidArgumentError, InvalidKeyError, PeerError."""
        collection = _check_collection(collection)
        start = start or _keys.EMPTY_KEY_SUBSTITUTE
        _keys.validate_simple_keys(start, end)
        return self._range(collection, start, end, None)[0]

    def get_private_data_by_partial_composite_key(
        self, collection: str, object_type: str, attributes: list[str]
    ) -> QueryIterator[KV]:
        """Private composite keys with this prefix. Raises InvalidArgumentError, InvalidKeyError, PeerError."""
        collection = _check_collection(collection)
        start, end = _keys.partial_composite_range(object_type, attributes)
        return self._range(collection, start, end, None)[0]

    # ---- key-level endorsement ---------------------------------------------------------------
    def set_state_validation_parameter(self, key: str, ep: bytes) -> None:
        """Set the key-level endorsement policy bytes. Raises InvalidKeyError, InvalidArgumentError, PeerError."""
        self._w_metadata("", _keys.check_key(key), VALIDATION_PARAMETER, _check_value(ep))

    def get_state_validation_parameter(self, key: str) -> bytes:
        """Key-level endorsement policy bytes (``b""`` if none). Raises InvalidKeyError, PeerError."""
        return self._get_metadata("", _keys.check_key(key)).get(VALIDATION_PARAMETER, b"")

    def set_private_data_validation_parameter(self, collection: str, key: str, ep: bytes) -> None:
        """Private-data variant of :meth:`set_state_validation_parameter`."""
        self._w_metadata(_check_collection(collection), _keys.check_key(key), VALIDATION_PARAMETER, _check_value(ep))

    def get_private_data_validation_parameter(self, collection: str, key: str) -> bytes:
        """Private-data variant of :meth:`get_state_validation_parameter`."""
        return self._get_metadata(_check_collection(collection), _keys.check_key(key)).get(VALIDATION_PARAMETER, b"")

    # ---- chaincode to chaincode --------------------------------------------------------------
    def invoke_chaincode(self, name: str, args: list[bytes], channel: str = "") -> Response:
        """Call another chaincode (``name`` or ``name/channel``, as the Go shim sends it).

        Raises:
            InvalidArgumentError: ``name`` is empty or an argument is not bytes.
        """
        if not isinstance(name, str) or name == "":
            raise InvalidArgumentError("chaincode name must be a non-empty str")
        checked = [_check_value(a) for a in args]
        target = f"{name}/{channel}" if channel else name
        return self._invoke(target, checked)

    def debug_summary(self) -> dict[str, Any]:
        """Non-sensitive facts about the transaction (no payloads), for logs."""
        return {"channel": self._channel_id, "txid": self._tx_id[:8], "nargs": len(self._args)}
