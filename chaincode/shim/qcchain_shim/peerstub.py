"""The stub of a transaction running on a real peer: ledger primitives as chaincode-protocol requests.

The stub talks to the peer through :class:`PeerLink` (what :class:`~qcchain_shim.handler.Handler` offers a
transaction), so this module does not depend on the handler.
"""

from __future__ import annotations

from typing import Protocol

from fabric_protos.ledger.queryresult import kv_query_result_pb2 as qr
from fabric_protos.peer import chaincode_shim_pb2 as shim
from fabric_protos.peer.chaincode_pb2 import ChaincodeID, ChaincodeInput, ChaincodeSpec
from fabric_protos.peer.proposal_pb2 import SignedProposal
from fabric_protos.peer.proposal_response_pb2 import Response as ResponseProto
from google.protobuf.message import DecodeError, Message

from .errors import PeerError
from .ledger import KV, KeyModification, QueryIterator, QueryMetadata, Response
from .proposal import ProposalFields
from .stubbase import StubBase
from .writebatch import PeerCapabilities, chunks

M = shim.ChaincodeMessage


class PeerLink(Protocol):
    """The stream to the peer as one transaction sees it (implemented by the handler)."""

    capabilities: PeerCapabilities
    """What the peer announced in READY."""

    def call(self, channel_id: str, txid: str, msg_type: int, payload: bytes) -> shim.ChaincodeMessage:
        """Send one request of the transaction and return the peer's RESPONSE.

        Raises:
            PeerError: the peer answered ERROR or an unexpected type, or the stream closed.
        """
        ...


def _decode(cls: type[Message], data: bytes, what: str) -> Message:
    try:
        return cls.FromString(data)
    except DecodeError as exc:
        raise PeerError(f"malformed {what} from the peer: {exc}") from exc


