"""Native backends and the independent gmssl reference interoperate both ways."""

from __future__ import annotations

import os

import pytest

from qcchain_core.gm import (DEFAULT_UID, SM2PrivateKey, SM2PublicKey, hmac_sm3, sm3, sm4_cbc_decrypt,
                             sm4_cbc_encrypt, sm4_gcm_decrypt, sm4_gcm_encrypt)
from qcchain_core.gm import _native

ref = pytest.importorskip("qcchain_bench.gmref")
BACKENDS = _native.available()
MESSAGES = [b"", b"a", b"abc" * 21, os.urandom(200)]


@pytest.fixture(scope="module", params=BACKENDS)
def keypair(request: pytest.FixtureRequest) -> tuple[SM2PrivateKey, int]:
    key = SM2PrivateKey.generate(backend=request.param)
    return key, ref.scalar_from_pem(key.to_pem())


def test_backends_available() -> None:
    assert BACKENDS, "no native SM2 backend loaded"
    assert "tongsuo" in BACKENDS  # bundled in the tongsuopy wheel: always there


@pytest.mark.parametrize("data", [b"", b"abc", os.urandom(63), os.urandom(64), os.urandom(1000)])
def test_sm3_and_hmac_match_reference(data: bytes) -> None:
    assert sm3(data) == ref.sm3(data)
    for key in (b"k", os.urandom(64), os.urandom(100)):
        assert hmac_sm3(key, data) == ref.hmac_sm3(key, data)


def test_public_point_matches_reference(keypair: tuple[SM2PrivateKey, int]) -> None:
    key, d = keypair
    assert key.public_key().to_bytes() == ref.public_point(d)


@pytest.mark.parametrize("uid", [DEFAULT_UID, b"alice@inspection", b""])
def test_signatures_both_ways(keypair: tuple[SM2PrivateKey, int], uid: bytes) -> None:
    key, d = keypair
    point = key.public_key().to_bytes()
    for data in MESSAGES[:3]:
        ref.verify(point, key.sign(data, uid), data, uid)  # native -> reference
        key.public_key().verify(ref.sign(d, data, uid), data, uid)  # reference -> native


def test_encryption_both_ways(keypair: tuple[SM2PrivateKey, int]) -> None:
    key, d = keypair
    point = key.public_key().to_bytes()
    for data in MESSAGES[1:]:
        assert ref.decrypt(d, key.public_key().encrypt(data)) == data
        assert key.decrypt(ref.encrypt(point, data)) == data


def test_cross_backend_keys_and_signatures() -> None:
    if len(BACKENDS) < 2:
        pytest.skip("only one native backend here")
    a, b = BACKENDS[:2]
    key = SM2PrivateKey.generate(backend=a)
    twin = SM2PrivateKey.from_pem(key.to_pem(b"pw"), b"pw", backend=b)
    assert twin.public_key() == key.public_key()
    SM2PublicKey.from_pem(key.public_key().to_pem(), backend=b).verify(key.sign(b"x"), b"x")
    key.public_key().verify(twin.sign(b"y"), b"y")
    assert twin.decrypt(key.public_key().encrypt(b"z")) == b"z"


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 100])
def test_sm4_matches_reference(size: int) -> None:
    key, nonce, iv, aad = os.urandom(16), os.urandom(12), os.urandom(16), os.urandom(size % 7 * 5)
    data = os.urandom(size)
    sealed = sm4_gcm_encrypt(key, nonce, data, aad)
    assert sealed == ref.sm4_gcm_encrypt(key, nonce, data, aad)
    assert ref.sm4_gcm_decrypt(key, nonce, sealed, aad) == data
    assert sm4_gcm_decrypt(key, nonce, ref.sm4_gcm_encrypt(key, nonce, data, aad), aad) == data
    ct = sm4_cbc_encrypt(key, iv, data)
    assert ct == ref.sm4_cbc_encrypt(key, iv, data)
    assert sm4_cbc_decrypt(key, iv, ct) == data == ref.sm4_cbc_decrypt(key, iv, ct)
