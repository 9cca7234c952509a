"""``qcchain keys``: SM2 (and ECDSA) key files in an encrypted keystore — generate, show, export, list."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from qcchain_cli.errors import CliError
from qcchain_cli.tables import table
from qcchain_cli.options import DEFAULT_KEYSTORE, KEYSTORE_ENV, PASSWORD_ENV, password
from qcchain_gateway.keystoreerrors import KeystoreError
from qcchain_gateway.keystore import FileKeystore


keystore_option = click.option(
    "--keystore", "keystore_dir", type=click.Path(file_okay=False, path_type=Path), envvar=KEYSTORE_ENV,
    default=DEFAULT_KEYSTORE, show_default=True, help="Keystore directory (env QCCHAIN_KEYSTORE).",
)
password_file_option = click.option(
    "--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"Read the keystore password from this file (else env {PASSWORD_ENV}, else a prompt on a terminal).",
)


def _password(password_file: Path | None, confirm: bool = False) -> bytes:
    return password(password_file, "the keystore", confirm=confirm)


def _public_pem(key: object) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().to_pem()  # type: ignore[attr-defined]


def _key_id(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return hashlib.sha256(point).hexdigest()
    return key.public_key().key_id()  # type: ignore[attr-defined]


@click.group()
def keys() -> None:
    """SM2 key files: generate, show, export (password-encrypted PKCS#8, one file per label)."""


@keys.command()
@click.argument("label")
@click.option("--type", "key_type", type=click.Choice(["sm2", "ecdsa"]), default="sm2", show_default=True,
              help="sm2 for business signatures; ecdsa (P-256) for Fabric transaction signing.")
@click.option("--force", is_flag=True, help="Replace an existing key with this label.")
@keystore_option
@password_file_option
def generate(label: str, key_type: str, force: bool, keystore_dir: Path, password_file: Path | None) -> None:
    """Generate a key and store it encrypted under LABEL."""
    store = FileKeystore(keystore_dir)
    try:
        if not force and label in store.labels():
            raise CliError(f"key {label!r} already exists in {keystore_dir} (use --force to replace it)")
        password = _password(password_file, confirm=True)
        if key_type == "sm2":
            from qcchain_core.gm import SM2PrivateKey

            key: object = SM2PrivateKey.generate()
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        path = store.put(label, key, password, overwrite=force)  # type: ignore[arg-type]
    except KeystoreError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"label:  {label}\ntype:   {key_type}\nkey id: {_key_id(key)}\nfile:   {path}")


@keys.command()
@click.argument("label")
@keystore_option
@password_file_option
def show(label: str, keystore_dir: Path, password_file: Path | None) -> None:
    """Show LABEL's type, key id and public key (never the private key)."""
    store = FileKeystore(keystore_dir)
    try:
        path = store.path(label)
        key = store.get(label, _password(password_file))
    except KeystoreError as exc:
        raise CliError(str(exc)) from exc
    click.echo(f"label:  {label}\ntype:   {store.kind(label)}\nkey id: {_key_id(key)}\nfile:   {path}")
    click.echo(_public_pem(key).decode().rstrip("\n"))


@keys.command()
@click.argument("label")
@click.option("--private", "private", is_flag=True,
              help="Export the private key (still password-encrypted PKCS#8) instead of the public key.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (mode 0600 for private keys) instead of standard output.")
@keystore_option
@password_file_option
def export(label: str, private: bool, out: Path | None, keystore_dir: Path, password_file: Path | None) -> None:
    """Export LABEL's public key PEM (default) or its encrypted private key PEM."""
    store = FileKeystore(keystore_dir)
    try:
        path = store.path(label)
        key = store.get(label, _password(password_file))  # proves the password before exporting
    except KeystoreError as exc:
        raise CliError(str(exc)) from exc
    data = path.read_bytes() if private else _public_pem(key)
    if out is None:
        click.echo(data.decode().rstrip("\n"))
        return
    if out.exists():
        raise CliError(f"--out {out}: file exists; refusing to overwrite")
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise CliError(f"--out {out}: cannot write: {exc.strerror}") from exc
    click.echo(f"wrote {'encrypted private' if private else 'public'} key of {label} to {out}")


@keys.command("list")
@keystore_option
def list_keys(keystore_dir: Path) -> None:
    """List the labels in the keystore with their key type."""
    store = FileKeystore(keystore_dir)
    labels = store.labels()
    for line in table(labels, [("label", lambda x: x), ("type", store.kind)], f"(no key in {keystore_dir})"):
        click.echo(line)


from .keys_token import register; register(keys)  # noqa: E402,E702  (PKCS#11 token commands)
