"""Plain value types returned by the stub (shaped like Fabric's queryresult and peer protos)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

T = TypeVar("T")


@dataclass(frozen=True)
class KV:
    """One result of a range or composite-key query."""

    key: str
    value: bytes
    namespace: str = ""


@dataclass(frozen=True)
class KeyModification:
    """One entry of a key's history."""

    tx_id: str
    value: bytes
    timestamp: Timestamp | None
    is_delete: bool


@dataclass(frozen=True)
class QueryMetadata:
    """Pagination result: how many records this page holds and the bookmark of the next page."""

    fetched_records_count: int
    bookmark: str


@dataclass(frozen=True)
class Response:
    """A chaincode response (``peer.Response``): status 200 = OK, ≥ 400 = error."""

    status: int
    message: str = ""
    payload: bytes = b""

    @property
    def ok(self) -> bool:
        """True when ``status`` is below 400 (Fabric's ERRORTHRESHOLD)."""
        return self.status < 400


class QueryIterator(Generic[T]):
    """Iterator over query results; also a context manager that closes the query on exit.

    ``fetch_next`` returns the next batch ``(items, has_more)``; ``on_close`` releases the peer-side
    iterator. Both may raise :class:`~qcchain_shim.errors.PeerError`.
    """

    def __init__(
        self,
        items: list[T],
        has_more: bool = False,
        fetch_next: Callable[[], tuple[list[T], bool]] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._items = items
        self._pos = 0
        self._has_more = has_more
        self._fetch_next = fetch_next
        self._on_close = on_close
        self._closed = False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        """Return the next result.

        Raises:
            StopIteration: no more results.
            PeerError: the peer refused to send the next batch.
        """
        while self._pos >= len(self._items):
            if not self._has_more or self._fetch_next is None or self._closed:
                raise StopIteration
            self._items, self._has_more = self._fetch_next()
            self._pos = 0
        item = self._items[self._pos]
        self._pos += 1
        return item

    def close(self) -> None:
        """Release the query on the peer (idempotent).

        Raises:
            PeerError: the peer refused QUERY_STATE_CLOSE.
        """
        if self._closed:
            return
        self._closed = True
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> QueryIterator[T]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
