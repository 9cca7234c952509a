"""Endorsement, as a Fabric peer's endorser (``core/endorser``) for every org of the devnet.

Checks the signed proposal (creator issued by a channel org's CA, ECDSA signature, tx id =
SHA-256(nonce + creator), no duplicate tx id on the ledger), simulates it by running the chaincode
through the chaincode protocol on one transaction simulator (chaincode-to-chaincode calls on the same
channel share it), and signs the resulting ``ProposalResponsePayload`` as each requested org's peer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fabric_protos.peer import (
    chaincode_event_pb2,
    chaincode_pb2,
    proposal_pb2,
    proposal_response_pb2,
)
from fabric_protos.peer import chaincode_shim_pb2 as shim

from .ccclient import ChaincodePool
from .ccrequests import TxContext
from .errors import AccessDenied, ChaincodeFailed, ChaincodeNotFound, ProposalError
from .ledger import Ledger
from .model import MSP, ChannelDef, Identity, NodeConfig, PeerSigner, SignatureMemo
from .protoutil import UnpackedProposal, compute_tx_id, unpacked_proposal_hash
from .simulator import SimulationResult, TxSimulator

log = logging.getLogger(__name__)

__all__ = ["ERROR_THRESHOLD", "Endorser", "Simulated"]

ERROR_THRESHOLD = 400
M = shim.ChaincodeMessage


@dataclass
class Simulated:
    """The outcome of simulating a proposal."""

    response: proposal_response_pb2.Response
    prp: bytes
    result: SimulationResult | None


class Endorser:
    """Validates, simulates and endorses proposals for every channel of the devnet."""

    def __init__(self, config: NodeConfig, ledgers: dict[str, Ledger], msp: MSP, pool: ChaincodePool) -> None:
        self.config = config
        self.ledgers = ledgers
        self.msp = msp
        self.pool = pool
        self.signers = {o.msp_id: PeerSigner(o) for o in config.orgs if o.peer_key}
        self.memo = SignatureMemo()

    def check(self, up: UnpackedProposal, channel: ChannelDef) -> Identity:
        """Creator, signature and tx id checks (``ValidateUnpackProposal``); returns the creator.

        Raises:
            AccessDenied: the creator is malformed/unknown/not a channel member, or the signature is wrong.
            ProposalError: the tx id is not SHA-256(nonce + creator), or it is already on the ledger.
        """
        shdr = up.signature_header
        if not shdr.nonce or not shdr.creator:
            raise ProposalError("invalid signature header: nonce and creator are required")
        ident = self.msp.deserialize(shdr.creator, channel.name)
        if not ident.verify(up.signed.signature, up.signed.proposal_bytes):
            raise AccessDenied(f"access denied: channel [{channel.name}] creator org [{ident.msp_id}]")
        expected = compute_tx_id(shdr.nonce, shdr.creator)
        if expected != up.tx_id:
            raise ProposalError(f"incorrectly computed txid '{up.tx_id}' -- expected '{expected}'")
        if ident.msp_id not in channel.members:
            raise AccessDenied(f"access denied: channel [{channel.name}] creator org [{ident.msp_id}]")
        if self.ledgers[channel.name].tx_location(up.tx_id) is not None:
            raise ProposalError(f"duplicate transaction found [{up.tx_id}]. Creator [{ident.msp_id}]")
        return ident

    async def simulate(self, up: UnpackedProposal, channel: ChannelDef, creator: Identity,
                       peer_msp: str) -> Simulated:
        """Run the chaincode on a fresh simulator as ``peer_msp``'s peer.

        Raises:
            ChaincodeNotFound: the chaincode is not defined on the channel.
            ChaincodeUnavailable: its server cannot be reached.
            ChaincodeFailed: the chaincode failed (ERROR message).
            SimulationError: execution timed out.
        """
        cc = channel.chaincode(up.chaincode)
        sim = TxSimulator(self.ledgers[channel.name], channel, peer_msp, creator.msp_id)
        ctx = TxContext(sim, cc.name, up.signed, self._invoke_fn(channel, up))
        msg = await self._run(channel, cc.name, up.tx_id, up.spec.input, ctx)
        if msg.type != M.COMPLETED:
            raise ChaincodeFailed(f"transaction returned with failure: {msg.payload.decode(errors='replace')}")
        response = proposal_response_pb2.Response()
        response.ParseFromString(msg.payload)
        if response.status >= ERROR_THRESHOLD:
            return Simulated(response, b"", None)
        result = sim.result()
        event = b""
        if msg.HasField("chaincode_event") and msg.chaincode_event.event_name:
            ev = chaincode_event_pb2.ChaincodeEvent()
            ev.CopyFrom(msg.chaincode_event)
            ev.chaincode_id, ev.tx_id = cc.name, up.tx_id
            event = ev.SerializeToString()
        action = proposal_pb2.ChaincodeAction(
            results=result.results, events=event, response=response,
            chaincode_id=chaincode_pb2.ChaincodeID(name=cc.name, version=cc.version))
        prp = proposal_response_pb2.ProposalResponsePayload(
            proposal_hash=unpacked_proposal_hash(up), extension=action.SerializeToString()).SerializeToString()
        return Simulated(response, prp, result)

    async def _run(self, channel: ChannelDef, name: str, tx_id: str, cc_input: chaincode_pb2.ChaincodeInput,
                   ctx: TxContext) -> shim.ChaincodeMessage:
        cc = channel.chaincode(name)
        if not cc.address:
            raise ChaincodeNotFound(f"chaincode {name} on channel {channel.name} has no chaincode server")
        conn = self.pool.get(f"{channel.name}/{name}", cc.address, cc.package_id or f"{name}:devnet")
        return await conn.execute(channel.name, tx_id, cc_input, ctx)

    def _invoke_fn(self, channel: ChannelDef, up: UnpackedProposal):
        async def invoke(spec: chaincode_pb2.ChaincodeSpec, ctx: TxContext) -> shim.ChaincodeMessage:
            name, _, target_channel = spec.chaincode_id.name.partition(":")
            if target_channel and target_channel != channel.name:
                raise ChaincodeFailed(f"chaincode-to-chaincode calls to another channel ({target_channel}) "
                                     "are not supported by the devnet")
            if name == ctx.ns:
                raise ChaincodeFailed(f"chaincode {name} cannot invoke itself")
            channel.chaincode(name)
            sub = TxContext(ctx.sim, name, ctx.signed_proposal, ctx.invoke)
            return await self._run(channel, name, up.tx_id, spec.input, sub)
        return invoke

    def endorse(self, sim: Simulated, msp_ids: list[str]) -> list[proposal_response_pb2.ProposalResponse]:
        """Sign the simulated payload as each org's peer.

        Raises:
            KeyError: an org has no peer signing identity.
        """
        out = []
        for msp_id in msp_ids:
            signer = self.signers[msp_id]
            data = sim.prp + signer.serialized
            signature = signer.sign(data)
            self.memo.add(signer.serialized, data, signature)
            endorsement = proposal_response_pb2.Endorsement(endorser=signer.serialized, signature=signature)
            out.append(proposal_response_pb2.ProposalResponse(version=1, response=sim.response, payload=sim.prp,
                                                              endorsement=endorsement))
        return out
