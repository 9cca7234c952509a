"""An encrypted file keystore for software keys (ECDSA for Fabric MSP signing, SM2 for business signatures).

One file per label, ``<dir>/<label>.<kind>.pem`` (kind ``ecdsa`` or ``sm2``), mode 0600 in a 0700
directory, written atomically: the key's PKCS#8 PEM sealed by :mod:`qcchain_gateway.keyfile` (scrypt
N=2**17, r=8, p=1 -> SM4-GCM). A new key's password must meet :data:`qcchain_gateway.keyfile.PASSWORD_RULE`.
A file in the legacy format (OpenSSL PKCS#8, PBKDF2 with 2,048 iterations) or with weaker scrypt
parameters still opens, and is re-encrypted in the current format on that successful unlock. SM2 keys are
(de)serialised by :mod:`qcchain_core.gm`; ECDSA keys by ``cryptography``.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from qcchain_gateway import keyfile
from qcchain_gateway.keystoreerrors import KeyExistsError, KeyNotFoundError, KeystoreError, WrongPasswordError
from qcchain_gateway.identity import Signer, new_private_key_signer

if TYPE_CHECKING:
    from qcchain_core.gm import SM2PrivateKey

logger = logging.getLogger(__name__)

PrivateKey = Union[ec.EllipticCurvePrivateKey, "SM2PrivateKey"]
KINDS = ("ecdsa", "sm2")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_@-]*(\.[A-Za-z0-9_@-]+)*$")


def _check_label(label: str) -> str:
    if not isinstance(label, str) or not _LABEL.match(label) or len(label) > 128:
        raise KeystoreError(
            f"invalid key label {label!r}: use 1-128 letters, digits, '.', '_', '@', '-' (no leading dot, no '..')"
        )
    if label.endswith((".ecdsa", ".sm2")):
        raise KeystoreError(f"invalid key label {label!r}: must not end with a key kind suffix")
    return label


def _check_password(password: bytes) -> bytes:
    if isinstance(password, str):
        password = password.encode("utf-8")
    if not isinstance(password, bytes) or not password:
        raise KeystoreError("keystore password must be non-empty")
    return password


def _kind_of(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ecdsa"
    from qcchain_core.gm import SM2PrivateKey

    if isinstance(key, SM2PrivateKey):
        return "sm2"
    raise KeystoreError(f"unsupported key type {type(key).__name__}: need an ECDSA or SM2 private key")


class FileKeystore:
    """Password-encrypted private keys in a directory, one file per label."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, label: str) -> Path:
        """The file holding ``label``.

        Raises:
            KeystoreError: invalid label.
            KeyNotFoundError: nothing stored under ``label``.
        """
        _check_label(label)
        for kind in KINDS:
            candidate = self.directory / f"{label}.{kind}.pem"
            if candidate.exists():
                return candidate
        raise KeyNotFoundError(f"no key {label!r} in keystore {self.directory}")

    def kind(self, label: str) -> str:
        """``"ecdsa"`` or ``"sm2"``.

        Raises:
            KeystoreError, KeyNotFoundError.
        """
        return self.path(label).name.rsplit(".", 2)[-2]

    def labels(self) -> list[str]:
        """Sorted labels of stored keys (``[]`` if the directory does not exist)."""
        if not self.directory.is_dir():
            return []
        found = {p.name.rsplit(".", 2)[0] for p in self.directory.iterdir() if p.name.endswith((".ecdsa.pem", ".sm2.pem"))}
        return sorted(found)

    def put(self, label: str, key: PrivateKey, password: bytes, overwrite: bool = False) -> Path:
        """Encrypt ``key`` with ``password`` and store it under ``label``.

        Raises:
            KeystoreError: invalid label, empty password, unsupported key, or the file cannot be written.
            WeakPasswordError: the password does not meet :data:`qcchain_gateway.keyfile.PASSWORD_RULE`.
            KeyExistsError: ``label`` exists and ``overwrite`` is false.
        """
        _check_label(label)
        password = _check_password(password)
        keyfile.check_strength(password)
        kind = _kind_of(key)
        try:
            existing = self.path(label)
        except KeyNotFoundError:
            existing = None
        if existing is not None and not overwrite:
            raise KeyExistsError(f"key {label!r} already exists in keystore {self.directory}")
        pem = self._encrypt(key, kind, password)
        target = self.directory / f"{label}.{kind}.pem"
        self._write(target, pem)
        if existing is not None and existing != target:
            existing.unlink()
        return target

    @staticmethod
    def _encrypt(key: PrivateKey, kind: str, password: bytes) -> bytes:
        if kind == "sm2":
            pem = key.to_pem()  # type: ignore[union-attr]
        else:
            pem = key.private_bytes(  # type: ignore[union-attr]
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return keyfile.seal(pem, password)

    def _write(self, target: Path, data: bytes) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=self.directory)  # mode 0600
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, 0o600)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise KeystoreError(f"cannot write {target}: {exc.strerror or exc}") from exc

    def get(self, label: str, password: bytes) -> PrivateKey:
        """Decrypt and return the key stored under ``label``.

        Raises:
            KeyNotFoundError: nothing stored under ``label``.
            WrongPasswordError: the password does not decrypt the file (or the file is corrupt).
            KeystoreError: invalid label, unreadable file, or a legacy file that cannot be re-encrypted.
        """
        path = self.path(label)
        password = _check_password(password)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning("keystore file %s is accessible by others (mode %o)", path, mode)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise KeystoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        sealed = keyfile.is_sealed(data)
        key = self._load(path, keyfile.unseal(data, password, str(path)) if sealed else data,
                         None if sealed else password)
        if not keyfile.is_current(data):
            self._write(path, self._encrypt(key, "sm2" if path.name.endswith(".sm2.pem") else "ecdsa", password))
            logger.info("keystore file %s re-encrypted with scrypt (N=%d, r=%d, p=%d)", path,
                        keyfile.SCRYPT_N, keyfile.SCRYPT_R, keyfile.SCRYPT_P)
        return key

    @staticmethod
    def _load(path: Path, pem: bytes, password: bytes | None) -> PrivateKey:
        """The key of a PEM (``password`` for a legacy encrypted PKCS#8 file, None for an unsealed one)."""
        if path.name.endswith(".sm2.pem"):
            from qcchain_core.errors import InvalidKey
            from qcchain_core.gm import SM2PrivateKey

            try:
                return SM2PrivateKey.from_pem(pem, password)
            except InvalidKey as exc:
                raise WrongPasswordError(f"cannot decrypt {path}: wrong password or corrupt file") from exc
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            raise WrongPasswordError(f"cannot decrypt {path}: wrong password or corrupt file") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeystoreError(f"{path}: holds a {type(key).__name__}, expected ECDSA")
        return key

    def signer(self, label: str, password: bytes) -> Signer:
        """A Fabric signer for the ECDSA key ``label``.

        Raises:
            KeystoreError: the key is SM2 (Fabric MSP signing needs ECDSA), plus the errors of :meth:`get`.
        """
        key = self.get(label, password)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeystoreError(f"key {label!r} is SM2; Fabric transaction signing needs an ECDSA key")
        return new_private_key_signer(key)

    def delete(self, label: str) -> None:
        """Remove ``label``.

        Raises:
            KeyNotFoundError, KeystoreError.
        """
        path = self.path(label)
        try:
            path.unlink()
        except OSError as exc:
            raise KeystoreError(f"cannot delete {path}: {exc.strerror or exc}") from exc
