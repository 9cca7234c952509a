"""On-chain node registry (REQUIREMENTS T-7.2.3 "record and authenticate every node that joins consensus",
T-8.2 b node operations): orderer and peer identities admitted through governance proposals.

* ``node_admit`` proposal (see :mod:`.proposals`): ``target.contract`` = the node id and the artifact is one
  node record (:data:`RECORD_FIELDS`), or ``target.contract = "genesis"`` and the artifact is
  ``{"nodes": [record, ...]}`` (1..64 records, unique ids, sorted by node id) — the network's initial
  nodes, admitted once per channel. ``package_digest`` = hex SM3 of the artifact's canonical JSON.
* ``node_remove`` proposal: ``target.contract`` = the node id of an active node; no artifact.
* A removed node id may be admitted again only with *new* certificates: every TLS / signing certificate
  fingerprint ever admitted stays bound to its node id (``gov.nodecert``) and is never accepted again
  for another admission — a removed identity never comes back.
* ``governance:node_joined`` / ``node_left``: after the network tool actually joined (or removed) the
  node, an admin of an active member org attests it with the channel's config block number. The join
  attestation is refused unless the node is admitted, active and the TLS fingerprint is the admitted one
  (the authentication step).

Every step is an entry in the node record's ``history`` / ``joins`` and a channel timeline event
(``node_admitted``, ``node_removed``, ``node_joined``, ``node_left``). Deterministic: no clock but the
transaction time, sorted iteration only.

Rules layer: node records are stored by :mod:`.store.nodes`; the ``governance:node*`` transactions are in
the :mod:`.governance` front.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .common import record_event, require_admin, require_hex64, require_int, tx_time
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .store.members import MSP_ID, role_of
from .store.nodes import NODE_ID, bind_cert, cert_binding, genesis_admission, node_of, put_genesis_admission, put_node

log = logging.getLogger(__name__)

__all__ = [
    "RECORD_FIELDS",
    "GENESIS",
    "validate_node_id",
    "validate_record",
    "validate_admission",
    "require_active",
    "admit",
    "remove",
    "attest",
]

RECORD_FIELDS = ("node_id", "org_msp", "kind", "consensus", "tls_cert_sha256", "sign_cert_sha256", "subject",
                 "issuer", "not_after")
KINDS = ("orderer", "peer")
GENESIS = "genesis"  # target.contract of the genesis admission (reserved: not a node id)
MAX_GENESIS = 64
MAX_JOINS = 256  # join/leave attestations kept per node
MAX_INT = 2**53 - 1  # integers stored in records stay exact in every JSON reader (RFC 8785, I-JSON)
_CHANNEL = re.compile(r"^[a-z][a-z0-9.-]{0,248}$")  # Fabric's channel name rule


def validate_node_id(value: Any, name: str = "node_id") -> str:
    """Check a node id (host name syntax: letters, digits, ``.``, ``_``, ``-``; at most 255; not "genesis").

    Raises:
        InvalidInput: anything else.
    """
    if not isinstance(value, str) or not NODE_ID.match(value):
        raise InvalidInput(f"{name} is not a node id (host name: letters, digits, '.', '_', '-'; at most 255 "
                           "characters)")
    if value == GENESIS:
        raise InvalidInput(f"{name} {GENESIS!r} is reserved for the genesis admission")
    return value


def _text(record: dict[str, Any], field: str) -> None:
    value = record[field]
    if not isinstance(value, str) or not value.strip() or len(value) > 512 or not value.isprintable():
        raise InvalidInput(f"node {record['node_id']}: {field} must be 1..512 printable characters (no control "
                           "characters: it is shown in terminals)")


def validate_record(record: Any) -> dict[str, Any]:
    """Check one node record (exactly :data:`RECORD_FIELDS`, every field checked). Pure. Returns it.

    Raises:
        InvalidInput: not an object, missing/extra fields, bad node id / MSP id / kind, ``consensus`` not
            true for an orderer and false for a peer, fingerprints not 64 lower-case hex (or equal),
            subject/issuer empty, over 512 characters or not printable, ``not_after`` not an integer in 0..2**53-1.
    """
    if not isinstance(record, dict) or sorted(record) != sorted(RECORD_FIELDS):
        raise InvalidInput(f"a node record must be an object with exactly {', '.join(RECORD_FIELDS)}")
    node = validate_node_id(record["node_id"])
    if not isinstance(record["org_msp"], str) or not MSP_ID.match(record["org_msp"]):
        raise InvalidInput(f"node {node}: org_msp is not a valid MSP id")
    if record["kind"] not in KINDS:
        raise InvalidInput(f"node {node}: kind is not one of {', '.join(KINDS)}")
    if record["consensus"] is not (record["kind"] == "orderer"):
        raise InvalidInput(f"node {node}: consensus must be true for an orderer and false for a peer")
    for field in ("tls_cert_sha256", "sign_cert_sha256"):
        require_hex64(record[field], f"node {node}: {field}")
    if record["tls_cert_sha256"] == record["sign_cert_sha256"]:
        raise InvalidInput(f"node {node}: the TLS and signing certificates must differ")
    _text(record, "subject")
    _text(record, "issuer")
    if require_int(record["not_after"], f"node {node}: not_after", 0) > MAX_INT:
        raise InvalidInput(f"node {node}: not_after must be at most {MAX_INT}")
    return {key: record[key] for key in RECORD_FIELDS}


def _check_new(ctx: Any, record: dict[str, Any], now: int) -> None:
    node = record["node_id"]
    existing = node_of(ctx.stub, node)
    if existing is not None and existing["status"] == "active":
        raise Conflict(f"node {node} is already admitted and active (proposal {existing['admitted_by'][:16]})")
    if record["not_after"] <= now:
        raise InvalidInput(f"node {node}: its certificate expired at {record['not_after']} (transaction time {now})")
    for field in ("tls_cert_sha256", "sign_cert_sha256"):
        bound = cert_binding(ctx.stub, record[field])
        if bound is not None:
            raise Conflict(f"node {node}: {field} is a certificate already admitted for node {bound['node_id']}; "
                           "a removed identity never comes back: admit new certificates")


def validate_admission(ctx: Any, subject: str, artifact: Any) -> list[dict[str, Any]]:
    """Check a ``node_admit`` artifact against its target and the ledger; returns the records to admit.

    Raises:
        InvalidInput: malformed artifact or record, target not the record's node id, genesis list not
            1..64 unique records sorted by node id, an expired certificate.
        Conflict: the node is already active, a certificate was admitted before, genesis already done.
    """
    now = tx_time(ctx)
    if subject == GENESIS:
        if not isinstance(artifact, dict) or sorted(artifact) != ["nodes"] or not isinstance(artifact["nodes"], list):
            raise InvalidInput('a genesis node admission carries exactly {"nodes": [record, ...]}')
        if not 1 <= len(artifact["nodes"]) <= MAX_GENESIS:
            raise InvalidInput(f"a genesis node admission lists 1..{MAX_GENESIS} nodes")
        records = [validate_record(r) for r in artifact["nodes"]]
        ids = [r["node_id"] for r in records]
        if ids != sorted(set(ids)):
            raise InvalidInput("genesis nodes must have unique node ids, sorted by node_id")
        fingerprints = [r[f] for r in records for f in ("tls_cert_sha256", "sign_cert_sha256")]
        if len(set(fingerprints)) != len(fingerprints):
            raise InvalidInput("genesis nodes repeat a certificate fingerprint")
        if genesis_admission(ctx.stub) is not None:
            raise Conflict(f"the genesis nodes of channel {ctx.stub.get_channel_id()} were already admitted; "
                           "admit later nodes one by one")
    else:
        records = [validate_record(artifact)]
        if records[0]["node_id"] != subject:
            raise InvalidInput(f"node record is for {records[0]['node_id']}, target names {subject}")
    for record in records:
        _check_new(ctx, record, now)
    return records


def require_active(stub: Any, node_id: str) -> dict[str, Any]:
    """The record of an active admitted node.

    Raises:
        InvalidInput: ``node_id`` is not a node id.
        NotFound: the node was never admitted, or was removed.
    """
    node = node_of(stub, validate_node_id(node_id))
    if node is None or node["status"] != "active":
        state = "never admitted" if node is None else "removed"
        raise NotFound(f"node {node_id} is not an active admitted node ({state})")
    return node


def admit(ctx: Any, subject: str, artifact: Any, proposal_id: str) -> dict[str, Any]:
    """Store the admitted node(s) (re-checked at execution time); returns the proposal's outcome.

    Raises:
        InvalidInput, Conflict: as :func:`validate_admission`.
    """
    records = validate_admission(ctx, subject, artifact)
    now = tx_time(ctx)
    for record in records:
        previous = node_of(ctx.stub, record["node_id"]) or {}
        history = list(previous.get("history", []))
        history.append({"event": "admitted", "proposal_id": proposal_id, "at": now,
                        "tls_cert_sha256": record["tls_cert_sha256"], "sign_cert_sha256": record["sign_cert_sha256"]})
        stored = {**record, "status": "active", "admitted_by": proposal_id, "admitted_at": now,
                  "genesis": subject == GENESIS, "removed_by": "", "removed_at": 0,
                  "joins": list(previous.get("joins", [])), "history": history}
        put_node(ctx.stub, stored)
        for field in ("tls_cert_sha256", "sign_cert_sha256"):
            bind_cert(ctx.stub, record[field], record["node_id"], field, proposal_id)
    ids = [r["node_id"] for r in records]
    if subject == GENESIS:
        put_genesis_admission(ctx.stub, {"proposal_id": proposal_id, "at": now, "nodes": ids})
        record_event(ctx, "node_admitted", {"genesis": True, "node_ids": ids, "proposal_id": proposal_id})
    else:
        record = records[0]
        record_event(ctx, "node_admitted", {"node_id": record["node_id"], "org_msp": record["org_msp"],
                                            "node_kind": record["kind"], "consensus": record["consensus"],
                                            "proposal_id": proposal_id})
    return {"nodes": ids, "status": "active"}


def remove(ctx: Any, node_id: str, proposal_id: str) -> dict[str, Any]:
    """Mark an active node removed (its certificates stay retired); returns the proposal's outcome.

    Raises:
        NotFound: not an active admitted node.
    """
    node = require_active(ctx.stub, node_id)
    now = tx_time(ctx)
    node["history"].append({"event": "removed", "proposal_id": proposal_id, "at": now,
                            "tls_cert_sha256": node["tls_cert_sha256"], "sign_cert_sha256": node["sign_cert_sha256"]})
    node.update(status="removed", removed_by=proposal_id, removed_at=now)
    put_node(ctx.stub, node)
    record_event(ctx, "node_removed", {"node_id": node_id, "org_msp": node["org_msp"], "proposal_id": proposal_id})
    return {"nodes": [node_id], "status": "removed"}


def _attest_args(ctx: Any, node_id: Any, channel: Any, block: Any) -> str:
    validate_node_id(node_id)
    if not isinstance(channel, str) or not _CHANNEL.match(channel):
        raise InvalidInput("channel_name is not a Fabric channel name")
    if require_int(block, "config_block_number", 0) > MAX_INT:
        raise InvalidInput(f"config_block_number must be at most {MAX_INT}")
    msp = require_admin(ctx, "attesting a node join or leave")
    if role_of(ctx.stub, msp) is None:
        raise Forbidden(f"{msp} is not an active member: only member org admins attest node joins and leaves")
    return msp


def _last_on(node: dict[str, Any], channel: str) -> dict[str, Any] | None:
    entries = [j for j in node["joins"] if j["channel"] == channel]
    return entries[-1] if entries else None


def attest(ctx: Any, event: str, node_id: Any, channel: Any, block: Any, tls_cert_sha256: Any = None) -> dict[str, Any]:
    """Record that ``node_id`` joined (``event="joined"``) or left (``"left"``) ``channel`` at config block
    ``block``; returns the join entry.

    Joining needs an active node whose admitted TLS fingerprint equals ``tls_cert_sha256``; leaving needs
    an admitted node (active or removed) not already recorded as having left that channel.

    Raises:
        InvalidInput: malformed arguments, a leave block before the join block.
        Forbidden: the caller is not an admin of an active member org; the fingerprint does not match;
            the node was removed (join).
        NotFound: the node was never admitted.
        Conflict: already recorded as joined (join) / as left (leave), or too many attestations.
    """
    msp = _attest_args(ctx, node_id, channel, block)
    node = node_of(ctx.stub, node_id)
    if node is None:
        raise NotFound(f"node {node_id} was never admitted through governance")
    last = _last_on(node, channel)
    if event == "joined":
        require_hex64(tls_cert_sha256, "tls_cert_sha256")
        if node["status"] != "active":
            raise Forbidden(f"node {node_id} was removed by proposal {node['removed_by'][:16]}; it may not join")
        if tls_cert_sha256 != node["tls_cert_sha256"]:
            raise Forbidden(f"node {node_id}: the TLS certificate fingerprint does not match the admitted record")
        if last is not None and last["event"] == "joined":
            raise Conflict(f"node {node_id} is already recorded as joined to {channel} (block {last['block']})")
    else:
        if last is not None and last["event"] == "left":
            raise Conflict(f"node {node_id} is already recorded as having left {channel} (block {last['block']})")
        if last is not None and block < last["block"]:
            raise InvalidInput(f"config_block_number {block} is before the join block {last['block']} of {channel}")
    if len(node["joins"]) >= MAX_JOINS:
        raise Conflict(f"node {node_id} has {MAX_JOINS} attestations; no more are recorded")
    entry = {"event": event, "channel": channel, "block": block, "submitter_msp": msp,
             "tx_id": ctx.stub.get_tx_id(), "at": tx_time(ctx)}
    node["joins"].append(entry)
    put_node(ctx.stub, node)
    record_event(ctx, f"node_{event}", {"node_id": node_id, "channel": channel, "block": block})
    log.info("node %s %s channel %s", node_id, event, channel)
    return entry
