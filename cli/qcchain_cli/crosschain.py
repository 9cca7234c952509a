"""``qcchain crosschain``: certificates of other chains with verifiable proofs (T-9.2.3).

On the source network: ``anchors`` writes its trust-anchor document (MSPs + CRLs of the channel config, the
endorsement policy made explicit); ``export RECORD_ID`` writes a proof bundle (of an ingested record: with its
batch inclusion proof, ``--inclusion FILE`` from the ingestion service when the chain holds it sealed). On the
receiving network: ``register-source`` / ``update-source`` / ``remove-source`` open a source proposal signed
with your org admin's SM2 key, ``sign-source`` / ``execute-source`` complete it (the ``policy_update``
threshold); ``import`` verifies a bundle in chaincode and records the certificate; ``list``. ``verify FILE`` checks a bundle on chain
(``--source``) or offline, without any chain, against ``--anchors FILE`` (or, flagged, the bundle's own config).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import click

from .errors import CliError
from .options import common_options, connect_contract, emit, optional_key, sdk_call, signing_key

log = logging.getLogger(__name__)

RULE_HELP = "The chaincode's endorsement rule on the source (implicit MAJORITY/ANY/ALL Endorsement made explicit)."


def _network(ctx: click.Context) -> Any:
    from qcchain_sdk.actions import NamedContract

    return lambda name: NamedContract(connect_contract(ctx), name)


def _client(ctx: click.Context, write: bool) -> Any:
    from qcchain_sdk.crosschain import CrossChainClient

    key = signing_key(ctx, "source proposals") if write else optional_key(ctx)
    return CrossChainClient(_network(ctx)("crosschain"), key)


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CliError(f"{what} {path}: {exc.__class__.__name__}: not readable JSON") from exc


@click.group()
@common_options()
@click.pass_context
def crosschain(ctx: click.Context) -> None:
    """Cross-chain certificates: anchors, export, register/update/remove-source, import, verify, list."""
    ctx.ensure_object(dict)


@crosschain.command()
@click.option("--endorsement-rule", default="MAJORITY Endorsement", show_default=True, help=RULE_HELP)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Where to write the document.")
@common_options()
@click.pass_context
def anchors(ctx: click.Context, endorsement_rule: str, output: Path) -> None:
    """Write this network's trust-anchor document (for the receiving chain's register-source)."""
    from qcchain_sdk.crosschain import source_document

    qscc = connect_contract(ctx, "qscc")
    channel = qscc.channel if hasattr(qscc, "channel") else ctx.obj.get("channel")
    block = sdk_call(lambda: qscc.evaluate_transaction("GetBlockByNumber", channel, "0"))
    doc = sdk_call(lambda: source_document(block, channel, "qcchain", endorsement_rule))
    output.write_text(json.dumps(doc, indent=1, sort_keys=True))
    emit(ctx, {"output": str(output), "msps": sorted(doc["msps"]), "policy": doc["endorsement_policy"]},
         lambda r: [f"trust anchors of {channel}: MSPs {', '.join(r['msps'])}; policy {r['policy']} -> {r['output']}"])


@crosschain.command()
@click.argument("record_id")
@click.option("--endorsement-rule", default="MAJORITY Endorsement", show_default=True, help=RULE_HELP)
@click.option("--inclusion", "inclusion_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ingested record: its inclusion proof from the ingestion service (`qcchain ingest proof ID`), "
                   "needed when the record is sealed (L2/L3) or deleted.")
@click.option("--disclose-private", is_flag=True,
              help="Allow exporting a sealed ingested record: the bundle carries its plaintext.")
@click.option("--no-attestation", is_flag=True,
              help="Leave out the attestation (the record read, endorsed by the source's peers, not submitted) "
                   "that proves the version committed and was current at export.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Where to write the bundle.")
@common_options()
@click.pass_context
def export(ctx: click.Context, record_id: str, endorsement_rule: str, inclusion_file: Path | None,
           disclose_private: bool, no_attestation: bool, output: Path) -> None:
    """Write the proof bundle of RECORD_ID's current version (a record, or an ingested record with its
    batch inclusion proof)."""
    from qcchain_gateway.errors import NotFoundError
    from qcchain_sdk.crosschain import export_bundle, export_ingested_bundle

    net, qscc = _network(ctx), connect_contract(ctx, "qscc")
    attestor = None if no_attestation else connect_contract(ctx)
    inclusion = _read_json(inclusion_file, "inclusion proof") if inclusion_file else None

    def ingested() -> dict[str, Any]:
        return export_ingested_bundle(net("ingest"), qscc, qscc.channel, "qcchain", record_id, endorsement_rule,
                                      int(time.time()), inclusion, disclose_private, attestor)

    def build() -> dict[str, Any]:
        if inclusion is not None:
            return ingested()
        try:
            return export_bundle(net("records"), net("keys"), qscc, qscc.channel, "qcchain", record_id,
                                 endorsement_rule, int(time.time()), attestor)
        except NotFoundError:
            return ingested()  # not a records:* record: an ingested one (or NotFound again)

    bundle = sdk_call(build)
    output.write_text(json.dumps(bundle))
    kind = ("ingested, with its batch inclusion proof" if bundle["ingest"] else "record") + (
        ", attested" if bundle.get("attestation") else "")
    emit(ctx, {"output": str(output), "record_id": record_id, "ingested": bundle["ingest"] is not None},
         lambda r: [f"bundle of {record_id} ({kind}) -> {r['output']} (blocks carry every transaction of their block)"])


def _propose(ctx: click.Context, operation: str, name: str, anchors_file: Path | None, expires_in: int) -> None:
    from qcchain_sdk.crosschain import source_proposal

    client = _client(ctx, True)
    doc = _read_json(anchors_file, "anchors") if anchors_file else None
    body, artifact = source_proposal(operation, name, client.contract.channel, doc, f"{operation} {name}",
                                     int(time.time()) + expires_in)
    result = sdk_call(lambda: client.propose(body, artifact))
    emit(ctx, result, lambda p: [f"source proposal {p['proposal_id']} ({operation} {name}) opened; other orgs run "
                                 f"`qcchain crosschain sign-source {p['proposal_id']}`, then execute-source"])


_EXPIRES = click.option("--expires-in", type=click.IntRange(60, 604800), default=86400, show_default=True,
                        help="Proposal lifetime in seconds.")


@crosschain.command("register-source")
@click.argument("name")
@click.argument("anchors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_EXPIRES
@common_options()
@click.pass_context
def register_source(ctx: click.Context, name: str, anchors_file: Path, expires_in: int) -> None:
    """Propose registering source NAME with the trust anchors of ANCHORS_FILE."""
    _propose(ctx, "source_register", name, anchors_file, expires_in)


@crosschain.command("update-source")
@click.argument("name")
@click.argument("anchors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_EXPIRES
@common_options()
@click.pass_context
def update_source(ctx: click.Context, name: str, anchors_file: Path, expires_in: int) -> None:
    """Propose replacing source NAME's trust anchors (new CAs, CRLs, policy)."""
    _propose(ctx, "source_update", name, anchors_file, expires_in)


