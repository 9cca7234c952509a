"""``qcchain ingest``: the seed-001 HTTPS ingestion service (serve), its credentials, admin API keys, proofs,
overdue units.

``serve --dir DIR`` serves on the embedded devnet in DIR (started detached if none runs there; governance
bootstrapped from ``policies/`` and the consortium file if the channel has none), as ``--org`` (default
Regulator), with an SM2 key kept in ``DIR/ingest/sm2-key.pem`` and registered on chain once.
``serve --profile P --key K`` serves against any Fabric network as the profile's org with the registered
SM2 key K (PEM). ``--identity-key pkcs11:token=T;object=O`` signs the Fabric transactions with that key on
a PKCS#11 token instead of the MSP keystore file (PIN from ``--identity-pin-file`` or ``$QCCHAIN_PKCS11_PIN``). State: ``--db URL`` (PostgreSQL for replicas) or SQLite in ``<state>/ingest.db``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import click

from .errors import CliError
from .keys_token import identity_key_options

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
_DIR = click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".devnet"),
                    show_default=True, help="Devnet state directory (the service keeps its state in DIR/ingest).")
_DB = click.option("--db", "db_url", default=None, help="State database URL (default: SQLite in DIR/ingest/ingest.db).")


def _db_url(state_dir: Path, db_url: str | None) -> str:
    from qcchain_ingest.db import sqlite_url

    if db_url:
        return db_url
    (state_dir / "ingest").mkdir(parents=True, exist_ok=True)
    return sqlite_url(str((state_dir / "ingest" / "ingest.db").resolve()))


def _store(state_dir: Path, db_url: str | None) -> Any:
    from qcchain_ingest.credentials import CredentialStore
    from qcchain_ingest.db import open_engine
    from qcchain_ingest.errors import StateError

    try:
        return CredentialStore(open_engine(_db_url(state_dir, db_url)), time.time)
    except StateError as exc:
        raise CliError(str(exc)) from exc


@click.group()
def ingest() -> None:
    """HTTPS ingestion service of seed 001 (appid/secret -> access_token -> syndata)."""


@ingest.group()
def credentials() -> None:
    """appid / AppSecret of using units (the ingesting org's admin)."""


@credentials.command("issue")
@_DIR
@_DB
@click.option("--org-no", required=True, help="Unified social credit code of the using unit (GB 32100).")
@click.option("--name", required=True, help="Name of the using unit.")
@click.option("--json", "as_json", is_flag=True, help="Print {\"appid\", \"secret\"}.")
def issue(state_dir: Path, db_url: str | None, org_no: str, name: str, as_json: bool) -> None:
    """Issue an appid bound to one using unit; the secret is shown once."""
    from qcchain_ingest.errors import CredentialError

    try:
        cred = _store(state_dir, db_url).issue(org_no, name)
    except CredentialError as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps(cred) if as_json else f"appid {cred['appid']}\nsecret {cred['secret']}  (shown once)")


@credentials.command("list")
@_DIR
@_DB
@click.option("--json", "as_json", is_flag=True)
def list_cmd(state_dir: Path, db_url: str | None, as_json: bool) -> None:
    """Every appid with its unit and status (no secrets)."""
    rows = _store(state_dir, db_url).list()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['appid']}  {r['status']:8} {'locked ' if r['locked'] else ''}{r['org_no']}  {r['name']}")


@credentials.command("revoke")
@_DIR
@_DB
@click.argument("appid")
def revoke(state_dir: Path, db_url: str | None, appid: str) -> None:
    """Revoke an appid at once (its tokens stop working)."""
    from qcchain_ingest.errors import CredentialError

    try:
        _store(state_dir, db_url).revoke(appid)
    except CredentialError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"revoked {appid}")


@credentials.command("rotate")
@_DIR
@_DB
@click.argument("appid")
@click.option("--json", "as_json", is_flag=True)
def rotate(state_dir: Path, db_url: str | None, appid: str, as_json: bool) -> None:
    """A new secret; the old one stays valid for 24 h."""
    from qcchain_ingest.errors import CredentialError

    try:
        cred = _store(state_dir, db_url).rotate(appid)
    except CredentialError as exc:
        raise CliError(str(exc)) from exc
    click.echo(json.dumps(cred) if as_json else f"appid {cred['appid']}\nsecret {cred['secret']}  (shown once)")


