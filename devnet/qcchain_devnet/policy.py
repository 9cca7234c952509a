"""Fabric endorsement policies: signature-policy strings and implicit-meta channel policies.

Follows hyperledger/fabric ``common/policydsl`` (parsing ``AND``/``OR``/``OutOf`` over
``'MSP.role'`` principals into a ``common.SignaturePolicyEnvelope``) and ``common/cauthdsl``
(evaluation where each signing identity satisfies at most one principal of a branch). The channel
defaults ``MAJORITY|ANY|ALL Endorsement`` are implicit-meta policies over each member org's
``Endorsement`` policy (``OR('<MSP>.peer')``, as configtxgen's sample profiles set it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fabric_protos.common import policies_pb2
from fabric_protos.msp import msp_principal_pb2
from google.protobuf.message import DecodeError

from qcchain_consortium.errors import PolicySyntaxError as NetworkPolicySyntaxError
from qcchain_consortium.policy import Gate, ImplicitMeta, Principal, parse_rule

from .errors import PolicyError, PolicySyntaxError

__all__ = ["ImplicitMetaPolicy", "Policy", "SignaturePolicy", "Signer", "from_envelope_bytes", "parse_policy"]

_ROLES = {
    "member": msp_principal_pb2.MSPRole.MEMBER, "admin": msp_principal_pb2.MSPRole.ADMIN,
    "client": msp_principal_pb2.MSPRole.CLIENT, "peer": msp_principal_pb2.MSPRole.PEER,
    "orderer": msp_principal_pb2.MSPRole.ORDERER,
}
_ROLE_NAMES = {v: k for k, v in _ROLES.items()}


@dataclass(frozen=True)
class Signer:
    """A verified signing identity: its MSP ID, NodeOU roles (``peer``, ``admin``, ...) and identity bytes."""

    msp_id: str
    roles: frozenset[str]
    identity: bytes = b""

    def satisfies(self, msp_id: str, role: str) -> bool:
        """True if this identity matches principal ``msp_id.role`` (``member`` matches every role)."""
        return self.msp_id == msp_id and (role == "member" or role in self.roles)


class Policy:
    """An evaluable endorsement policy."""

    def evaluate(self, signers: Sequence[Signer]) -> bool:
        """True if the (deduplicated) signers satisfy the policy."""
        raise NotImplementedError

    def plan(self, msp_ids: Sequence[str]) -> list[str] | None:
        """The fewest orgs (in the given order of preference) whose peers satisfy the policy, or None."""
        for size in range(1, len(msp_ids) + 1):
            chosen = _first_combination(list(msp_ids), size, self)
            if chosen is not None:
                return chosen
        return None


def _first_combination(msp_ids: list[str], size: int, policy: Policy) -> list[str] | None:
    from itertools import combinations
    for combo in combinations(msp_ids, size):
        if policy.evaluate([Signer(m, frozenset({"peer"}), m.encode()) for m in combo]):
            return list(combo)
    return None


def _dedup(signers: Sequence[Signer]) -> list[Signer]:
    seen: set[bytes] = set()
    out = []
    for s in signers:
        key = s.identity or f"{s.msp_id}/{sorted(s.roles)}".encode()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


_Rule = Callable[[Sequence[Signer], list[bool]], bool]


class SignaturePolicy(Policy):
    """A ``common.SignaturePolicyEnvelope`` made evaluable."""

    def __init__(self, envelope: policies_pb2.SignaturePolicyEnvelope) -> None:
        self.envelope = envelope
        principals = []
        for ident in envelope.identities:
            if ident.principal_classification != msp_principal_pb2.MSPPrincipal.ROLE:
                raise PolicyError("only ROLE principals are supported")
            role = msp_principal_pb2.MSPRole()
            role.ParseFromString(ident.principal)
            principals.append((role.msp_identifier, _ROLE_NAMES.get(role.role, "?")))
        self._principals = principals
        self._rule = self._compile(envelope.rule)

    def _compile(self, rule: policies_pb2.SignaturePolicy) -> _Rule:
        if rule.WhichOneof("Type") == "signed_by":
            if rule.signed_by >= len(self._principals):
                raise PolicyError(f"identity index {rule.signed_by} out of range")
            msp_id, role = self._principals[rule.signed_by]

            def signed_by(signers: Sequence[Signer], used: list[bool]) -> bool:
                for i, s in enumerate(signers):
                    if not used[i] and s.satisfies(msp_id, role):
                        used[i] = True
                        return True
                return False
            return signed_by
        subs = [self._compile(r) for r in rule.n_out_of.rules]
        n = rule.n_out_of.n

        def n_out_of(signers: Sequence[Signer], used: list[bool]) -> bool:
            verified = 0
            for sub in subs:
                tmp = list(used)
                if sub(signers, tmp):
                    verified += 1
                    used[:] = tmp
            return verified >= n
        return n_out_of

    def evaluate(self, signers: Sequence[Signer]) -> bool:
        """True if the deduplicated signers satisfy the rule (each identity used once per branch)."""
        unique = _dedup(signers)
        return self._rule(unique, [False] * len(unique))

    def to_bytes(self) -> bytes:
        """The marshalled ``SignaturePolicyEnvelope``."""
        return self.envelope.SerializeToString()


class ImplicitMetaPolicy(Policy):
    """``ANY|ALL|MAJORITY Endorsement``: a count of member orgs whose ``OR('<MSP>.peer')`` is satisfied."""

    def __init__(self, rule: str, msp_ids: Sequence[str]) -> None:
        if not msp_ids:
            raise PolicyError("implicit-meta policy over a channel without member orgs")
        self.rule = rule
        self.msp_ids = list(msp_ids)
        n = len(self.msp_ids)
        self.threshold = {"ANY": 1, "ALL": n, "MAJORITY": n // 2 + 1}[rule]

    def evaluate(self, signers: Sequence[Signer]) -> bool:
        """True if enough member orgs have a peer among the signers."""
        orgs = {s.msp_id for s in signers if "peer" in s.roles and s.msp_id in self.msp_ids}
        return len(orgs) >= self.threshold


def _compile_ast(tree: Gate | Principal, identities: list[msp_principal_pb2.MSPPrincipal]
                 ) -> policies_pb2.SignaturePolicy:
    """The ``SignaturePolicy`` of a parsed rule; like Fabric's policydsl, one identity per occurrence."""
    if isinstance(tree, Principal):
        identities.append(msp_principal_pb2.MSPPrincipal(
            principal_classification=msp_principal_pb2.MSPPrincipal.ROLE,
            principal=msp_principal_pb2.MSPRole(
                msp_identifier=tree.msp_id, role=_ROLES[tree.role]).SerializeToString()))
        return policies_pb2.SignaturePolicy(signed_by=len(identities) - 1)
    rules = [_compile_ast(rule, identities) for rule in tree.rules]
    return policies_pb2.SignaturePolicy(n_out_of=policies_pb2.SignaturePolicy.NOutOf(n=tree.n, rules=rules))