@crosschain.command("remove-source")
@click.argument("name")
@_EXPIRES
@common_options()
@click.pass_context
def remove_source(ctx: click.Context, name: str, expires_in: int) -> None:
    """Propose removing source NAME (its bundles are refused afterwards)."""
    _propose(ctx, "source_remove", name, None, expires_in)


@crosschain.command("sign-source")
@click.argument("proposal_id")
@common_options()
@click.pass_context
def sign_source(ctx: click.Context, proposal_id: str) -> None:
    """Add your org's SM2 signature to a source proposal."""
    client = _client(ctx, True)
    proposal = sdk_call(lambda: client.proposal(proposal_id))
    result = sdk_call(lambda: client.sign(proposal))
    emit(ctx, result, lambda p: [f"signed; signatures: {', '.join(sorted(p['signatures']))}"])


@crosschain.command("execute-source")
@click.argument("proposal_id")
@common_options()
@click.pass_context
def execute_source(ctx: click.Context, proposal_id: str) -> None:
    """Execute a source proposal once its threshold is met."""
    result = sdk_call(lambda: _client(ctx, False).execute(proposal_id))
    emit(ctx, result, lambda p: [f"{p['body']['operation']} {p['body']['source']}: executed "
                                 f"({p['threshold']['why']})"])


