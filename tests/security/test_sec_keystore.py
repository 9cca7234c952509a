"""Finding 7: the software keystore derives its key with scrypt (N=2**17, r=8, p=1), refuses weak passwords
for new keys, and re-encrypts legacy PBKDF2 files on their next successful unlock."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from qcchain_core.gm import SM2PrivateKey

from qcchain_gateway import keyfile
from qcchain_gateway.keystore import FileKeystore
from qcchain_gateway.keystoreerrors import WeakPasswordError, WrongPasswordError

STRONG = b"Strong-keystore-1"


def _header(path) -> dict:
    body = path.read_bytes().strip().splitlines()[1:-1]
    return json.loads(base64.b64decode(b"".join(body)))


@pytest.mark.parametrize("weak", [b"x", b"qwertyuiop", b"alllowercase", b"Short-1", "ABCDEFGHIJKL".encode()])
def test_a_weak_password_is_refused_for_a_new_key_in_one_line(tmp_path, weak) -> None:
    store = FileKeystore(tmp_path / "ks")
    with pytest.raises(WeakPasswordError) as info:
        store.put("k", SM2PrivateKey.generate(), weak)
    message = str(info.value)
    assert "\n" not in message and "too weak" in message and "12 characters" in message
    assert weak.decode() not in message and not (tmp_path / "ks").exists()


@pytest.mark.parametrize("good", [STRONG, b"correct horse battery staple"])
def test_strong_passwords_and_passphrases_are_accepted(tmp_path, good) -> None:
    FileKeystore(tmp_path).put("k", SM2PrivateKey.generate(), good)


def test_new_files_use_scrypt_and_sm4_gcm_with_a_fresh_salt(tmp_path) -> None:
    store = FileKeystore(tmp_path)
    key = ec.generate_private_key(ec.SECP256R1())
    a, b = store.put("a", key, STRONG), store.put("b", key, STRONG)
    ha, hb = _header(a), _header(b)
    assert (ha["kdf"], ha["n"], ha["r"], ha["p"], ha["cipher"]) == ("scrypt", 2**17, 8, 1, "sm4-gcm")
    assert ha["salt"] != hb["salt"] and len(bytes.fromhex(ha["salt"])) == 16
    assert store.get("a", STRONG).private_numbers() == key.private_numbers()
    with pytest.raises(WrongPasswordError):
        store.get("a", b"Strong-keystore-2")


def test_lowered_kdf_parameters_in_a_file_fail_the_tag(tmp_path) -> None:
    store = FileKeystore(tmp_path)
    path = store.put("k", SM2PrivateKey.generate(), STRONG)
    doc = _header(path)
    doc["n"] = 2**10  # an attacker cheapening the KDF of a stolen-and-replaced file
    path.write_bytes(b"-----BEGIN QCCHAIN ENCRYPTED PRIVATE KEY-----\n" + base64.encodebytes(json.dumps(doc).encode())
                     + b"-----END QCCHAIN ENCRYPTED PRIVATE KEY-----\n")
    with pytest.raises(WrongPasswordError):
        store.get("k", STRONG)


@pytest.mark.parametrize("kind", ["sm2", "ecdsa"])
def test_a_legacy_pbkdf2_file_opens_once_and_is_re_encrypted(tmp_path, kind) -> None:
    weak = b"pw"  # legacy files may hold weak passwords: they must still open (no lock-out)
    if kind == "sm2":
        key = SM2PrivateKey.generate()
        legacy = key.to_pem(weak)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        legacy = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.BestAvailableEncryption(weak))
    path = tmp_path / f"old.{kind}.pem"
    path.write_bytes(legacy)
    path.chmod(0o600)
    store = FileKeystore(tmp_path)
    with pytest.raises(WrongPasswordError):
        store.get("old", b"wrong")
    assert path.read_bytes() == legacy  # a failed unlock changes nothing
    store.get("old", weak)
    assert keyfile.is_sealed(path.read_bytes()) and keyfile.is_current(path.read_bytes())
    assert _header(path)["n"] == keyfile.SCRYPT_N
    reopened = store.get("old", weak)
    if kind == "sm2":
        assert reopened.public_key().key_id() == key.public_key().key_id()
    else:
        assert reopened.private_numbers() == key.private_numbers()