class PeerStub(StubBase):
    """Stub bound to one transaction on one peer stream (one request outstanding at a time).

    Every ledger call is one request/response round trip on the stream; a refused request raises
    :class:`~qcchain_shim.errors.PeerError` with the peer's message.
    """

    def __init__(
        self,
        handler: PeerLink,
        channel_id: str,
        tx_id: str,
        args: list[bytes],
        fields: ProposalFields,
        signed_proposal: SignedProposal | None,
    ) -> None:
        super().__init__(
            channel_id,
            tx_id,
            args,
            creator=fields.creator,
            transient=fields.transient,
            timestamp=fields.timestamp,
            signed_proposal=signed_proposal,
            binding=fields.binding,
        )
        self._handler = handler

    def _call(self, msg_type: int, request: Message) -> bytes:
        reply = self._handler.call(self._channel_id, self._tx_id, msg_type, request.SerializeToString())
        return reply.payload

    def _get(self, collection: str, key: str) -> bytes:
        return self._call(M.GET_STATE, shim.GetState(collection=collection, key=key))

    def capabilities(self) -> PeerCapabilities:
        """What the peer announced in READY."""
        return self._handler.capabilities

    def _get_multiple(self, collection: str, keys: list[str]) -> list[bytes]:
        caps = self.capabilities()
        if not caps.use_get_multiple:
            return super()._get_multiple(collection, keys)
        values: list[bytes] = []
        for part in chunks(keys, caps.max_get_multiple):
            raw = self._call(M.GET_STATE_MULTIPLE, shim.GetStateMultiple(keys=part, collection=collection))
            result = _decode(shim.GetStateMultipleResult, raw, "GET_STATE_MULTIPLE result")
            if len(result.values) != len(part):  # type: ignore[attr-defined]
                raise PeerError(f"peer answered {len(result.values)} values for {len(part)} keys")  # type: ignore[attr-defined]
            values.extend(result.values)  # type: ignore[attr-defined]
        return values

    def _send_batch(self, records: list[shim.WriteRecord]) -> None:
        caps = self.capabilities()
        for part in chunks(records, caps.max_write_batch):
            self._call(M.WRITE_BATCH_STATE, shim.WriteBatchState(rec=part))

    def _put(self, collection: str, key: str, value: bytes) -> None:
        self._call(M.PUT_STATE, shim.PutState(collection=collection, key=key, value=value))

    def _delete(self, collection: str, key: str) -> None:
        self._call(M.DEL_STATE, shim.DelState(collection=collection, key=key))

    def _purge(self, collection: str, key: str) -> None:
        self._call(M.PURGE_PRIVATE_DATA, shim.DelState(collection=collection, key=key))

    def _get_hash(self, collection: str, key: str) -> bytes:
        return self._call(M.GET_PRIVATE_DATA_HASH, shim.GetState(collection=collection, key=key))

    def _query(self, msg_type: int, request: Message) -> shim.QueryResponse:
        return _decode(shim.QueryResponse, self._call(msg_type, request), "query response")  # type: ignore[return-value]

    def _iterator(self, first: shim.QueryResponse, result_cls: type[Message], convert: object) -> QueryIterator:
        def batch(response: shim.QueryResponse) -> tuple[list, bool]:
            items = [convert(_decode(result_cls, r.resultBytes, "query result")) for r in response.results]  # type: ignore[operator]
            return items, response.has_more

        query_id = first.id

        def fetch_next() -> tuple[list, bool]:
            return batch(self._query(M.QUERY_STATE_NEXT, shim.QueryStateNext(id=query_id)))

        def on_close() -> None:
            self._call(M.QUERY_STATE_CLOSE, shim.QueryStateClose(id=query_id))

        items, has_more = batch(first)
        return QueryIterator(items, has_more, fetch_next, on_close)

    def _range(
        self, collection: str, start: str, end: str, page: tuple[int, str] | None
    ) -> tuple[QueryIterator[KV], QueryMetadata]:
        metadata = shim.QueryMetadata(pageSize=page[0], bookmark=page[1]).SerializeToString() if page else b""
        request = shim.GetStateByRange(startKey=start, endKey=end, collection=collection, metadata=metadata)
        response = self._query(M.GET_STATE_BY_RANGE, request)
        meta = _decode(shim.QueryResponseMetadata, response.metadata, "query metadata")
        iterator = self._iterator(response, qr.KV, lambda kv: KV(kv.key, kv.value, kv.namespace))
        return iterator, QueryMetadata(meta.fetched_records_count, meta.bookmark)  # type: ignore[attr-defined]

    def _history(self, key: str) -> QueryIterator[KeyModification]:
        response = self._query(M.GET_HISTORY_FOR_KEY, shim.GetHistoryForKey(key=key))

        def convert(km: qr.KeyModification) -> KeyModification:
            return KeyModification(km.tx_id, km.value, km.timestamp if km.HasField("timestamp") else None, km.is_delete)

        return self._iterator(response, qr.KeyModification, convert)

    def _get_metadata(self, collection: str, key: str) -> dict[str, bytes]:
        raw = self._call(M.GET_STATE_METADATA, shim.GetStateMetadata(collection=collection, key=key))
        result = _decode(shim.StateMetadataResult, raw, "state metadata")
        return {entry.metakey: entry.value for entry in result.entries}  # type: ignore[attr-defined]

    def _put_metadata(self, collection: str, key: str, metakey: str, value: bytes) -> None:
        entry = shim.StateMetadata(metakey=metakey, value=value)
        self._call(M.PUT_STATE_METADATA, shim.PutStateMetadata(collection=collection, key=key, metadata=entry))

    def _invoke(self, name: str, args: list[bytes]) -> Response:
        spec = ChaincodeSpec(chaincode_id=ChaincodeID(name=name), input=ChaincodeInput(args=args))
        try:
            raw = self._call(M.INVOKE_CHAINCODE, spec)
        except PeerError as exc:
            return Response(500, str(exc))
        inner = _decode(M, raw, "INVOKE_CHAINCODE reply")
        if inner.type != M.COMPLETED:  # type: ignore[attr-defined]
            return Response(500, inner.payload.decode("utf-8", "replace"))  # type: ignore[attr-defined]
        result = _decode(ResponseProto, inner.payload, "chaincode response")  # type: ignore[attr-defined]
        return Response(result.status, result.message, result.payload)  # type: ignore[attr-defined]
