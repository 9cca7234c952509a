"""Encrypted file keystore: ECDSA and SM2, permissions, wrong password, labels."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from qcchain_core.gm import SM2PrivateKey

from qcchain_gateway.keystoreerrors import KeyExistsError, KeyNotFoundError, KeystoreError, WrongPasswordError
from qcchain_gateway.keystore import FileKeystore

PW, RIGHT, NEW = b"Keystore-pw-2024", b"Right-password-1", b"New-password-22"


def test_ecdsa_round_trip_is_encrypted_and_private(tmp_path) -> None:
    store = FileKeystore(tmp_path / "ks")
    key = ec.generate_private_key(ec.SECP256R1())
    path = store.put("admin@org1", key, PW)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "ks").st_mode) == 0o700
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    loaded = store.get("admin@org1", PW)
    assert loaded.private_numbers() == key.private_numbers()
    digest = b"\x02" * 32
    key.public_key().verify(store.signer("admin@org1", PW)(digest), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    assert store.kind("admin@org1") == "ecdsa" and store.labels() == ["admin@org1"]


def test_sm2_round_trip(tmp_path) -> None:
    store = FileKeystore(tmp_path)
    key = SM2PrivateKey.generate()
    path = store.put("sm2-signing", key, "pässword-Länge-9")
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    loaded = store.get("sm2-signing", "pässword-Länge-9")
    assert loaded.public_key().key_id() == key.public_key().key_id()
    loaded.public_key().verify(loaded.sign(b"data"), b"data")
    with pytest.raises(KeystoreError, match="SM2"):
        store.signer("sm2-signing", "pässword-Länge-9")


def test_wrong_password_missing_and_existing_labels(tmp_path) -> None:
    store = FileKeystore(tmp_path)
    store.put("a", ec.generate_private_key(ec.SECP256R1()), RIGHT)
    store.put("b", SM2PrivateKey.generate(), RIGHT)
    for label in ("a", "b"):
        with pytest.raises(WrongPasswordError):
            store.get(label, b"wrong")
    with pytest.raises(KeyNotFoundError) as info:
        store.get("c", RIGHT)
    assert isinstance(info.value, LookupError)
    with pytest.raises(KeyExistsError):
        store.put("a", SM2PrivateKey.generate(), RIGHT)
    store.put("a", SM2PrivateKey.generate(), NEW, overwrite=True)
    assert store.kind("a") == "sm2" and store.labels() == ["a", "b"]
    store.delete("a")
    assert store.labels() == ["b"]


@pytest.mark.parametrize("label", ["", "../x", "a/b", ".hidden", "a..b", "x.sm2", "é"])
def test_bad_labels_and_passwords_write_nothing(tmp_path, label) -> None:
    store = FileKeystore(tmp_path / "ks")
    with pytest.raises(KeystoreError):
        store.put(label, ec.generate_private_key(ec.SECP256R1()), PW)
    with pytest.raises(KeystoreError, match="password"):
        store.put("ok", ec.generate_private_key(ec.SECP256R1()), b"")
    with pytest.raises(KeystoreError, match="unsupported key"):
        store.put("ok", object(), PW)  # type: ignore[arg-type]
    assert not (tmp_path / "ks").exists()
