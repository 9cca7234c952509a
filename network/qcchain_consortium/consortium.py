"""The consortium model: ``load_consortium(path=None) -> Consortium``.

Validation collects EVERY problem before raising one :class:`ConsortiumError`: YAML syntax, the JSON
Schema (``network/consortium.schema.json``), the policy files (``policies/endorsement.yaml``,
``policies/collections.yaml``) and the semantic rules (unknown org in a channel, duplicate names, MSP
IDs or domains, unknown policy or collection names, bad policy syntax, a policy naming an org outside
its channel, too few BFT nodes, a host that is not an IPv4 address or host name, a loopback host mixed with
hosts elsewhere, ports used twice on one host).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qcchain_model.creditcode import validate_credit_code

from .errors import ConsortiumError, ConsortiumFileNotFound, Problem
from .hosts import host_error, loopback_mix
from .policy import check_rule, is_implicit_meta, members_policy
from .ports import PortPlan, plan_ports, port_clashes
from .sources import NETWORK_DIR, load_collections, load_endorsement, load_schema, read_yaml, schema_problems

log = logging.getLogger(__name__)

__all__ = ["Consortium", "Org", "OrdererOrg", "Channel", "ChaincodeDef", "CollectionDef",
           "load_consortium", "DEFAULT_PATH", "ConsortiumError"]

DEFAULT_PATH = NETWORK_DIR / "consortium.yaml"
DEFAULT_NODES = {"raft": 3, "bft": 4}


@dataclass(frozen=True)
class CollectionDef:
    """A private data collection as deployed on one channel (``members`` are org names)."""

    name: str
    policy: str
    required_peer_count: int
    max_peer_count: int
    block_to_live: int
    member_only_read: bool
    member_only_write: bool
    members: list[str]


@dataclass(frozen=True)
class ChaincodeDef:
    """A chaincode on a channel; ``endorsement_policy`` is the resolved rule, ``policy_name`` its name."""

    name: str
    endorsement_policy: str
    collections: list[CollectionDef]
    policy_name: str = ""

    @property
    def uses_channel_policy(self) -> bool:
        """True when the rule is implicit-meta (the channel's /Channel/Application/Endorsement)."""
        return is_implicit_meta(self.endorsement_policy)


@dataclass(frozen=True)
class Org:
    """A member organisation (T-5.1)."""

    name: str
    msp_id: str
    role: str
    domain: str
    peers: int = 1
    full_name: str = ""
    credit_code: str = ""
    base_port: int | None = None
    #: where its peers listen and are reached (None: the network's host)
    host: str | None = None


@dataclass(frozen=True)
class OrdererOrg:
    """The orderer organisation and its consensus (raft: etcdraft, bft: SmartBFT)."""

    name: str
    msp_id: str
    domain: str
    consensus: str = "raft"
    nodes: int = 3
    batch_timeout: str = "200ms"
    max_message_count: int = 10
    base_port: int | None = None
    #: where its orderers listen and are reached (None: the network's host)
    host: str | None = None


@dataclass(frozen=True)
class Channel:
    """A channel with its member orgs (by name) and chaincodes."""

    name: str
    members: list[str]
    chaincodes: list[ChaincodeDef]


@dataclass(frozen=True)
class Consortium:
    """A validated consortium description."""

    name: str
    orgs: list[Org]
    orderer: OrdererOrg
    channels: list[Channel]
    fabric_version: str = "3.1.5"
    host: str = "127.0.0.1"
    base_port: int = 7050
    source: Path | None = field(default=None, compare=False)
    #: Members that left (``qcchain_consortium.membership.retire``): their ports stay reserved, their names,
    #: MSP IDs and domains are never reused.
    retired: tuple[Org, ...] = ()
    #: Names of members that joined a running network: their peers are not in the base port plan.
    joined: tuple[str, ...] = ()
    #: The policy files used, by key (``endorsement``, ``collections``): (path as written, resolved path).
    policy_files: dict[str, tuple[str, Path]] = field(default_factory=dict, compare=False)

    def org(self, name: str) -> Org:
        """The member org called ``name`` (or with that MSP ID).

        Raises:
            KeyError: no such org.
        """
        for org in self.orgs:
            if name in (org.name, org.msp_id):
                return org
        raise KeyError(f"no org named {name!r} in consortium {self.name!r}")

    def host_of(self, org: Org | OrdererOrg) -> str:
        """Where ``org``'s processes listen and are reached: its own ``host``, else the network's."""
        return org.host or self.host

    @property
    def multi_host(self) -> bool:
        """True when some org (or the orderer org) names a host other than the network's."""
        return any(self.host_of(o) != self.host for o in [self.orderer, *self.orgs, *self.retired])

    def ports(self) -> PortPlan:
        """The port plan of the network (see :mod:`qcchain_consortium.ports`)."""
        planned = [o for o in list(self.orgs) + list(self.retired) if o.name not in self.joined]
        return _port_plan(self.base_port, self.orderer, planned, self.channels, self.host)


def _port_plan(base: int, orderer: OrdererOrg, orgs: list[Org], channels: list[Channel], host: str) -> PortPlan:
    ccs = [cc.name for ch in channels for cc in ch.chaincodes]
    return plan_ports(base, orderer.nodes, orderer.base_port,
                      [(o.name, o.peers, o.base_port) for o in orgs], ccs,
                      hosts={o.name: o.host or host for o in orgs}, orderer_host=orderer.host or host, host=host)


def load_consortium(path: Path | str | None = None) -> Consortium:
    """Read, validate and resolve a consortium file (None: ``network/consortium.yaml``).

    Raises:
        ConsortiumFileNotFound: the file does not exist (also a ``FileNotFoundError``).
        ConsortiumError: anything is wrong; lists every problem (file, JSON path, what is wrong).
    """
    source = Path(path) if path is not None else DEFAULT_PATH
    problems: list[Problem] = []
    try:
        data = read_yaml(source, problems)
    except FileNotFoundError:
        raise ConsortiumFileNotFound([Problem(str(source), "$", "file not found")]) from None
    if problems:
        raise ConsortiumError(problems)
    problems.extend(schema_problems(data, load_schema(), str(source)))
    if problems:
        raise ConsortiumError(problems)
    consortium = _build(data, source, problems)
    if problems:
        raise ConsortiumError(problems)
    log.debug("consortium %s loaded from %s", consortium.name, source)
    return consortium


def _policy_path(data: dict[str, Any], source: Path, key: str, default: str, problems: list[Problem],
                 used: dict[str, tuple[str, Path]]) -> Path:
    """``policies.<key>`` (default ``../policies/<default>``), resolved against the consortium file's folder
    (not the working directory); a missing file is a problem naming both the written and the resolved path."""
    rel = str(data.get("policies", {}).get(key, f"../policies/{default}"))
    path = (source.parent / rel).resolve()
    used[key] = (rel, path)
    if not path.is_file():
        problems.append(Problem(str(source), f"$.policies.{key}",
                                f"policy file {rel!r} not found: resolved against {source.parent.resolve()} "
                                f"(the consortium file's folder) to {path}"))
    return path


def _build(data: dict[str, Any], source: Path, problems: list[Problem]) -> Consortium:
    file = str(source)
    used: dict[str, tuple[str, Path]] = {}
    endorsement = _policy_path(data, source, "endorsement", "endorsement.yaml", problems, used)
    rules = load_endorsement(endorsement, problems) if endorsement.is_file() else None
    collections = _policy_path(data, source, "collections", "collections.yaml", problems, used)
    colls = load_collections(collections, problems) if collections.is_file() else None
    orgs = [Org(name=o["name"], msp_id=o["msp_id"], role=o["role"], domain=o["domain"], peers=o.get("peers", 1),
                full_name=o.get("full_name", ""), credit_code=o.get("credit_code", ""),
                base_port=o.get("base_port"), host=o.get("host")) for o in data["orgs"]]
    raw_ord = data["orderer"]
    consensus = raw_ord["consensus"]
    orderer = OrdererOrg(name=raw_ord["name"], msp_id=raw_ord["msp_id"], domain=raw_ord["domain"],
                         consensus=consensus, nodes=raw_ord.get("nodes", DEFAULT_NODES[consensus]),
                         batch_timeout=raw_ord.get("batch_timeout", "200ms"),
                         max_message_count=raw_ord.get("max_message_count", 10),
                         base_port=raw_ord.get("base_port"), host=raw_ord.get("host"))
    _check_orgs(orgs, orderer, file, problems)
    by_name = {o.name: o for o in orgs}
    channels = [_channel(i, ch, by_name, rules, colls, file, problems) for i, ch in enumerate(data["channels"])]
    _check_channels(channels, file, problems)
    net = data.get("network", {})
    base = net.get("base_port", 7050)
    host = net.get("host", "127.0.0.1")
    _check_hosts(host, orgs, orderer, data["channels"], file, problems)
    for clash in port_clashes(_port_plan(base, orderer, orgs, channels, host)):
        problems.append(Problem(file, "$.network.base_port", f"port clash: {clash}"))
    return Consortium(name=data["name"], orgs=orgs, orderer=orderer, channels=channels,
                      fabric_version=data.get("fabric_version", "3.1.5"), host=host,
                      base_port=base, source=source, policy_files=used)


CC_SERVERS = "network.host (the chaincode servers)"


def _check_hosts(host: str, orgs: list[Org], orderer: OrdererOrg, channels: list[dict[str, Any]], file: str,
                 problems: list[Problem]) -> None:
    """Each host an IPv4 address or host name; no loopback host while other processes are elsewhere."""
    where = {"$.network.host": host, "$.orderer.host": orderer.host}
    where.update({f"$.orgs[{i}].host": o.host for i, o in enumerate(orgs)})
    for path, value in where.items():
        error = host_error(value) if value is not None else None
        if error:
            problems.append(Problem(file, path, error))
    paths = {orderer.name: "$.orderer.host", **{o.name: f"$.orgs[{i}].host" for i, o in enumerate(orgs)}}
    used = {orderer.name: orderer.host or host, **{o.name: o.host or host for o in orgs}}
    if any(ch.get("chaincodes") for ch in channels):
        paths[CC_SERVERS] = "$.network.host"
        used[CC_SERVERS] = host
    if any(value is not None and host_error(value) for value in where.values()):
        return
    for owner, message in loopback_mix(used):
        problems.append(Problem(file, paths[owner], message))


def _dupes(values: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for i, value in enumerate(values):
        if value in seen:
            out.append((i, value))
        seen.add(value)
    return out


def _check_orgs(orgs: list[Org], orderer: OrdererOrg, file: str, problems: list[Problem]) -> None:
    for attr, what in (("name", "org name"), ("msp_id", "MSP ID"), ("domain", "domain")):
        values = [getattr(o, attr) for o in orgs] + [getattr(orderer, attr)]
        for i, value in _dupes(values):
            where = f"$.orgs[{i}].{attr}" if i < len(orgs) else f"$.orderer.{attr}"
            problems.append(Problem(file, where, f"duplicate {what} {value!r}"))
    for i, org in enumerate(orgs):
        if org.credit_code:
            try:
                validate_credit_code(org.credit_code)
            except ValueError as exc:
                problems.append(Problem(file, f"$.orgs[{i}].credit_code", str(exc)))
    if orderer.consensus == "bft" and orderer.nodes < 4:
        problems.append(Problem(file, "$.orderer.nodes", f"bft needs at least 4 nodes (3f+1), got {orderer.nodes}"))


def _check_channels(channels: list[Channel], file: str, problems: list[Problem]) -> None:
    for i, name in _dupes([c.name for c in channels]):
        problems.append(Problem(file, f"$.channels[{i}].name", f"duplicate channel name {name!r}"))
    for i, ch in enumerate(channels):
        for j, name in _dupes([cc.name for cc in ch.chaincodes]):
            problems.append(Problem(file, f"$.channels[{i}].chaincodes[{j}].name", f"duplicate chaincode {name!r}"))
        metas = {cc.endorsement_policy for cc in ch.chaincodes if cc.uses_channel_policy}
        if len(metas) > 1:
            problems.append(Problem(file, f"$.channels[{i}].chaincodes",
                                    f"implicit-meta rules {sorted(metas)} conflict: a channel has one Endorsement policy"))


def _channel(i: int, raw: dict[str, Any], orgs: dict[str, Org], rules: dict[str, str | None] | None,
             colls: dict[str, dict[str, Any]] | None, file: str, problems: list[Problem]) -> Channel:
    members = list(raw["members"])
    for j, member in enumerate(members):
        if member not in orgs:
            problems.append(Problem(file, f"$.channels[{i}].members[{j}]",
                                    f"unknown org {member!r} (known: {', '.join(orgs)})"))
    known = [m for m in members if m in orgs]
    chaincodes = [_chaincode(f"$.channels[{i}].chaincodes[{j}]", cc, known, orgs, rules, colls, file, problems)
                  for j, cc in enumerate(raw["chaincodes"])]
    return Channel(name=raw["name"], members=members, chaincodes=chaincodes)


def _chaincode(where: str, raw: dict[str, Any], members: list[str], orgs: dict[str, Org],
               rules: dict[str, str | None] | None, colls: dict[str, dict[str, Any]] | None,
               file: str, problems: list[Problem]) -> ChaincodeDef:
    pname = raw["endorsement_policy"]
    rule = ""
    if rules is not None and pname not in rules:
        problems.append(Problem(file, f"{where}.endorsement_policy",
                                f"unknown endorsement policy {pname!r} (defined: {', '.join(rules) or 'none'})"))
    elif rules is not None and rules[pname] is not None:
        rule = str(rules[pname])
        channel_msps = {orgs[m].msp_id for m in members}
        outside = [m for m in check_rule(rule) if m not in channel_msps]
        if outside:
            problems.append(Problem(file, f"{where}.endorsement_policy",
                                    f"policy {pname!r} names {', '.join(outside)}, not a member of the channel"))
    collections = []
    for k, cname in enumerate(raw.get("collections", [])):
        if colls is not None and cname not in colls:
            problems.append(Problem(file, f"{where}.collections[{k}]",
                                    f"unknown collection {cname!r} (defined: {', '.join(colls) or 'none'})"))
        elif colls is not None:
            coll = _collection(cname, colls[cname], members, orgs, f"{where}.collections[{k}]", file, problems)
            collections.append(coll)
    return ChaincodeDef(name=raw["name"], endorsement_policy=rule, collections=collections, policy_name=pname)


def _collection(name: str, spec: dict[str, Any], members: list[str], orgs: dict[str, Org], where: str,
                file: str, problems: list[Problem]) -> CollectionDef:
    chosen = list(members) if spec["members"] == "channel" else list(spec["members"])
    outside = [m for m in chosen if m not in members]
    if outside:
        problems.append(Problem(file, where, f"collection {name!r} names {', '.join(outside)}, "
                                             "not a member of the channel"))
    inside = [m for m in chosen if m in members]
    return CollectionDef(name=name, policy=members_policy([orgs[m].msp_id for m in inside]),
                         required_peer_count=spec["required_peer_count"], max_peer_count=spec["max_peer_count"],
                         block_to_live=spec["block_to_live"], member_only_read=spec.get("member_only_read", True),
                         member_only_write=spec.get("member_only_write", True), members=inside)
