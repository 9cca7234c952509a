"""An in-process gRPC fake of Fabric's Gateway service, failing the ways real Fabric v3.1.5 does.

Test code at the transport boundary (see FABRIC-NOTES.md, "How a real v3.1.5 peer's Gateway answers").
It unpacks every SignedProposal, checks the creator's certificate against the org CAs and its
signature, checks tx id = SHA-256(nonce + creator), runs a tiny KV chaincode, returns endorsed
envelopes signed by per-org peer keys, orders submitted envelopes into blocks, answers CommitStatus
(waiting until the deadline for unknown transactions) and streams chaincode events.
"""

from __future__ import annotations

import hashlib
from concurrent import futures
from dataclasses import dataclass
from typing import Iterator

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fabric_protos.common import common_pb2
from fabric_protos.gateway import gateway_pb2, gateway_pb2_grpc
from fabric_protos.ledger.rwset import rwset_pb2
from fabric_protos.msp import identities_pb2
from fabric_protos.peer import chaincode_pb2, proposal_pb2, proposal_response_pb2, transaction_pb2
from google.protobuf import any_pb2
from google.rpc import status_pb2
from grpc_status import rpc_status

from fakeledger import Execution, Ledger, verify
from sdk_pki import CertKey, OrgPki


class Abort(Exception):
    def __init__(self, code: grpc.StatusCode, message: str, details: list[gateway_pb2.ErrorDetail] | None = None):
        super().__init__(message)
        self.code, self.message, self.details = code, message, details or []


@dataclass
class Unpacked:
    channel: str
    tx_id: str
    creator: bytes
    msp_id: str
    cert_pem: bytes
    nonce: bytes
    chaincode: str
    args: list[bytes]
    transient: dict[str, bytes]
    header: common_pb2.Header
    payload: proposal_pb2.ChaincodeProposalPayload
    proposal_bytes: bytes