@ingest.group("admin-key")
def admin_key() -> None:
    """Keys of the admin API (/jsdspcloud/admin) that the ingesting org's console uses."""


def _admin_keys(state_dir: Path, db_url: str | None) -> Any:
    from qcchain_ingest.adminapi import AdminKeys
    from qcchain_ingest.db import open_engine
    from qcchain_ingest.errors import StateError

    try:
        return AdminKeys(open_engine(_db_url(state_dir, db_url)), time.time)
    except StateError as exc:
        raise CliError(str(exc)) from exc


@admin_key.command("issue")
@_DIR
@_DB
@click.option("--name", required=True, help="What the key is for (e.g. console-regulator).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write the key to (created with mode 0600; must not exist).")
def admin_key_issue(state_dir: Path, db_url: str | None, name: str, out: Path) -> None:
    """Issue an admin API key into --out (never printed); give the file to `qcchain console serve --ingest-key-file`."""
    import os

    from qcchain_ingest.errors import CredentialError

    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CliError(f"--out {out}: {exc.strerror}") from exc
    try:
        issued = _admin_keys(state_dir, db_url).issue(name)
    except (CredentialError, CliError) as exc:
        os.close(fd)
        out.unlink()
        raise CliError(str(exc)) from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(issued["key"] + "\n")
    click.echo(f"admin key {issued['key_id']} written to {out}")


@admin_key.command("list")
@_DIR
@_DB
@click.option("--json", "as_json", is_flag=True)
def admin_key_list(state_dir: Path, db_url: str | None, as_json: bool) -> None:
    """Every admin key id with its name and state (no keys)."""
    rows = _admin_keys(state_dir, db_url).list()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['key_id']}  {'revoked' if r['revoked_at'] else 'active ':7}  {r['name']}")


@admin_key.command("revoke")
@_DIR
@_DB
@click.argument("key_id")
def admin_key_revoke(state_dir: Path, db_url: str | None, key_id: str) -> None:
    """Revoke an admin key at once."""
    from qcchain_ingest.errors import CredentialError

    try:
        _admin_keys(state_dir, db_url).revoke(key_id)
    except CredentialError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"revoked admin key {key_id}")


def _devnet_profile(state_dir: Path, org: str) -> Path:
    """The org's connection profile of the devnet in DIR, starting the devnet (detached) if none runs."""
    from qcchain_devnet.daemon import UpOptions
    from qcchain_devnet.detached import start_detached, status
    from qcchain_devnet.errors import DevnetError

    if not status(state_dir)["running"]:
        click.echo(f"starting a devnet in {state_dir} (stop it with: qcchain devnet down --dir {state_dir})", err=True)
        try:
            start_detached(UpOptions(state_dir=state_dir, port=0, chaincode_module="qcchain_contracts"))
        except (DevnetError, OSError) as exc:
            raise CliError(f"devnet did not start: {exc}") from exc
    return state_dir / "connection-profiles" / f"connection-{org.lower()}.json"


