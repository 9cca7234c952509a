"""Fabric signature-policy text (``AND`` / ``OR`` / ``OutOf`` over ``'MSP.role'``) parsed and evaluated
against a set of endorsing identities, as Fabric's ``cauthdsl`` does (pure; rules rung).

Each identity satisfies at most one principal (Fabric's "used" marks); a principal ``'MSP.member'`` is any
identity of the MSP, ``peer`` / ``admin`` / ``client`` / ``orderer`` need that NodeOU in the certificate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidInput

__all__ = ["PolicyNode", "parse_policy", "policy_satisfied", "ROLES"]

ROLES = ("member", "peer", "admin", "client", "orderer")
_TOKEN = re.compile(r"\s*(?:(?P<word>AND|OR|OutOf)\s*\(|(?P<int>[0-9]+)|'(?P<principal>[A-Za-z0-9._-]+)\."
                    r"(?P<role>[a-z]+)'|(?P<comma>,)|(?P<close>\)))")
_MAX_LEN = 4096


@dataclass(frozen=True)
class PolicyNode:
    """``n``-of ``children`` (AND = all, OR = 1), or a leaf principal (``msp``, ``role``)."""

    n: int = 0
    children: tuple["PolicyNode", ...] = ()
    msp: str = ""
    role: str = ""

    def principals(self) -> list[tuple[str, str]]:
        """Every (msp, role) leaf, in order."""
        if self.msp:
            return [(self.msp, self.role)]
        return [p for c in self.children for p in c.principals()]


def parse_policy(text: str) -> PolicyNode:
    """Parse a signature policy such as ``OutOf(2, 'A.peer', 'B.peer', 'C.peer')``.

    Raises:
        InvalidInput: not a signature policy (unknown role, bad syntax, k out of range).
    """
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_LEN:
        raise InvalidInput("endorsement policy must be a non-empty signature-policy string")
    tokens = []
    pos = 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise InvalidInput(f"endorsement policy: cannot parse at character {pos}: {text[pos:pos + 20]!r}")
        tokens.append(match)
        pos = match.end()
    node, rest = _node(tokens, 0)
    if rest != len(tokens):
        raise InvalidInput("endorsement policy: trailing text after the policy")
    return node


def _node(tokens: list[re.Match[str]], i: int) -> tuple[PolicyNode, int]:
    if i >= len(tokens):
        raise InvalidInput("endorsement policy: unexpected end")
    tok = tokens[i]
    if tok["principal"]:
        if tok["role"] not in ROLES:
            raise InvalidInput(f"endorsement policy: role {tok['role']!r} is not one of {', '.join(ROLES)}")
        return PolicyNode(msp=tok["principal"], role=tok["role"]), i + 1
    if not tok["word"]:
        raise InvalidInput("endorsement policy: expected AND(, OR(, OutOf( or a quoted 'MSP.role'")
    word, i = tok["word"], i + 1
    k = -1
    if word == "OutOf":
        if i + 1 >= len(tokens) or not tokens[i]["int"] or not tokens[i + 1]["comma"]:
            raise InvalidInput("endorsement policy: OutOf needs a number first")
        k, i = int(tokens[i]["int"]), i + 2
    children = []
    while True:
        child, i = _node(tokens, i)
        children.append(child)
        if i < len(tokens) and tokens[i]["comma"]:
            i += 1
            continue
        if i < len(tokens) and tokens[i]["close"]:
            i += 1
            break
        raise InvalidInput("endorsement policy: expected ',' or ')'")
    n = {"AND": len(children), "OR": 1}.get(word, k)
    if not 1 <= n <= len(children):
        raise InvalidInput(f"endorsement policy: OutOf({k}, ...) with {len(children)} sub-policies")
    return PolicyNode(n=n, children=tuple(children)), i


def _matches(node: PolicyNode, msp: str, ous: frozenset[str]) -> bool:
    return node.msp == msp and (node.role == "member" or node.role in ous)


def _evaluate(node: PolicyNode, identities: list[tuple[str, frozenset[str]]], used: list[bool]) -> bool:
    if node.msp:
        for i, (msp, ous) in enumerate(identities):
            if not used[i] and _matches(node, msp, ous):
                used[i] = True
                return True
        return False
    met = 0
    for child in node.children:
        trial = list(used)
        if _evaluate(child, identities, trial):
            used[:] = trial
            met += 1
    return met >= node.n


def policy_satisfied(node: PolicyNode, identities: list[tuple[str, frozenset[str]]]) -> bool:
    """Whether the identities ``(msp, NodeOUs)`` satisfy the policy (each identity used once). Pure."""
    return _evaluate(node, list(identities), [False] * len(identities))
