"""Options every online command group shares, accepted before *or* after the sub-command
(``qcchain records --profile P get X`` = ``qcchain records get X --profile P``), and their resolution:

- ``--profile``: a connection profile JSON, or an org name (``inspection``, ``regulator`` …) of the devnet
  in ``$QCCHAIN_DEVNET_DIR`` (default ``.devnet``): ``<dir>/connection-profiles/connection-<org>.json``;
- ``--key``: an SM2 key — a keystore label (``--keystore``, env ``QCCHAIN_KEYSTORE``) or a PEM file;
- one password for both: ``--password-file FILE``, else env ``QCCHAIN_KEYSTORE_PASSWORD``, else a prompt
  on a terminal; a missing password is reported as missing;
- ``--json`` prints JSON; otherwise tables and sentences;
- ``--identity-key pkcs11:token=T;object=K`` (PIN from ``--identity-pin-file`` or env ``QCCHAIN_PKCS11_PIN``):
  the profile user's Fabric identity signs on a PKCS#11 token instead of the key file in its MSP keystore.

Environment variables are read here, at the CLI entry point, and nowhere below it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import CliError, one_line
from .keys_token import PIN_ENV, bind_identity_key

PASSWORD_ENV = "QCCHAIN_KEYSTORE_PASSWORD"
KEYSTORE_ENV = "QCCHAIN_KEYSTORE"
DEVNET_ENV = "QCCHAIN_DEVNET_DIR"
DEFAULT_KEYSTORE = Path.home() / ".qcchain" / "keystore"
DEFAULTS: dict[str, Any] = {"user": "Admin", "channel": "qcchannel", "chaincode": "qcchain", "json": False}

__all__ = ["PASSWORD_ENV", "common_options", "connect_contract", "emit", "load_sm2", "opt", "password",
           "profile_path", "sdk_call", "signing_key"]


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value not in (None, False, ()):
        ctx.ensure_object(dict).setdefault("opts", {})[param.name] = value
    return value


def _option(*decls: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(*decls, expose_value=False, callback=_store, **kw)


PROFILE_HELP = ("Your org's connection profile JSON, or an org name of the devnet in $QCCHAIN_DEVNET_DIR "
                "(default .devnet), e.g. inspection.")
_OPTIONS = {
    "profile": _option("--profile", metavar="FILE|ORG", help=PROFILE_HELP),
    "user": _option("--user", help="User of the profile's org [default: Admin]."),
    "channel": _option("--channel", help="Channel [default: qcchannel]."),
    "chaincode": _option("--chaincode", help="Chaincode [default: qcchain]."),
    "json": _option("--json", is_flag=True, default=None, help="Print JSON instead of tables and sentences."),
    "key": _option("--key", metavar="LABEL|FILE",
                   help="Your org admin's SM2 key: a keystore label (see `qcchain keys list`) or a PEM file."),
    "keystore": _option("--keystore", type=click.Path(file_okay=False, path_type=Path),
                        help=f"Keystore directory [default: env {KEYSTORE_ENV}, else ~/.qcchain/keystore]."),
    "password_file": _option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
                             help=f"Read the key password from this file (else env {PASSWORD_ENV})."),
    "identity_key": _option("--identity-key", metavar="pkcs11:token=T;object=K",
                            help="Sign as the profile's user with this ECDSA P-256 key on a PKCS#11 token (RFC 7512 "
                                 "URI) instead of the key file in its MSP keystore/."),
    "identity_pin_file": _option("--identity-pin-file", type=click.Path(dir_okay=False, path_type=Path),
                                 help=f"With --identity-key: read the token's user PIN from this file [else env {PIN_ENV}]."),
}


def common_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a group *and* its sub-commands with the shared options ``names`` (default: all)."""
    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        for name in reversed(names or tuple(_OPTIONS)):
            func = _OPTIONS[name](func)
        return func
    return wrap