def _dev_key(state_dir: Path) -> Any:
    from qcchain_core.gm import SM2PrivateKey

    path = state_dir / "ingest" / "sm2-key.pem"
    if path.exists():
        return SM2PrivateKey.from_pem(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SM2PrivateKey.generate()
    path.write_bytes(key.to_pem())
    path.chmod(0o600)
    return key


def prepare_devnet_chain(network: Any, msp_id: str, cert_pem: bytes, key: Any, consortium: Path | None) -> None:
    """On a devnet: bootstrap governance from ``policies/`` + the consortium if the channel has none, and
    register ``key`` for the ingesting org if it is not registered yet. Raises CliError."""
    from qcchain_gateway.errors import GatewayError
    from qcchain_sdk.contracts.governance import GovernanceClient

    from .demo import load_policies

    gov = GovernanceClient(network.get_contract("qcchain", "governance"), network.get_contract("qcchain", "keys"),
                           msp_id, cert_pem, key)
    try:
        if not json.loads(network.get_contract("qcchain", "governance").evaluate_transaction("info")):
            from qcchain_consortium.consortium import load_consortium

            orgs = load_consortium(consortium).orgs
            members = [{"msp_id": o.msp_id, "role": o.role, "name": o.full_name or o.name, "credit_code": o.credit_code}
                       for o in orgs]
            gov.bootstrap(members, load_policies(ROOT / "policies"))
        try:
            gov.get_key(gov.key_id)
        except GatewayError:
            now = int(time.time())
            gov.register_key(now - 60, now + 365 * 86400)
    except GatewayError as exc:
        raise CliError(f"cannot prepare the devnet for ingestion: {' '.join(str(exc).split())[:300]}") from exc


@ingest.command()
@click.option("--dir", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Serve on the devnet in DIR (started if none runs there).")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Connection profile of the ingesting org (any Fabric network).")
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="With --profile: the ingesting org's registered SM2 private key (PEM).")
@click.option("--org", default="Regulator", show_default=True, help="With --dir: the ingesting org.")
@click.option("--user", default="Admin", show_default=True)
@click.option("--channel", default="qcchannel", show_default=True)
@_DB
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8443, show_default=True, help="0 = any free port.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--insecure-http", is_flag=True, help="Plain HTTP (tests and benchmarks only).")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write {\"url\", \"port\"} here once listening.")
@click.option("--max-endorsing", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Batches endorsed at once; more wait their turn (more in flight only share the chaincode's CPU).")
@identity_key_options
def serve(state_dir: Path | None, profile: Path | None, key_file: Path | None, org: str, user: str, channel: str,
          db_url: str | None, host: str, port: int, tls_cert: Path | None, tls_key: Path | None, insecure_http: bool,
          ready_file: Path | None, max_endorsing: int, identity_key: str | None, identity_pin_file: Path | None) -> None:
    """Serve the ingestion API (HTTPS; self-signed certificate in the state directory unless --tls-cert/--tls-key)."""
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.profile import connect_profile
    from qcchain_ingest.errors import StateError
    from qcchain_ingest.server import ServeOptions, build_service, serve as run

    from .keys_token import bind_identity_key
    from .proclogs import process_logs

    process_logs("ingest")
    if (state_dir is None) == (profile is None):
        raise CliError("give exactly one of --dir DIR (devnet) or --profile P --key K")
    if (tls_cert is None) != (tls_key is None):
        raise CliError("--tls-cert and --tls-key go together")
    if profile is not None:
        if key_file is None:
            raise CliError("--profile needs --key (the ingesting org's registered SM2 key, PEM)")
        key, home = SM2PrivateKey.from_pem(key_file.read_bytes()), profile.resolve().parent / "ingest"
    else:
        assert state_dir is not None
        profile, key, home = _devnet_profile(state_dir, org), _dev_key(state_dir), state_dir / "ingest"
    home.mkdir(parents=True, exist_ok=True)
    token = bind_identity_key(profile, user, identity_key, identity_pin_file)
    gateway = connect_profile(profile, user=user)
    try:
        network = gateway.get_network(channel)
        if state_dir is not None:
            prepare_devnet_chain(network, gateway.identity.msp_id, gateway.identity.cert_pem, key, None)
        try:
            url = db_url or f"sqlite:///{(home / 'ingest.db').resolve()}"
            service = build_service(network, gateway.identity.msp_id, key, url, blob_dir=home / "blobs",
                                    max_endorsing=max_endorsing)
        except StateError as exc:
            raise CliError(str(exc)) from exc
        options = ServeOptions(state_dir=home, db_url="", host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
                               insecure_http=insecure_http)

        def ready(bound: int) -> None:
            url = f"{'http' if insecure_http else 'https'}://{host}:{bound}"
            click.echo(f"ingestion service on {url}/jsdspcloud/servlet (org {gateway.identity.msp_id}, channel {channel})")
            if ready_file is not None:
                ready_file.write_text(json.dumps({"url": url, "port": bound,
                                                  "tls_cert": "" if insecure_http else str(tls_cert or home / "tls-cert.pem")}))

        try:
            run(service, options, ready)
        except OSError as exc:
            raise CliError(f"cannot serve on {host}:{port}: {exc}") from exc
    finally:
        gateway.close()
        if token is not None:
            token.close()


def _chain_reader(state_dir: Path, profile: Path | None, org: str, user: str, channel: str) -> tuple[Any, Any]:
    """(gateway, IngestClient) of the org: ``--profile`` or the devnet's profile in DIR. Raises CliError."""
    from qcchain_gateway.errors import GatewayError
    from qcchain_gateway.profile import connect_profile
    from qcchain_sdk.contracts.ingest import IngestClient

    path = profile or state_dir / "connection-profiles" / f"connection-{org.lower()}.json"
    if not path.exists():
        raise CliError(f"no connection profile {path} (is a devnet running in {state_dir}? or give --profile)")
    try:
        gateway = connect_profile(path, user=user)
    except (GatewayError, OSError, ValueError) as exc:
        raise CliError(f"cannot connect with {path}: {exc}") from exc
    return gateway, IngestClient(gateway.get_network(channel).get_contract("qcchain"))


_PROFILE = click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                        help="Connection profile to read the chain with (default: the devnet's in DIR).")
_ORG = click.option("--org", default="Regulator", show_default=True, help="With --dir: the org reading the chain.")
_USER = click.option("--user", default="Admin", show_default=True)
_CHANNEL = click.option("--channel", default="qcchannel", show_default=True)


@ingest.command("proof")
@_DIR
@_DB
@_PROFILE
@_ORG
@_USER
@_CHANNEL
@click.argument("record_id")
def proof_cmd(state_dir: Path, db_url: str | None, profile: Path | None, org: str, user: str, channel: str,
              record_id: str) -> None:
    """Print a record's Merkle inclusion proof (JSON) after verifying it against the root on chain."""
    from qcchain_gateway.errors import GatewayError
    from qcchain_ingest.db import open_engine
    from qcchain_ingest.errors import StateError
    from qcchain_ingest.proofs import record_proof
    from qcchain_model.errors import InvalidProof

    try:
        found = record_proof(open_engine(_db_url(state_dir, db_url)), record_id)
    except StateError as exc:
        raise CliError(str(exc)) from exc
    except LookupError as exc:
        raise CliError(f"{record_id}: {exc}") from exc
    gateway, chain = _chain_reader(state_dir, profile, org, user, channel)
    try:
        header = chain.verify_proof(found["record"], found["proof"], found["appid"], found["batch_no"])
    except InvalidProof as exc:
        raise CliError(f"{record_id}: the proof does NOT hold against the on-chain root: {exc}") from exc
    except (LookupError, GatewayError) as exc:
        raise CliError(f"{record_id}: cannot read the batch header on chain: {' '.join(str(exc).split())[:200]}") from exc
    finally:
        gateway.close()
    click.echo(json.dumps({**found, "verified": True, "on_chain_root": header["merkle_root"],
                           "tx_id": header["tx_id"]}, ensure_ascii=False, sort_keys=True))


@ingest.command("overdue")
@_DIR
@_DB
@_PROFILE
@_ORG
@_USER
@_CHANNEL
@click.option("--all", "show_all", is_flag=True, help="List every table, not only overdue ones.")
@click.option("--json", "as_json", is_flag=True)
def overdue_cmd(state_dir: Path, db_url: str | None, profile: Path | None, org: str, user: str, channel: str,
                show_all: bool, as_json: bool) -> None:
    """Per active appid: the last anchored batch per table against its D-5.4 cycle (daily 06/07/09, weekly
    the rest); tables never sent or past their cycle are overdue."""
    from qcchain_gateway.errors import GatewayError
    from qcchain_ingest.proofs import overdue_tables

    units = [c for c in _store(state_dir, db_url).list() if c["status"] == "active"]
    gateway, chain = _chain_reader(state_dir, profile, org, user, channel)
    now, report = int(time.time()), []
    try:
        for unit in units:
            rows = overdue_tables(chain.summary(unit["appid"]), now)
            report.append({"appid": unit["appid"], "org_no": unit["org_no"], "name": unit["name"],
                           "tables": [r for r in rows if show_all or r["overdue"]]})
    except GatewayError as exc:
        raise CliError(f"cannot read the batch summaries on chain: {' '.join(str(exc).split())[:200]}") from exc
    finally:
        gateway.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, sort_keys=True))
        return
    for unit in report:
        for row in unit["tables"]:
            last = f"last {row['last_batch_no']}" if row["last_batch_no"] else "never sent"
            click.echo(f"{unit['appid']}  {unit['org_no']}  {row['txcode']}  every {row['cycle_days']} d  {last}  "
                       f"{'OVERDUE' if row['overdue'] else 'ok'}")
