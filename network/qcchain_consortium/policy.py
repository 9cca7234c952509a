"""Fabric endorsement-policy strings: signature policies (AND/OR/OutOf) and implicit-meta rules.

The signature-policy grammar follows Fabric's ``common/policydsl``: ``AND(...)``, ``OR(...)``,
``OutOf(n, ...)`` (function names case-insensitive) over quoted principals ``'MSPID.role'`` with role one
of ``member``, ``admin``, ``client``, ``peer``, ``orderer`` (the MSP ID is everything before the last dot).

This module is THE parser of policy strings for the whole distribution (pure: string -> AST, no protos);
``qcchain_devnet.policy`` compiles its AST into a ``SignaturePolicyEnvelope`` and evaluates it, so what the
network generator accepts is exactly what the embedded devnet can run. Implicit-meta rules
(``ANY|ALL|MAJORITY <SubPolicy>``) are limited to the sub-policies in ``SUPPORTED_META_SUBPOLICIES``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import PolicySyntaxError

ROLES = ("member", "admin", "client", "peer", "orderer")
IMPLICIT_META = re.compile(r"^(ANY|ALL|MAJORITY)\s+([A-Za-z][A-Za-z0-9]*)$")
SUPPORTED_META_SUBPOLICIES = ("Endorsement",)
_PRINCIPAL = re.compile(r"^([A-Za-z0-9.-]+)\.(member|admin|client|peer|orderer)$")
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z]+)|(?P<num>\d+)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<punct>[(),]))")


@dataclass(frozen=True)
class Principal:
    """``'MSPID.role'``."""

    msp_id: str
    role: str


@dataclass(frozen=True)
class Gate:
    """``OutOf(n, rules...)``; AND is n = len(rules), OR is n = 1."""

    n: int
    rules: tuple["Gate | Principal", ...]


@dataclass(frozen=True)
class ImplicitMeta:
    """``ANY|ALL|MAJORITY <sub_policy>``: a threshold over the member orgs' ``sub_policy`` policies."""

    rule: str
    sub_policy: str


def is_implicit_meta(rule: str) -> bool:
    """True for the shape ``"ANY|ALL|MAJORITY <SubPolicy>"`` (whether or not the sub-policy is supported)."""
    return IMPLICIT_META.match(rule.strip()) is not None


def parse_implicit_meta(rule: str) -> ImplicitMeta | None:
    """The implicit-meta rule, or None when ``rule`` does not have the implicit-meta shape.

    Raises:
        PolicySyntaxError: the rule is implicit-meta over a sub-policy not in ``SUPPORTED_META_SUBPOLICIES``.
    """
    match = IMPLICIT_META.match(rule.strip())
    if match is None:
        return None
    if match.group(2) not in SUPPORTED_META_SUBPOLICIES:
        raise PolicySyntaxError(
            f"implicit-meta sub-policy {match.group(2)!r} is not supported "
            f"(only {', '.join(SUPPORTED_META_SUBPOLICIES)}: the devnet evaluates no other channel policy)")
    return ImplicitMeta(match.group(1), match.group(2))


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise PolicySyntaxError(f"unexpected character {text[pos:].lstrip()[:1]!r} at offset {pos}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def _next(self, what: str) -> tuple[str, str, int]:
        if self.i >= len(self.toks):
            raise PolicySyntaxError(f"unexpected end of policy, expected {what}")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def _expect(self, value: str) -> None:
        kind, text, pos = self._next(repr(value))
        if text != value:
            raise PolicySyntaxError(f"expected {value!r} at offset {pos}, found {text!r}")

    def expr(self) -> Gate | Principal:
        kind, text, pos = self._next("AND, OR, OutOf or a quoted principal")
        if kind == "str":
            return _principal(text[1:-1], pos)
        if kind != "name" or text.lower() not in ("and", "or", "outof"):
            raise PolicySyntaxError(f"expected AND, OR, OutOf or a quoted principal at offset {pos}, found {text!r}")
        self._expect("(")
        n = 0
        if text.lower() == "outof":
            nkind, ntext, npos = self._next("a number")
            if nkind != "num":
                raise PolicySyntaxError(f"OutOf needs a number first, found {ntext!r} at offset {npos}")
            n = int(ntext)
            self._expect(",")
        rules = [self.expr()]
        while True:
            _, sep, spos = self._next("',' or ')'")
            if sep == ")":
                break
            if sep != ",":
                raise PolicySyntaxError(f"expected ',' or ')' at offset {spos}, found {sep!r}")
            rules.append(self.expr())
        if text.lower() == "and":
            n = len(rules)
        elif text.lower() == "or":
            n = 1
        if not 1 <= n <= len(rules):
            raise PolicySyntaxError(f"OutOf({n}, ...) at offset {pos} has {len(rules)} rule(s); n must be 1..{len(rules)}")
        return Gate(n, tuple(rules))


def _principal(text: str, pos: int) -> Principal:
    match = _PRINCIPAL.match(text)
    if match is None:
        raise PolicySyntaxError(
            f"principal {text!r} at offset {pos} is not 'MSPID.role' with role one of {', '.join(ROLES)}")
    return Principal(match.group(1), match.group(2))


def parse_signature_policy(rule: str) -> Gate | Principal:
    """Parse a Fabric signature-policy string.

    Raises:
        PolicySyntaxError: the string is empty, malformed, or names an invalid principal or threshold.
    """
    if not rule.strip():
        raise PolicySyntaxError("empty policy")
    parser = _Parser(rule)
    tree = parser.expr()
    if parser.i != len(parser.toks):
        _, text, pos = parser.toks[parser.i]
        raise PolicySyntaxError(f"unexpected {text!r} at offset {pos} after the end of the policy")
    return tree


def principals(tree: Gate | Principal) -> list[Principal]:
    """Every principal of a parsed policy, in order of appearance."""
    if isinstance(tree, Principal):
        return [tree]
    return [p for rule in tree.rules for p in principals(rule)]


def parse_rule(rule: str) -> ImplicitMeta | Gate | Principal:
    """Parse an endorsement rule: a supported implicit-meta rule or a signature policy.

    Raises:
        PolicySyntaxError: the rule is implicit-meta over an unsupported sub-policy, or not a valid
            signature policy.
    """
    meta = parse_implicit_meta(rule)
    return meta if meta is not None else parse_signature_policy(rule)


def check_rule(rule: str) -> list[str]:
    """MSP IDs a rule names (empty for implicit-meta rules).

    Raises:
        PolicySyntaxError: the rule is neither a supported implicit-meta rule nor a valid signature policy.
    """
    tree = parse_rule(rule)
    if isinstance(tree, ImplicitMeta):
        return []
    return sorted({p.msp_id for p in principals(tree)})


def members_policy(msp_ids: list[str], role: str = "member") -> str:
    """``OR('A.member', 'B.member', ...)`` over the given MSP IDs."""
    return "OR(" + ", ".join(f"'{m}.{role}'" for m in msp_ids) + ")"