@crosschain.command("import")
@click.argument("source")
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--record-id", default="", help="Refuse a bundle for any other record.")
@click.option("--min-time", type=click.IntRange(min=0), default=0, help="Refuse a record older than this (epoch s).")
@common_options()
@click.pass_context
def import_(ctx: click.Context, source: str, bundle_file: Path, record_id: str, min_time: int) -> None:
    """Verify BUNDLE_FILE in chaincode against SOURCE and record the certificate."""
    result = sdk_call(lambda: _client(ctx, False).import_bundle(source, bundle_file.read_bytes(), record_id, min_time))
    emit(ctx, result, lambda c: [f"imported {c['record_id']} from {source} ({c['status']}; source block "
                                 f"{c['provenance']['block']}, tx {c['provenance']['tx_id'][:12]})"])


@crosschain.command()
@click.argument("bundle_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", default="", help="Verify on chain against this registered source.")
@click.option("--anchors", "anchors_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Offline: trust anchors to judge by [default: the bundle's own config, flagged].")
@common_options()
@click.pass_context
def verify(ctx: click.Context, bundle_file: Path, source: str, anchors_file: Path | None) -> None:
    """Verify a bundle: on chain with --source, otherwise offline (no chain needed)."""
    raw = bundle_file.read_bytes()
    if source:
        result = sdk_call(lambda: _client(ctx, False).verify(source, raw))
        note = f"on chain, source {source}"
    else:
        from qcchain_contracts.bundleverify import parse_bundle, verify_bundle
        from qcchain_contracts.errors import ContractError
        from qcchain_contracts.fabricproof import ANCHOR_FIELDS, load_anchors

        try:
            bundle = parse_bundle(raw)
            doc = _read_json(anchors_file, "anchors") if anchors_file else {
                **{k: bundle["config"].get(k) for k in ANCHOR_FIELDS if k in bundle["config"]},
                **bundle["source"], "orderer_signatures": 1}
            result = verify_bundle(bundle, load_anchors(doc))
        except ContractError as exc:
            raise CliError(f"bundle refused: {exc}") from exc
        note = "offline, anchors " + (str(anchors_file) if anchors_file else "from the bundle itself (self-consistency only)")
    emit(ctx, result, lambda c: [f"valid: {c['record_id']} ({c['status']}) at source block {c['provenance']['block']}, "
                                 f"endorsed by {', '.join(c['provenance']['endorsers'])}"
                                 + (f"; current at {c['provenance']['attested_at']} (attested by "
                                    f"{', '.join(c['provenance']['attested_by'])})" if c["provenance"].get("attested_at")
                                    else "; not attested") + f" [{note}]"])


@crosschain.command("list")
@click.argument("source", default="")
@common_options()
@click.pass_context
def list_(ctx: click.Context, source: str) -> None:
    """Registered sources and imported certificates (of SOURCE, or all)."""
    client = _client(ctx, False)
    result = {"sources": sdk_call(client.sources), "certificates": sdk_call(lambda: client.certificates(source))}
    emit(ctx, result, lambda r: [*(f"source {s['name']}: {s['status']} v{s['version']}" for s in r["sources"]),
                                 *(f"  {c['source']}/{c['record_id']}: {c['status']} (block {c['block']})"
                                   for c in r["certificates"])])
