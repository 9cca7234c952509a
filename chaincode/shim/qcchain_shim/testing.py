"""In-memory :class:`MockStub` for unit tests of contracts (same stub API as on a real peer).

Semantics follow Fabric: reads see the committed state only (not the transaction's own writes);
writes are buffered and applied by :meth:`MockStub.commit` (``submit`` = invoke + commit if OK);
a failed transaction writes nothing. Keys are ordered by code point (= UTF-8 byte order, as LevelDB).
The mock answers as a Fabric v3.1 peer (write batches and multi-key reads accepted; set
:attr:`MockStub.peer_capabilities` to ``PeerCapabilities()`` to act as an older peer).
"""

from __future__ import annotations

import bisect
import datetime as _dt
import hashlib
from collections.abc import Callable, Sequence
from typing import Union

from fabric_protos.msp.identities_pb2 import SerializedIdentity
from google.protobuf.timestamp_pb2 import Timestamp

from .contract import Contract, Router
from .errors import InvalidArgumentError
from .ledger import KV, KeyModification, QueryIterator, QueryMetadata, Response
from .stubbase import StubBase
from .writebatch import FABRIC_3_1, PeerCapabilities

Contracts = Union[Router, Sequence[Union[Contract, type[Contract]]]]
TxTime = Union[Timestamp, _dt.datetime, float, int, None]
_DELETE = None


def serialize_identity(msp_id: str, cert_pem: bytes | str) -> bytes:
    """``msp.SerializedIdentity`` bytes for (MSP id, PEM certificate)."""
    pem = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
    return SerializedIdentity(mspid=msp_id, id_bytes=pem).SerializeToString()


def _timestamp(value: TxTime, counter: int) -> Timestamp:
    ts = Timestamp()
    if value is None:
        ts.FromSeconds(1_700_000_000 + counter)  # deterministic: no wall clock in tests either
    elif isinstance(value, Timestamp):
        ts.CopyFrom(value)
    elif isinstance(value, _dt.datetime):
        ts.FromDatetime(value)
    else:
        ts.FromNanoseconds(int(value * 1_000_000_000))
    return ts