def parse_policy(text: str, channel_msp_ids: Sequence[str] = ()) -> Policy:
    """Parse a signature-policy string or ``ANY|ALL|MAJORITY Endorsement`` (over ``channel_msp_ids``).

    The string is parsed by ``qcchain_consortium.policy`` (the one parser of the distribution), so the
    devnet accepts exactly what the network generator validates.

    Raises:
        PolicySyntaxError: the string is not a valid policy, or is implicit-meta over a sub-policy other
            than ``Endorsement``.
        PolicyError: an implicit-meta policy over a channel without member orgs.
    """
    try:
        tree = parse_rule(text)
    except NetworkPolicySyntaxError as exc:
        raise PolicySyntaxError(f"invalid policy {text!r}: {exc}") from exc
    if isinstance(tree, ImplicitMeta):
        return ImplicitMetaPolicy(tree.rule, channel_msp_ids)
    identities: list[msp_principal_pb2.MSPPrincipal] = []
    rule = _compile_ast(tree, identities)
    return SignaturePolicy(policies_pb2.SignaturePolicyEnvelope(version=0, rule=rule, identities=identities))


def from_envelope_bytes(data: bytes) -> SignaturePolicy:
    """A policy from marshalled ``SignaturePolicyEnvelope`` bytes (key-level validation parameter).

    Raises:
        PolicyError: the bytes do not decode or use unsupported principals.
    """
    env = policies_pb2.SignaturePolicyEnvelope()
    try:
        env.ParseFromString(data)
    except DecodeError as exc:
        raise PolicyError(f"invalid SignaturePolicyEnvelope: {exc}") from exc
    if not env.HasField("rule"):
        raise PolicyError("SignaturePolicyEnvelope has no rule")
    return SignaturePolicy(env)