def opt(ctx: click.Context, name: str) -> Any:
    """The value of shared option ``name`` wherever it was given, else its default."""
    return (ctx.obj or {}).get("opts", {}).get(name, DEFAULTS.get(name))


def resolve_profile(value: str | None) -> Path:
    """A connection profile: ``value`` (a file, or an org name of the devnet), else ``$QCCHAIN_PROFILE``.

    Raises:
        CliError: none given, or neither such a file nor such a devnet org exists.
    """
    value = value or os.environ.get("QCCHAIN_PROFILE")
    devnet = Path(os.environ.get(DEVNET_ENV) or ".devnet")
    if not value:
        raise CliError("--profile is required: your org's connection profile JSON, or an org name of the devnet "
                       f"(e.g. --profile inspection reads {devnet}/connection-profiles/connection-inspection.json)")
    path = Path(value)
    if path.is_file():
        return path
    candidate = devnet / "connection-profiles" / f"connection-{value.lower()}.json"
    if "/" not in value and candidate.is_file():
        return candidate
    raise CliError(f"--profile {value}: no such file, and no devnet profile {candidate} "
                   f"(start one with `qcchain devnet up --bootstrap`, or set {DEVNET_ENV})")


def profile_path(ctx: click.Context) -> Path:
    """The connection profile of ``--profile`` wherever it was given. Raises CliError."""
    return resolve_profile(opt(ctx, "profile"))


def password(password_file: Path | None, what: str, confirm: bool = False) -> bytes:
    """The one password: ``--password-file``, else ``$QCCHAIN_KEYSTORE_PASSWORD``, else a prompt on a
    terminal. Raises CliError when none is available (says so) or the file is unreadable/empty."""
    if password_file is not None:
        try:
            value = password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise CliError(f"--password-file {password_file}: cannot read: {exc.strerror}") from exc
        if not value:
            raise CliError(f"--password-file {password_file}: file is empty")
        return value.encode()
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env.encode()
    missing = f"{what} needs a password: set {PASSWORD_ENV} or give --password-file FILE"
    if sys.stdin is None or sys.stdin.closed:
        raise CliError(missing)
    try:
        value = click.prompt(f"Password for {what}", hide_input=True, confirmation_prompt=confirm)
    except (click.exceptions.Abort, EOFError, OSError) as exc:  # no terminal, nothing on standard input
        raise CliError(missing) from exc
    if not value:
        raise CliError("the password must be non-empty")
    return str(value).encode()


def keystore_dir(ctx: click.Context | None = None, given: Path | None = None) -> Path:
    """``--keystore``, else ``$QCCHAIN_KEYSTORE``, else ``~/.qcchain/keystore``."""
    chosen = given or (opt(ctx, "keystore") if ctx is not None else None)
    return Path(chosen or os.environ.get(KEYSTORE_ENV) or DEFAULT_KEYSTORE)


def load_sm2(key: str, store_dir: Path, password_file: Path | None) -> Any:
    """The SM2 private key ``key``: a PEM file if such a file exists, else a keystore label.

    Raises:
        CliError: no such label or file, not SM2, password missing or wrong; a ``pkcs11:`` URI (no SM2 mechanism).
    """
    if key.startswith("pkcs11:"):  # a token key: refused in one line naming the missing SM2 mechanism
        from .keys_token import token_sm2_key

        return token_sm2_key(key)
    from qcchain_core.errors import InvalidKey
    from qcchain_core.gm import SM2PrivateKey
    from qcchain_gateway.keystore import FileKeystore
    from qcchain_gateway.keystoreerrors import KeystoreError, WrongPasswordError

    path = Path(key)
    if path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
        from qcchain_gateway import keyfile

        sealed = keyfile.is_sealed(data)  # a key file exported from the keystore (`keys export --private`)
        secret = password(password_file, f"key file {path}") if sealed or b"ENCRYPTED" in data else None
        try:
            if sealed and secret is not None:
                data, secret = keyfile.unseal(data, secret, str(path)), None
            return SM2PrivateKey.from_pem(data, secret)
        except WrongPasswordError as exc:
            raise CliError(f"{path} is not an SM2 private key (or the password is wrong): {exc}") from exc
        except InvalidKey as exc:
            raise CliError(f"{path} is not an SM2 private key (or the password is wrong): {exc}") from exc
    store = FileKeystore(store_dir)
    try:
        if key not in store.labels():
            raise CliError(f"--key {key}: no such file, and no key {key!r} in keystore {store_dir} "
                           "(`qcchain keys list` shows the labels)")
        if store.kind(key) != "sm2":
            raise CliError(f"key {key!r} is {store.kind(key)}, not SM2")
        return store.get(key, password(password_file, f"key {key!r}"))
    except WrongPasswordError as exc:
        raise CliError(f"key {key!r}: wrong password ({PASSWORD_ENV} or --password-file)") from exc
    except KeystoreError as exc:
        raise CliError(one_line(exc)) from exc


