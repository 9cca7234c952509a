"""Bad input gives the documented error with a clear message; good input round-trips."""

from __future__ import annotations

import os

import pytest

from qcchain_core.errors import DecryptionError, InvalidKey, InvalidSignature
from qcchain_core.gm import (DEFAULT_UID, SM2PrivateKey, SM2PublicKey, ciphertext_from_raw, ciphertext_to_raw,
                             sm4_cbc_decrypt, sm4_cbc_encrypt, sm4_gcm_decrypt, sm4_gcm_encrypt)
from qcchain_core.gm import _native

BACKENDS = _native.available()


@pytest.fixture(scope="module", params=BACKENDS)
def key(request: pytest.FixtureRequest) -> SM2PrivateKey:
    return SM2PrivateKey.generate(backend=request.param)


def test_errors_are_value_errors() -> None:
    for exc in (InvalidSignature, InvalidKey, DecryptionError):
        assert issubclass(exc, ValueError)


def test_sign_verify_roundtrip_and_tampering(key: SM2PrivateKey) -> None:
    pub = key.public_key()
    sig = key.sign(b"record")
    pub.verify(sig, b"record")
    pub.verify(key.sign(b"record", DEFAULT_UID), b"record", uid=DEFAULT_UID)
    tampered = bytearray(sig)
    tampered[-1] ^= 1
    with pytest.raises(InvalidSignature, match="does not verify"):
        pub.verify(bytes(tampered), b"record")
    with pytest.raises(InvalidSignature):
        pub.verify(sig, b"recorD")
    with pytest.raises(InvalidSignature):
        pub.verify(sig, b"record", uid=b"someone-else")
    with pytest.raises(InvalidSignature):
        SM2PrivateKey.generate(backend=key.backend).public_key().verify(sig, b"record")  # wrong key
    with pytest.raises(InvalidSignature):
        pub.verify(b"\x30\x02\x01", b"record")  # garbage DER
    with pytest.raises(InvalidSignature):
        pub.verify(sig + b"\x00", b"record")  # trailing bytes
    with pytest.raises(TypeError, match="signature must be bytes"):
        pub.verify("sig", b"record")  # type: ignore[arg-type]


def test_uid_too_long(key: SM2PrivateKey) -> None:
    with pytest.raises(ValueError, match="8191"):
        key.sign(b"x", uid=b"u" * 8192)


def test_encrypt_decrypt_and_bad_ciphertexts(key: SM2PrivateKey) -> None:
    pub = key.public_key()
    ct = pub.encrypt(b"L3 payload key")
    assert key.decrypt(ct) == b"L3 payload key"
    assert ct != pub.encrypt(b"L3 payload key")  # randomised
    with pytest.raises(ValueError, match="empty"):
        pub.encrypt(b"")
    with pytest.raises(DecryptionError, match="truncated"):
        key.decrypt(ct[:-1])
    with pytest.raises(DecryptionError):
        key.decrypt(ct[:40])
    raw = bytearray(ciphertext_to_raw(ct))
    raw[-1] ^= 1  # tamper C2: C3 check fails
    with pytest.raises(DecryptionError, match="SM2 decryption failed"):
        key.decrypt(ciphertext_from_raw(bytes(raw)))
    with pytest.raises(DecryptionError):
        SM2PrivateKey.generate(backend=key.backend).decrypt(ct)  # wrong key
    with pytest.raises(DecryptionError, match="DER"):
        key.decrypt(b"not a ciphertext")
    with pytest.raises(DecryptionError, match="prefix 04"):
        ciphertext_from_raw(bytes(120))


def test_pem_roundtrips(key: SM2PrivateKey) -> None:
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert SM2PrivateKey.from_pem(pem, backend=key.backend).public_key() == key.public_key()
    enc = key.to_pem(b"correct horse")
    assert enc.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    again = SM2PrivateKey.from_pem(enc, b"correct horse", backend=key.backend)
    again.public_key().verify(key.sign(b"m"), b"m")
    pub_pem = key.public_key().to_pem()
    assert pub_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert SM2PublicKey.from_pem(pub_pem) == key.public_key()
    assert SM2PublicKey.from_bytes(key.public_key().to_bytes()).key_id() == key.public_key().key_id()
    assert len(key.public_key().key_id()) == 64
    assert "PRIVATE" not in repr(key) and key.public_key().key_id()[:16] in repr(key)


def test_bad_pem_and_passwords(key: SM2PrivateKey) -> None:
    enc = key.to_pem(b"pw")
    with pytest.raises(InvalidKey, match="wrong password"):
        SM2PrivateKey.from_pem(enc, b"not-pw", backend=key.backend)
    with pytest.raises(InvalidKey, match="password is required"):
        SM2PrivateKey.from_pem(enc, backend=key.backend)
    with pytest.raises(InvalidKey, match="not encrypted"):
        SM2PrivateKey.from_pem(key.to_pem(), b"pw", backend=key.backend)
    with pytest.raises(InvalidKey, match="cannot read"):
        SM2PrivateKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                               backend=key.backend)
    with pytest.raises(InvalidKey):
        SM2PublicKey.from_pem(b"garbage", backend=key.backend)
    with pytest.raises(ValueError, match="empty"):
        key.to_pem(b"")


