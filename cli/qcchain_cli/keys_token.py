"""``qcchain keys import-to-token | list-token | generate-on-token``: Fabric identity keys on a PKCS#11 token.

Keys are named by RFC 7512 URIs (``pkcs11:token=qcchain;object=inspection-admin``). The user PIN comes
from ``--pin-file FILE``, else env ``QCCHAIN_PKCS11_PIN``, else the URI's ``pin-source=file:...`` —
never from the command line, never logged. The module comes from ``--module``, else env
``QCCHAIN_PKCS11_MODULE``, else the URI's ``module-path``, else SoftHSM2's default path.

What runs on the token: ECDSA P-256 (Fabric's MSP signatures). SM2 has no standard PKCS#11 mechanism;
``--algorithm sm2`` asks the token for the vendor mechanism given by ``--sm2-mechanism`` and, when the
token has none (SoftHSM2), says so in one line — there is no software fallback.

Environment variables and files are read here (an entry point) and passed down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import CliError

PIN_ENV = "QCCHAIN_PKCS11_PIN"
MODULE_ENV = "QCCHAIN_PKCS11_MODULE"

__all__ = ["MODULE_ENV", "PIN_ENV", "bind_identity_key", "identity_key_options", "register", "token_pin",
           "token_signer", "token_sm2_key"]


def _gw() -> Any:
    from qcchain_gateway import pkcs11

    return pkcs11


def _parse(uri: str) -> Any:
    gw = _gw()
    try:
        return gw.Pkcs11Uri.parse(uri)
    except gw.TokenError as exc:
        raise CliError(str(exc)) from exc


def token_pin(uri: Any, pin_file: Path | None) -> str:
    """The user PIN: ``pin_file``, else ``$QCCHAIN_PKCS11_PIN``, else the URI's ``pin-source=file:``.

    Raises:
        CliError: none given, the file is unreadable or empty, or the URI carries ``pin-value``.
    """
    if "pin-value" in uri.query:
        raise CliError("the URI carries pin-value=; give the PIN in a file (--pin-file) or "
                       f"${PIN_ENV}, never on the command line")
    source = pin_file
    if source is None and os.environ.get(PIN_ENV):
        return os.environ[PIN_ENV]
    if source is None and uri.query.get("pin-source", "").startswith("file:"):
        source = Path(uri.query["pin-source"][len("file:"):])
    if source is None:
        raise CliError(f"token {uri.token!r} needs its user PIN: give --pin-file FILE or set {PIN_ENV}")
    try:
        pin = source.read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise CliError(f"PIN file {source}: cannot read: {exc.strerror}") from exc
    if not pin:
        raise CliError(f"PIN file {source}: file is empty")
    return pin


def _module(given: str | None) -> str | None:
    return given or os.environ.get(MODULE_ENV) or None


def token_signer(uri_text: str, pin_file: Path | None = None, module: str | None = None) -> Any:
    """A Gateway signer for the token key ``uri_text`` (a :class:`qcchain_gateway.pkcs11.Pkcs11Signer`).

    Raises:
        CliError: bad URI, no PIN, wrong PIN, no such token or key (one line).
    """
    gw = _gw()
    uri = _parse(uri_text)
    try:
        return gw.open_signer(uri, token_pin(uri, pin_file), _module(module))
    except gw.TokenError as exc:
        raise CliError(str(exc)) from exc


def identity_key_options(func: Any) -> Any:
    """``--identity-key URI`` and ``--identity-pin-file FILE``: the servers' Fabric identity key on a token."""
    func = click.option("--identity-pin-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help=f"With --identity-key: read the token's user PIN from this file [else env {PIN_ENV}].")(func)
    return click.option("--identity-key", default=None, metavar="pkcs11:token=T;object=K",
                        help="Sign as the profile's user with this ECDSA P-256 key on a PKCS#11 token (RFC 7512 "
                             "URI) instead of the key file in its MSP keystore/.")(func)


def bind_identity_key(profile: Path, user: str, uri_text: str | None, pin_file: Path | None = None,
                      org: str | None = None, module: str | None = None) -> Any:
    """Make ``user`` of the profile's org (or ``org``) sign with the token key ``uri_text`` wherever this
    process loads that identity (``qcchain_gateway.pkcs11msp``). Returns the signer (close it when done), or
    None when ``uri_text`` is None.

    Raises:
        CliError: bad URI, no PIN, wrong PIN, no such key, no such user in the profile, or the token key is
        not the user's certificate's (one line).
    """
    if uri_text is None:
        return None
    from qcchain_gateway.errors import SdkError
    from qcchain_gateway.pkcs11msp import bind
    from qcchain_gateway.profile import load_profile

    try:
        loaded = load_profile(profile)
        org_profile = loaded.organizations.get(org or loaded.organization)
        msp_dir = org_profile.users.get(user) if org_profile is not None else None
    except SdkError as exc:
        raise CliError(str(exc)) from exc
    if msp_dir is None:
        raise CliError(f"--identity-key: connection profile {profile} has no user {user!r} of {org or loaded.organization}")
    signer = token_signer(uri_text, pin_file, module)
    try:
        bind(msp_dir, signer)
    except (SdkError, ValueError) as exc:
        signer.close()
        raise CliError(str(exc)) from exc
    return signer


def token_sm2_key(uri_text: str, mechanism: int | None = None, module: str | None = None) -> Any:
    """An SM2 key on a token: refused in one line when the token offers no SM2 mechanism (SoftHSM2 has
    none; no software fallback).

    Raises:
        CliError: always on tokens without the vendor SM2 mechanism (and on bad URIs / tokens).
    """
    gw = _gw()
    uri = _parse(uri_text)
    try:
        gw.require_sm2(uri, mechanism, _module(module))
    except gw.TokenError as exc:
        raise CliError(str(exc)) from exc
    raise CliError(f"token {uri.token!r} offers SM2 mechanism 0x{mechanism:08x}, but SM2 signing through "
                   "PKCS#11 is not wired into the application's SM2 signatures yet")


def _pem_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CliError(f"{path}: not a readable unencrypted PEM private key ({type(exc).__name__})") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CliError(f"{path}: not an ECDSA private key (SM2 keys stay in the encrypted keystore)")
    return key


def _msp_key(msp_dir: Path) -> ec.EllipticCurvePrivateKey:
    from qcchain_gateway.errors import IdentityError
    from qcchain_gateway.msp import load_private_key

    certs = sorted((msp_dir / "signcerts").glob("*.pem"))
    if len(certs) != 1:
        raise CliError(f"--from-msp {msp_dir}: expected one certificate in signcerts/, found {len(certs)}")
    wanted = x509.load_pem_x509_certificate(certs[0].read_bytes()).public_key().public_numbers()
    for path in sorted((msp_dir / "keystore").glob("*")):
        try:
            key = load_private_key(path)
        except IdentityError:
            continue
        if key.public_key().public_numbers() == wanted:
            return key
    raise CliError(f"--from-msp {msp_dir}: no key in keystore/ matches the certificate")


def _issue_cert(ca_dir: Path, cn: str, ou: str, public_key: ec.EllipticCurvePublicKey, out: Path) -> None:
    from qcchain_devnet.material import CA, issue

    certs = sorted(ca_dir.glob("*-cert.pem"))
    if len(certs) != 1 or not (ca_dir / "priv_sk").is_file():
        raise CliError(f"--ca-dir {ca_dir}: expected one <name>-cert.pem and priv_sk (cryptogen's ca/ layout)")
    if out.exists():
        raise CliError(f"--cert-out {out}: file exists; refusing to overwrite")
    cert = x509.load_pem_x509_certificate(certs[0].read_bytes())
    ca_key = _pem_key(ca_dir / "priv_sk")
    ca = CA(name=certs[0].name[:-len("-cert.pem")], key=ca_key, cert=cert)
    leaf = issue(ca, cn, public_key, ous=(ou,))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    click.echo(f"wrote certificate CN={cn} OU={ou} issued by {ca.name} for the token key to {out}")


_pin_option = click.option("--pin-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                           help=f"Read the token's user PIN from this file [else env {PIN_ENV}].")
_module_option = click.option("--module", default=None,
                              help=f"PKCS#11 module (.so) [else env {MODULE_ENV}, else SoftHSM2's].")


def _pub_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _call(fn: Any, *args: Any) -> Any:
    gw = _gw()
    try:
        return fn(*args)
    except gw.TokenError as exc:
        raise CliError(str(exc)) from exc


@click.command("generate-on-token")
@click.argument("uri")
@click.option("--algorithm", type=click.Choice(["p256", "sm2"]), default="p256", show_default=True,
              help="p256: Fabric identity key (ECDSA). sm2: only where the token offers a vendor SM2 mechanism.")
@click.option("--sm2-mechanism", type=lambda v: int(v, 0), default=None,
              help="The token's vendor SM2 mechanism number (e.g. 0x80000001); PKCS#11 defines none.")
@click.option("--ca-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also issue a certificate for the new key with this CA (cryptogen's ca/ directory).")
@click.option("--cn", default=None, help="Certificate subject CN (with --ca-dir).")
@click.option("--ou", default="client", show_default=True, help="NodeOU of the certificate (client, admin).")
@click.option("--cert-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the certificate (with --ca-dir).")
@_pin_option
@_module_option
def generate_on_token(uri: str, algorithm: str, sm2_mechanism: int | None, ca_dir: Path | None, cn: str | None,
                      ou: str, cert_out: Path | None, pin_file: Path | None, module: str | None) -> None:
    """Generate a key pair on the token (URI names token and object); the private key never leaves it."""
    if algorithm == "sm2":
        token_sm2_key(uri, sm2_mechanism, module)
    if ca_dir is not None and not (cn and cert_out):
        raise CliError("--ca-dir needs --cn and --cert-out")
    parsed = _parse(uri)
    public = _call(_gw().generate_key, parsed, token_pin(parsed, pin_file), _module(module))
    click.echo(f"generated ECDSA P-256 key {parsed.object!r} on token {parsed.token!r}")
    click.echo(_pub_pem(public), nl=False)
    if ca_dir is not None and cn and cert_out:
        _issue_cert(ca_dir, cn, ou, public, cert_out)


@click.command("import-to-token")
@click.argument("uri")
@click.option("--from-pem", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="An unencrypted PEM ECDSA P-256 private key.")
@click.option("--from-msp", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="An MSP directory (signcerts/ + keystore/): its key matching the certificate.")
@_pin_option
@_module_option
def import_to_token(uri: str, from_pem: Path | None, from_msp: Path | None, pin_file: Path | None,
                    module: str | None) -> None:
    """Import an ECDSA P-256 key into the token (sensitive, non-extractable there). The source file is kept;
    delete it yourself once the token copy is in use."""
    if (from_pem is None) == (from_msp is None):
        raise CliError("give exactly one of --from-pem FILE or --from-msp DIR")
    key = _pem_key(from_pem) if from_pem is not None else _msp_key(from_msp)  # type: ignore[arg-type]
    parsed = _parse(uri)
    public = _call(_gw().import_key, parsed, token_pin(parsed, pin_file), key, _module(module))
    click.echo(f"imported ECDSA P-256 key as {parsed.object!r} into token {parsed.token!r}")
    click.echo(_pub_pem(public), nl=False)


@click.command("list-token")
@click.argument("uri")
@_pin_option
@_module_option
def list_token(uri: str, pin_file: Path | None, module: str | None) -> None:
    """List the private keys on the token (label, id, type, public key fingerprint)."""
    import hashlib

    parsed = _parse(uri)
    keys = _call(_gw().list_keys, parsed, token_pin(parsed, pin_file), _module(module))
    if not keys:
        click.echo(f"(no key on token {parsed.token!r})")
    for key in keys:
        fp = hashlib.sha256(key.public_pem).hexdigest()[:16] if key.public_pem else "-"
        click.echo(f"{key.label}\tid={key.key_id}\t{key.key_type}\tpub-sha256={fp}\t"
                   f"pkcs11:token={parsed.token};object={key.label}")


def register(group: click.Group) -> None:
    """Add the token commands to the ``keys`` group."""
    for command in (generate_on_token, import_to_token, list_token):
        group.add_command(command)
