"""Known-answer tests from the published standards (GB/T 32905, 32907, 32918) on every native backend."""

from __future__ import annotations

import pytest

from qcchain_core.gm import (DEFAULT_UID, SM2PrivateKey, SM2PublicKey, ciphertext_from_raw, ciphertext_to_raw,
                             compute_z, sm3, sm4_cbc_decrypt, sm4_cbc_encrypt)
from qcchain_core.gm import _native

BACKENDS = _native.available()

# GB/T 32918.5-2017 (= GM/T 0003.5-2012) examples on the recommended curve.
D = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
PUB = ("04" "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
       "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
ZA = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
E = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
K = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"
ENC_C1 = ("0404EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
          "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0")
ENC_C3 = "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
ENC_C2 = "21886CA989CA9C7D58087307CA93092D651EFA"


def der_sig(r: str, s: str) -> bytes:
    def integer(h: str) -> bytes:
        body = int(h, 16).to_bytes(33, "big").lstrip(b"\0")
        body = b"\0" + body if body[0] & 0x80 else body
        return bytes([2, len(body)]) + body

    body = integer(r) + integer(s)
    return bytes([0x30, len(body)]) + body


def test_sm3_gbt32905_examples() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm4_gbt32907_examples() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    # Single block: ECB == CBC with a zero IV for one block; strip the PKCS#7 block.
    ct = sm4_cbc_encrypt(key, bytes(16), key)
    assert ct[:16].hex() == "681edf34d206965e86b3e94f536e4246"
    assert sm4_cbc_decrypt(key, bytes(16), ct) == key


def test_sm4_gbt32907_million_iterations() -> None:
    # GB/T 32907 appendix A example 2: the block encrypted 1,000,000 times with the same key, on the
    # SM4 primitive that qcchain_core.gm.sm4 uses (one ECB context; about 0.6 s).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    update = Cipher(algorithms.SM4(key), modes.ECB()).encryptor().update
    block = key
    for _ in range(1_000_000):
        block = update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


@pytest.mark.parametrize("backend", BACKENDS)
def test_sm2_za_and_public_key(backend: str) -> None:
    key = SM2PrivateKey.from_scalar(bytes.fromhex(D), backend=backend)
    assert key.public_key().to_bytes().hex().upper() == PUB
    assert compute_z(bytes.fromhex(PUB), DEFAULT_UID).hex().upper() == ZA
    assert key.public_key().digest(b"message digest").hex().upper() == E


@pytest.mark.parametrize("backend", BACKENDS)
def test_sm2_verifies_published_signature(backend: str) -> None:
    pub = SM2PublicKey.from_bytes(bytes.fromhex(PUB), backend=backend)
    pub.verify(der_sig(R, S), b"message digest")
    with pytest.raises(ValueError):
        pub.verify(der_sig(R, S), b"message digesT")


@pytest.mark.parametrize("backend", BACKENDS)
def test_sm2_decrypts_published_ciphertext(backend: str) -> None:
    key = SM2PrivateKey.from_scalar(bytes.fromhex(D), backend=backend)
    der = ciphertext_from_raw(bytes.fromhex(ENC_C1 + ENC_C3 + ENC_C2))
    assert key.decrypt(der) == b"encryption standard"
    assert ciphertext_to_raw(der).hex().upper() == ENC_C1 + ENC_C3 + ENC_C2


def test_sm2_fixed_k_signature_through_reference() -> None:
    reference = pytest.importorskip("qcchain_bench.gmref")
    sig = reference.sign(int(D, 16), b"message digest", DEFAULT_UID, k=int(K, 16))
    assert sig == der_sig(R, S)


def test_sm4_gcm_rfc8998_vector() -> None:
    from qcchain_core.gm import sm4_gcm_decrypt, sm4_gcm_encrypt

    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plain = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                          "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    sealed = bytes.fromhex("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                           "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
                           "83DE3541E4C2B58177E065A9BF7B62EC")
    assert sm4_gcm_encrypt(key, nonce, plain, aad) == sealed
    assert sm4_gcm_decrypt(key, nonce, sealed, aad) == plain
    reference = pytest.importorskip("qcchain_bench.gmref")
    assert reference.sm4_gcm_encrypt(key, nonce, plain, aad) == sealed