def test_non_sm2_keys_rejected() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p256 = ec.generate_private_key(ec.SECP256R1())
    pem = p256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = p256.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for backend in BACKENDS:
        with pytest.raises(InvalidKey, match="not an SM2 key"):
            SM2PrivateKey.from_pem(pem, backend=backend)
        with pytest.raises(InvalidKey, match="not an SM2 key"):
            SM2PublicKey.from_pem(pub, backend=backend)


def test_bad_public_points() -> None:
    with pytest.raises(InvalidKey, match="65 bytes"):
        SM2PublicKey.from_bytes(b"\x04" + bytes(63))
    with pytest.raises(InvalidKey, match="not a point on the curve"):
        SM2PublicKey.from_bytes(b"\x04" + bytes(range(64)))


def test_from_scalar_range() -> None:
    with pytest.raises(InvalidKey, match="range"):
        SM2PrivateKey.from_scalar(0)
    with pytest.raises(InvalidKey, match="32 bytes"):
        SM2PrivateKey.from_scalar(b"\x01")


def test_sm4_gcm_errors() -> None:
    k, n = os.urandom(16), os.urandom(12)
    sealed = sm4_gcm_encrypt(k, n, b"payload", b"aad")
    assert len(sealed) == len(b"payload") + 16
    assert sm4_gcm_decrypt(k, n, sealed, b"aad") == b"payload"
    for i in (0, len(sealed) - 1):  # body and tag
        bad = bytearray(sealed)
        bad[i] ^= 1
        with pytest.raises(DecryptionError, match="authentication failed"):
            sm4_gcm_decrypt(k, n, bytes(bad), b"aad")
    with pytest.raises(DecryptionError, match="authentication failed"):
        sm4_gcm_decrypt(k, n, sealed, b"other aad")
    with pytest.raises(DecryptionError, match="shorter than"):
        sm4_gcm_decrypt(k, n, sealed[:10])
    with pytest.raises(InvalidKey, match="16 bytes"):
        sm4_gcm_encrypt(b"short", n, b"x")
    with pytest.raises(ValueError, match="nonce must be 12"):
        sm4_gcm_encrypt(k, b"n" * 16, b"x")


def test_sm4_cbc_errors() -> None:
    k, iv = os.urandom(16), os.urandom(16)
    ct = sm4_cbc_encrypt(k, iv, b"x" * 16)
    assert len(ct) == 32 and sm4_cbc_decrypt(k, iv, ct) == b"x" * 16
    with pytest.raises(DecryptionError, match="multiple of 16"):
        sm4_cbc_decrypt(k, iv, ct[:-1])
    bad = bytearray(ct)
    bad[15] ^= 0x01  # flips the last padding byte 0x10 -> 0x11 in the next block
    with pytest.raises(DecryptionError, match="padding"):
        sm4_cbc_decrypt(k, iv, bytes(bad))
    with pytest.raises(ValueError, match="iv must be 16"):
        sm4_cbc_encrypt(k, b"short", b"x")


class _Backend:
    """Wraps a backend: the first encryption has an all-zero KDF output (C2 = M, as OpenSSL may produce);
    with ``echo_c2`` decryption returns C2 (what an all-zero KDF output decrypts to)."""

    def __init__(self, real: object, echo_c2: bool = False) -> None:
        self.real, self.calls, self.echo_c2 = real, 0, echo_c2

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def encrypt(self, key: object, data: bytes) -> bytes:
        self.calls += 1
        sealed = self.real.encrypt(key, data)  # type: ignore[attr-defined]
        return sealed if self.calls > 1 else ciphertext_from_raw(ciphertext_to_raw(sealed)[:97] + data)

    def decrypt(self, key: object, blob: bytes) -> bytes:
        if self.echo_c2:
            return ciphertext_to_raw(blob)[97:]
        return self.real.decrypt(key, blob)  # type: ignore[attr-defined]


def test_all_zero_kdf_output_is_never_sent_and_never_accepted(key: SM2PrivateKey, monkeypatch) -> None:
    public = key.public_key()
    real = public._key.backend
    fake = _Backend(real)
    monkeypatch.setattr(public._key, "backend", fake)
    sealed = public.encrypt(b"a")
    assert fake.calls == 2 and ciphertext_to_raw(sealed)[97:] != b"a"  # GB/T 32918.4 A5: a new k
    assert key.decrypt(sealed) == b"a"
    monkeypatch.setattr(key._key, "backend", _Backend(real, echo_c2=True))
    with pytest.raises(DecryptionError, match="all-zero KDF"):  # B4: refused
        key.decrypt(sealed)