def signing_key(ctx: click.Context, what: str = "this command") -> Any:
    """The SM2 key of ``--key`` (required). Raises CliError."""
    key = opt(ctx, "key")
    if not key:
        raise CliError(f"--key is required for {what}: your org admin's SM2 key (a keystore label or a PEM file)")
    return load_sm2(key, keystore_dir(ctx), opt(ctx, "password_file"))


def optional_key(ctx: click.Context) -> Any:
    """The SM2 key of ``--key`` if given, else None. Raises CliError."""
    key = opt(ctx, "key")
    return load_sm2(key, keystore_dir(ctx), opt(ctx, "password_file")) if key else None


ContractProvider = Callable[[click.Context, str], Any]
"""How a command obtains a chaincode's Contract: ``provider(ctx, chaincode_name)``."""


def profile_contract(ctx: click.Context, name: str) -> Any:
    """The CLI's own :data:`ContractProvider`: a Gateway connection from ``--profile``/``--user`` (one per
    command, closed with it), on ``--channel``.

    Raises: CliError (no profile, or it cannot be used).
    """
    from qcchain_gateway.profile import connect_profile

    obj = ctx.ensure_object(dict)
    if "gateway" not in obj:
        profile = profile_path(ctx)
        signer = bind_identity_key(profile, opt(ctx, "user"), opt(ctx, "identity_key"), opt(ctx, "identity_pin_file"))
        if signer is not None:
            ctx.find_root().call_on_close(signer.close)
        obj["gateway"] = sdk_call(lambda: connect_profile(profile, user=opt(ctx, "user")))
        ctx.find_root().call_on_close(obj["gateway"].close)
    return obj["gateway"].get_network(opt(ctx, "channel")).get_contract(name)


def connect_contract(ctx: click.Context, chaincode: str | None = None) -> Any:
    """The Contract of ``chaincode`` (default ``--chaincode``) from the context's provider.

    The provider is injected through click's context object, ``obj["contract_provider"]`` (a
    :data:`ContractProvider`); when none is given it is :func:`profile_contract`. A program that embeds
    these commands with its own connections (or a test with an in-memory chaincode) passes its own.

    Raises: CliError (no profile, or it cannot be used).
    """
    obj = ctx.ensure_object(dict)
    provider: ContractProvider = obj.get("contract_provider", profile_contract)
    return provider(ctx, chaincode or opt(ctx, "chaincode"))


def emit(ctx: click.Context, result: Any, human: Callable[[Any], list[str]]) -> None:
    """Print ``result`` as JSON (``--json``) or as the lines ``human`` makes of it."""
    if opt(ctx, "json"):
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        for line in human(result):
            click.echo(line)


def sdk_call(call: Callable[[], Any]) -> Any:
    """Run an SDK call; its errors become one-line CLI errors (``-v`` shows the whole chain)."""
    from qcchain_gateway.errors import SdkError
    from qcchain_sdk.errors import AppError

    try:
        return call()
    except (SdkError, AppError) as exc:
        raise CliError(one_line(exc)) from exc