class MockStub(StubBase):
    """An in-memory ledger plus one transaction context at a time."""

    def __init__(self, channel_id: str = "mychannel") -> None:
        super().__init__(channel_id, "mock-setup", [])
        self.state: dict[str, dict[str, bytes]] = {"": {}}  # collection -> key -> value
        self.metadata: dict[tuple[str, str], dict[str, bytes]] = {}
        self.history: dict[str, list[KeyModification]] = {}
        self.pending: dict[tuple[str, str], bytes | None] = {}
        self.pending_metadata: dict[tuple[str, str, str], bytes] = {}
        # the write set (every collection, private data included) a refused invocation had buffered
        # before it failed; discarded like on a peer, kept here so tests can detect write-before-refuse
        self.last_writes: dict[tuple[str, str], bytes | None] = {}
        self.events: list[tuple[str, str, bytes]] = []  # (tx id, name, payload) of committed txs
        self.chaincodes: dict[str, Callable[[list[bytes]], Response]] = {}
        self._counter = 0
        self._routers: dict[tuple[int, ...], Router] = {}
        self.peer_capabilities: PeerCapabilities = FABRIC_3_1
        self.batches_sent: list[int] = []  # record count of every write batch the transactions sent

    # ---- driving transactions ----------------------------------------------------------------
    def invoke(
        self,
        contracts: Contracts,
        function: str,
        args: Sequence[bytes | str] = (),
        *,
        creator: tuple[str, bytes | str] | bytes | None = None,
        tx_time: TxTime = None,
        transient: dict[str, bytes] | None = None,
        tx_id: str | None = None,
    ) -> Response:
        """Run one transaction (writes stay pending until :meth:`commit`); never raises for contract errors."""
        self._counter += 1
        self._tx_id = tx_id or hashlib.sha256(f"mock-{self._counter}".encode()).hexdigest()
        self._args = [function.encode("utf-8")] + [a.encode("utf-8") if isinstance(a, str) else bytes(a) for a in args]
        if isinstance(creator, tuple):
            creator = serialize_identity(*creator)
        self._creator = creator or b""
        self._transient = dict(transient or {})
        self._timestamp = _timestamp(tx_time, self._counter)
        self._binding = hashlib.sha256(self._tx_id.encode()).digest()
        self.event = None
        self.pending.clear()
        self.pending_metadata.clear()
        self.last_writes = {}
        self._batch = None
        response = self._router(contracts).invoke(self)
        self.finish_write_batch()  # as the peer-side handler does before COMPLETED
        if not response.ok:
            self.last_writes = {**self.pending, **{(c, f"{k}#meta:{m}"): v for (c, k, m), v in self.pending_metadata.items()}}
            self.pending.clear()
            self.pending_metadata.clear()
            self.event = None
        return response

    def submit(self, contracts: Contracts, function: str, args: Sequence[bytes | str] = (), **kw: object) -> Response:
        """:meth:`invoke`, then :meth:`commit` if the response is OK."""
        response = self.invoke(contracts, function, args, **kw)  # type: ignore[arg-type]
        if response.ok:
            self.commit()
        return response

    def commit(self) -> None:
        """Apply the pending writes (and record history and the event) of the last transaction."""
        for (collection, key), value in sorted(self.pending.items()):
            table = self.state.setdefault(collection, {})
            if value is _DELETE or value == b"":
                table.pop(key, None)
            else:
                table[key] = value
            if collection == "":
                self.history.setdefault(key, []).append(
                    KeyModification(self._tx_id, value or b"", self._timestamp, value is _DELETE or value == b"")
                )
        for (collection, key, metakey), value in sorted(self.pending_metadata.items()):
            self.metadata.setdefault((collection, key), {})[metakey] = value
        if self.event is not None:
            self.events.append((self._tx_id, *self.event))
        self.pending.clear()
        self.pending_metadata.clear()

    def _router(self, contracts: Contracts) -> Router:
        if isinstance(contracts, Router):
            return contracts
        key = tuple(id(c) for c in contracts)
        if key not in self._routers:
            self._routers[key] = Router(contracts)
        return self._routers[key]

    def register_chaincode(self, name: str, handler: Callable[[list[bytes]], Response]) -> None:
        """Answer ``invoke_chaincode(name, ...)`` with ``handler(args)``."""
        self.chaincodes[name] = handler

    # ---- ledger primitives -------------------------------------------------------------------
    def capabilities(self) -> PeerCapabilities:
        """:attr:`peer_capabilities`."""
        return self.peer_capabilities

    def _send_batch(self, records: list) -> None:  # type: ignore[type-arg]
        self.batches_sent.append(len(records))
        super()._send_batch(records)

    def _get(self, collection: str, key: str) -> bytes:
        return self.state.get(collection, {}).get(key, b"")

    def _put(self, collection: str, key: str, value: bytes) -> None:
        self.pending[(collection, key)] = value

    def _delete(self, collection: str, key: str) -> None:
        self.pending[(collection, key)] = _DELETE

    def _purge(self, collection: str, key: str) -> None:
        self.pending[(collection, key)] = _DELETE

    def _get_hash(self, collection: str, key: str) -> bytes:
        value = self._get(collection, key)
        return hashlib.sha256(value).digest() if value else b""

    def _range(
        self, collection: str, start: str, end: str, page: tuple[int, str] | None
    ) -> tuple[QueryIterator[KV], QueryMetadata]:
        table = self.state.get(collection, {})
        ordered = sorted(table)
        begin = max(start, page[1]) if page and page[1] else start
        lo = bisect.bisect_left(ordered, begin)
        hi = bisect.bisect_left(ordered, end) if end else len(ordered)
        selected = ordered[lo:hi]
        bookmark = ""
        if page is not None:
            if len(selected) > page[0]:
                bookmark = selected[page[0]]
            selected = selected[: page[0]]
        items = [KV(k, table[k]) for k in selected]
        return QueryIterator(items), QueryMetadata(len(items), bookmark)

    def _history(self, key: str) -> QueryIterator[KeyModification]:
        return QueryIterator(list(reversed(self.history.get(key, []))))

    def _get_metadata(self, collection: str, key: str) -> dict[str, bytes]:
        return dict(self.metadata.get((collection, key), {}))

    def _put_metadata(self, collection: str, key: str, metakey: str, value: bytes) -> None:
        self.pending_metadata[(collection, key, metakey)] = value

    def _invoke(self, name: str, args: list[bytes]) -> Response:
        handler = self.chaincodes.get(name)
        if handler is None:
            raise InvalidArgumentError(f"chaincode '{name}' is not registered in MockStub")
        return handler(args)