class FakeGateway(gateway_pb2_grpc.GatewayServicer):
    def __init__(self, orgs: list[OrgPki], channel: str, chaincode: str, policy: set[str] | None = None) -> None:
        self.orgs = {o.msp_id: o for o in orgs}
        self.channel, self.chaincode = channel, chaincode
        self.ledger = Ledger(chaincode, policy if policy is not None else set(self.orgs))
        self.endorse_requests: list[gateway_pb2.EndorseRequest] = []

    # identity checks ---------------------------------------------------------------------------

    def _known(self, msp_id: str, cert_pem: bytes) -> bool:
        org = self.orgs.get(msp_id)
        if org is None:
            return False
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            ca_key = org.ca.cert.public_key()
            assert isinstance(ca_key, ec.EllipticCurvePublicKey)
            ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
            return cert.issuer == org.ca.cert.subject
        except Exception:  # noqa: BLE001 - any failure means "unknown"
            return False

    def _detail(self, msp_id: str, message: str) -> gateway_pb2.ErrorDetail:
        return gateway_pb2.ErrorDetail(address=f"peer0.{self.orgs[msp_id].domain}:7051", msp_id=msp_id, message=message)

    # proposal handling -------------------------------------------------------------------------

    def _unpack(self, signed: proposal_pb2.SignedProposal) -> Unpacked:
        try:
            proposal = proposal_pb2.Proposal.FromString(signed.proposal_bytes)
            header = common_pb2.Header.FromString(proposal.header)
            ch = common_pb2.ChannelHeader.FromString(header.channel_header)
            sh = common_pb2.SignatureHeader.FromString(header.signature_header)
            creator = identities_pb2.SerializedIdentity.FromString(sh.creator)
            payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
            spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input).chaincode_spec
            if ch.type != common_pb2.ENDORSER_TRANSACTION or not ch.channel_id or not spec.chaincode_id.name:
                raise ValueError("not an endorser transaction proposal")
        except Exception as exc:  # noqa: BLE001 - every decoding failure is INVALID_ARGUMENT
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"failed to unpack transaction proposal: {exc}") from exc
        return Unpacked(
            ch.channel_id, ch.tx_id, sh.creator, creator.mspid, creator.id_bytes, sh.nonce, spec.chaincode_id.name,
            list(spec.input.args), dict(payload.TransientMap), header, payload, signed.proposal_bytes,
        )

    def _check_route(self, p: Unpacked, verb: str) -> None:
        if p.channel != self.channel:
            raise Abort(grpc.StatusCode.UNAVAILABLE, f"failed to get config for channel [{p.channel}]: channel not found")
        if p.chaincode != self.chaincode:
            raise Abort(grpc.StatusCode.FAILED_PRECONDITION, f"no peers available to {verb} chaincode {p.chaincode} in channel {p.channel}")

    def _check_creator(self, p: Unpacked, signature: bytes) -> str | None:
        """The endorser's refusal message, or None."""
        if not self._known(p.msp_id, p.cert_pem):
            return f"error validating proposal: access denied: channel [{p.channel}] creator org unknown, creator is malformed"
        if not verify(p.cert_pem, signature, p.proposal_bytes):
            return f"error validating proposal: access denied: channel [{p.channel}] creator org [{p.msp_id}]"
        if hashlib.sha256(p.nonce + p.creator).hexdigest() != p.tx_id:
            return f"error validating proposal: incorrectly computed txid [{p.tx_id}]"
        return None

    def Evaluate(self, request: gateway_pb2.EvaluateRequest, context: grpc.ServicerContext) -> gateway_pb2.EvaluateResponse:
        try:
            p = self._unpack(request.proposed_transaction)
            self._check_route(p, "evaluate")
            target = (list(request.target_organizations) or sorted(self.orgs))[0]
            refusal = self._check_creator(p, request.proposed_transaction.signature)
            if refusal:
                raise Abort(grpc.StatusCode.FAILED_PRECONDITION, f"evaluate call to endorser returned error: {refusal}",
                            [self._detail(target, refusal)])
            ex = self.ledger.execute(p.args, p.transient, p.tx_id)
            if ex.status >= 400:
                raise Abort(grpc.StatusCode.UNKNOWN,
                            f"evaluate call to endorser returned error: chaincode response {ex.status}, {ex.message}")
            return gateway_pb2.EvaluateResponse(result=proposal_response_pb2.Response(status=ex.status, payload=ex.payload))
        except Abort as a:
            self._abort(context, a)
            raise AssertionError("unreachable")

    def Endorse(self, request: gateway_pb2.EndorseRequest, context: grpc.ServicerContext) -> gateway_pb2.EndorseResponse:
        self.endorse_requests.append(request)
        try:
            p = self._unpack(request.proposed_transaction)
            self._check_route(p, "endorse")
            orgs = list(request.endorsing_organizations) or sorted(self.ledger.policy or self.orgs)
            unknown = [o for o in orgs if o not in self.orgs]
            if unknown:
                raise Abort(grpc.StatusCode.UNAVAILABLE, f"no peers available for organizations {unknown}")
            refusal = self._check_creator(p, request.proposed_transaction.signature)
            ex = self.ledger.execute(p.args, p.transient, p.tx_id)
            if not refusal and ex.status >= 400:
                refusal = f"chaincode response {ex.status}, {ex.message}"
            if refusal:
                raise Abort(grpc.StatusCode.ABORTED, "failed to endorse transaction, see attached details",
                            [self._detail(o, refusal) for o in orgs])
            return gateway_pb2.EndorseResponse(prepared_transaction=self._envelope(p, ex, orgs))
        except Abort as a:
            self._abort(context, a)
            raise AssertionError("unreachable")

    def _envelope(self, p: Unpacked, ex: Execution, orgs: list[str]) -> common_pb2.Envelope:
        if ex.event is not None:
            ex.event.chaincode_id, ex.event.tx_id = p.chaincode, p.tx_id
        results = rwset_pb2.TxReadWriteSet(
            data_model=rwset_pb2.TxReadWriteSet.KV,
            ns_rwset=[rwset_pb2.NsReadWriteSet(namespace=p.chaincode, rwset=ex.rwset.SerializeToString())],
        )
        action = proposal_pb2.ChaincodeAction(
            results=results.SerializeToString(),
            events=ex.event.SerializeToString() if ex.event is not None else b"",
            response=proposal_response_pb2.Response(status=ex.status, message=ex.message, payload=ex.payload),
            chaincode_id=chaincode_pb2.ChaincodeID(name=p.chaincode, version="1.0"),
        )
        prp = proposal_response_pb2.ProposalResponsePayload(
            proposal_hash=hashlib.sha256(p.proposal_bytes).digest(), extension=action.SerializeToString()
        ).SerializeToString()
        endorsements = []
        for msp_id in orgs:
            peer = self.orgs[msp_id].peer
            endorser = identities_pb2.SerializedIdentity(mspid=msp_id, id_bytes=peer.cert_pem).SerializeToString()
            signature = peer.key.sign(prp + endorser, ec.ECDSA(hashes.SHA256()))
            endorsements.append(proposal_response_pb2.Endorsement(endorser=endorser, signature=signature))
        cpp = proposal_pb2.ChaincodeProposalPayload(input=p.payload.input)  # transient removed
        cap = transaction_pb2.ChaincodeActionPayload(
            chaincode_proposal_payload=cpp.SerializeToString(),
            action=transaction_pb2.ChaincodeEndorsedAction(proposal_response_payload=prp, endorsements=endorsements),
        )
        tx = transaction_pb2.Transaction(
            actions=[transaction_pb2.TransactionAction(header=p.header.signature_header, payload=cap.SerializeToString())]
        )
        payload = common_pb2.Payload(header=p.header, data=tx.SerializeToString())
        return common_pb2.Envelope(payload=payload.SerializeToString())

    # submit / commit status / events -----------------------------------------------------------

    def Submit(self, request: gateway_pb2.SubmitRequest, context: grpc.ServicerContext) -> gateway_pb2.SubmitResponse:
        envelope = request.prepared_transaction
        try:
            payload = common_pb2.Payload.FromString(envelope.payload)
            sh = common_pb2.SignatureHeader.FromString(payload.header.signature_header)
            creator = identities_pb2.SerializedIdentity.FromString(sh.creator)
        except Exception as exc:  # noqa: BLE001
            self._abort(context, Abort(grpc.StatusCode.INVALID_ARGUMENT, f"failed to unpack envelope: {exc}"))
        if not self._known(creator.mspid, creator.id_bytes) or not verify(creator.id_bytes, envelope.signature, envelope.payload):
            self._abort(context, Abort(grpc.StatusCode.ABORTED, "received unsuccessful response from orderer: status=FORBIDDEN"))
        self.ledger.order(envelope)
        return gateway_pb2.SubmitResponse()

    def _signed_request(self, request_bytes: bytes, signature: bytes, message_type: type, context: grpc.ServicerContext):
        try:
            req = message_type.FromString(request_bytes)
            ident = identities_pb2.SerializedIdentity.FromString(req.identity)
        except Exception as exc:  # noqa: BLE001
            self._abort(context, Abort(grpc.StatusCode.INVALID_ARGUMENT, f"failed to unpack request: {exc}"))
        if not self._known(ident.mspid, ident.id_bytes) or not verify(ident.id_bytes, signature, request_bytes):
            self._abort(context, Abort(grpc.StatusCode.PERMISSION_DENIED,
                                       "failed to evaluate policy /Channel/Application/Readers: signature set did not satisfy policy"))
        return req

    def CommitStatus(self, request: gateway_pb2.SignedCommitStatusRequest, context: grpc.ServicerContext) -> gateway_pb2.CommitStatusResponse:
        req = self._signed_request(request.request, request.signature, gateway_pb2.CommitStatusRequest, context)
        with self.ledger.cond:
            while req.transaction_id not in self.ledger.status:
                if not context.is_active():
                    return gateway_pb2.CommitStatusResponse()
                self.ledger.cond.wait(0.05)
            code, block = self.ledger.status[req.transaction_id]
        return gateway_pb2.CommitStatusResponse(result=code, block_number=block)

    def ChaincodeEvents(self, request: gateway_pb2.SignedChaincodeEventsRequest, context: grpc.ServicerContext) -> Iterator[gateway_pb2.ChaincodeEventsResponse]:
        req = self._signed_request(request.request, request.signature, gateway_pb2.ChaincodeEventsRequest, context)
        position = req.start_position
        next_block = position.specified.number if position.HasField("specified") else (
            0 if position.HasField("oldest") else self.ledger.height())
        skip_until = req.after_transaction_id
        while context.is_active():
            with self.ledger.cond:
                if next_block >= len(self.ledger.blocks):
                    self.ledger.cond.wait(0.05)
                    continue
                block = self.ledger.blocks[next_block]
            events = []
            for tx_id, code, event in block.txs:
                if skip_until:
                    if tx_id == skip_until:
                        skip_until = ""
                    continue
                if code == transaction_pb2.VALID and event is not None and event.chaincode_id == req.chaincode_id:
                    events.append(event)
            skip_until = ""
            if events:
                yield gateway_pb2.ChaincodeEventsResponse(events=events, block_number=block.number)
            next_block += 1

    @staticmethod
    def _abort(context: grpc.ServicerContext, a: Abort) -> None:
        status = status_pb2.Status(code=a.code.value[0], message=a.message)
        for detail in a.details:
            packed = any_pb2.Any()
            packed.Pack(detail)
            status.details.append(packed)
        context.abort_with_status(rpc_status.to_status(status))


@dataclass
class Running:
    gateway: FakeGateway
    server: grpc.Server
    target: str

    def stop(self) -> None:
        self.server.stop(grace=0)
        self.gateway.ledger.stop()


def serve(gateway: FakeGateway, tls: CertKey | None = None) -> Running:
    """Start the fake on 127.0.0.1 (an ephemeral port), TLS with ``tls`` if given."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    gateway_pb2_grpc.add_GatewayServicer_to_server(gateway, server)
    if tls is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        creds = grpc.ssl_server_credentials([(tls.key_pem(), tls.cert_pem)])
        port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    return Running(gateway, server, f"127.0.0.1:{port}")
