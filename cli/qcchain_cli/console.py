"""``qcchain console``: the browser console (B/S) a member organisation runs for its staff.

``serve`` acts on chain with the org's Fabric identity: ``--dir DIR`` (a devnet's state directory, the
org chosen with ``--org``) or ``--profile P`` (any connection profile, e.g. of a real Fabric network);
``--identity-key pkcs11:token=T;object=O`` keeps that identity's key on a PKCS#11 token (PIN from
``--identity-pin-file`` or ``$QCCHAIN_PKCS11_PIN``).
``users add|list|disable|reset`` manage the staff accounts kept in the console's state directory;
passwords are read from ``--password-file`` only (never from the command line).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .errors import CliError
from .keys_token import identity_key_options

DEFAULT_STATE = Path(".qcchain-console")


def _state_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option("--state", "state", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_STATE,
                        show_default=True, help="Console state directory (database, keys, TLS, session secret).")(func)


def _profile(state_dir: Path | None, profile: Path | None, org: str) -> Path:
    if profile is not None:
        return profile
    directory = state_dir or Path(".devnet")
    try:
        info = json.loads((directory / "devnet.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"no running devnet in {directory} (devnet.json unreadable: {exc}); give --dir or --profile") from exc
    profiles = info.get("connection_profiles") or {}
    if org not in profiles:
        raise CliError(f"--org {org!r} is not an org of the devnet in {directory} ({', '.join(sorted(profiles))})")
    return Path(profiles[org])


def _ingest_ca(devnet_dir: Path | None, on_devnet: bool, ingest_url: str | None) -> Path | None:
    """With a devnet: the ingestion server's self-signed certificate in DIR/ingest, when it exists."""
    if ingest_url is None or not on_devnet:
        return None
    cert = (devnet_dir or Path(".devnet")) / "ingest" / "tls-cert.pem"
    return cert if cert.is_file() else None


def _password(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise CliError(f"--password-file {path}: {exc.strerror}") from exc
    if not text:
        raise CliError(f"--password-file {path} is empty")
    return text


@click.group()
def console() -> None:
    """Browser console (B/S): serve, users."""


@console.command()
@_state_option
@click.option("--dir", "devnet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Devnet state directory (default .devnet) whose connection profile of --org is used.")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Connection profile of the org (instead of --dir).")
@click.option("--org", default="Regulator", show_default=True, help="With --dir: the devnet org the console acts for.")
@click.option("--user", default="Admin", show_default=True, help="Identity of the profile to act with.")
@click.option("--channel", default="qcchannel", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(1, 65535))
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TLS certificate (PEM); default: a self-signed one generated in the state directory.")
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="TLS key (PEM).")
@click.option("--ingest-url", default=None,
              help="This org's ingestion server (https://host:port): the Ingestion page uses its admin API.")
@click.option("--ingest-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Admin API key of the ingestion server (qcchain ingest admin-key issue --out F).")
@click.option("--ingest-ca", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CA or self-signed certificate of the ingestion server (default with --dir: DIR/ingest/tls-cert.pem).")
@identity_key_options
def serve(state: Path, devnet_dir: Path | None, profile: Path | None, org: str, user: str, channel: str, host: str,
          port: int, cert: Path | None, key: Path | None, ingest_url: str | None,
          ingest_key_file: Path | None, ingest_ca: Path | None, identity_key: str | None,
          identity_pin_file: Path | None) -> None:
    """Serve the console over HTTPS until interrupted."""
    from qcchain_console.errors import ConsoleError
    from qcchain_console.server import ServeSettings, open_state, serve as run

    from .keys_token import bind_identity_key
    from .proclogs import process_logs

    process_logs("console")
    if devnet_dir is not None and profile is not None:
        raise CliError("give --dir or --profile, not both")
    crypto = (devnet_dir or Path(".devnet")) / "crypto-config" if profile is None else None
    profile = _profile(devnet_dir, profile, org)
    token = bind_identity_key(profile, user, identity_key, identity_pin_file)
    settings = ServeSettings(state=state, profile=profile, user=user, channel=channel,
                             host=host, port=port, cert=cert, key=key, ingest_url=ingest_url,
                             ingest_key_file=ingest_key_file, ingest_ca=ingest_ca or _ingest_ca(devnet_dir, crypto is not None, ingest_url),
                             crypto_dir=crypto if crypto is not None and crypto.is_dir() else None)
    try:
        if not open_state(state).list():
            click.echo(f"console: no staff account yet; add one with `qcchain console users add NAME --role admin "
                       f"--password-file F --state {state}`", err=True)
        click.echo(f"console: https://{host}:{port}/ (state {state})")
        run(settings)
    except ConsoleError as exc:
        raise CliError(str(exc)) from exc
    finally:
        if token is not None:
            token.close()


@console.group()
def users() -> None:
    """Staff accounts: add, list, disable, enable, reset."""


def _store(state: Path):  # type: ignore[no-untyped-def]
    from qcchain_console.server import open_state

    return open_state(state)


def _run(fn):  # type: ignore[no-untyped-def]
    from qcchain_console.errors import ConsoleError

    try:
        return fn()
    except ConsoleError as exc:
        raise CliError(str(exc)) from exc


@users.command("add")
@_state_option
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["admin", "operator", "auditor", "viewer"]))
@click.option("--password-file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def users_add(state: Path, username: str, role: str, password_file: Path) -> None:
    """Add a staff account."""
    staff = _run(lambda: _store(state).add(username, role, _password(password_file)))
    click.echo(f"added {staff.username} ({staff.role})")


@users.command("list")
@_state_option
@click.option("--json", "as_json", is_flag=True)
def users_list(state: Path, as_json: bool) -> None:
    """List staff accounts."""
    rows = _run(lambda: _store(state).list())
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    for r in rows:
        flags = ("disabled " if r.disabled else "") + ("locked" if r.locked_until else "")
        click.echo(f"{r.username:24} {r.role:9} {flags}")


@users.command("disable")
@_state_option
@click.argument("username")
def users_disable(state: Path, username: str) -> None:
    """Disable a staff account (its sessions stop working at once)."""
    _run(lambda: _store(state).set_disabled(username, True))
    click.echo(f"disabled {username}")


@users.command("enable")
@_state_option
@click.argument("username")
def users_enable(state: Path, username: str) -> None:
    """Enable a disabled staff account."""
    _run(lambda: _store(state).set_disabled(username, False))
    click.echo(f"enabled {username}")


@users.command("reset")
@_state_option
@click.argument("username")
@click.option("--password-file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def users_reset(state: Path, username: str, password_file: Path) -> None:
    """Set a new password (also clears a lock-out)."""
    _run(lambda: _store(state).reset(username, _password(password_file)))
    click.echo(f"password of {username} reset")
