"""The Gateway client signs proposals and transactions with a P-256 key that stays on a SoftHSM2 token."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from fabric_protos.common import common_pb2
from fabric_protos.peer import transaction_pb2
from qcchain_devnet.material import issue
from qcchain_gateway import Identity, connect, new_channel
from qcchain_gateway.pkcs11 import (Pkcs11Uri, TokenError, TokenUnsupportedError, generate_key, import_key,
                                    list_keys, open_signer, require_sm2)

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _uri(hsm, label: str) -> str:
    return f"pkcs11:token={hsm.token};object={label}?module-path={hsm.module}"


def _label() -> str:
    return "k-" + uuid.uuid4().hex[:8]


def test_uri_parse_and_errors() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=my%20token;object=admin?module-path=/x/lib.so&pin-source=file:/p")
    assert (uri.token, uri.object, uri.query["module-path"]) == ("my token", "admin", "/x/lib.so")
    assert str(uri).startswith("pkcs11:token=my%20token;object=admin?")
    for bad, why in [("file:/x", "must start with 'pkcs11:'"), ("pkcs11:object=a", "names no token"),
                     ("pkcs11:token=a;colour=red", "unknown path attribute 'colour'"),
                     ("pkcs11:token=a;token=b", "given twice")]:
        with pytest.raises(TokenError, match=why):
            Pkcs11Uri.parse(bad)


def test_sign_low_s_der_verifies(hsm) -> None:
    label = _label()
    public = generate_key(_uri(hsm, label), hsm.pin)
    with open_signer(_uri(hsm, label), hsm.pin) as signer:
        assert signer.public_key().public_numbers() == public.public_numbers()
        for i in range(40):  # ~half of raw ECDSA signatures are high-S: all must come out low-S
            digest = hashlib.sha256(b"m%d" % i).digest()
            der = signer(digest)
            r, s = decode_dss_signature(der)
            assert s <= N // 2
            public.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        with pytest.raises(TokenError, match="expected 32"):
            signer(b"short")


def test_private_key_is_not_extractable(hsm) -> None:
    import pkcs11

    label = _label()
    generate_key(_uri(hsm, label), hsm.pin)
    with open_signer(_uri(hsm, label), hsm.pin) as signer:
        key = signer._key
        assert key[pkcs11.Attribute.SENSITIVE] and not key[pkcs11.Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[pkcs11.Attribute.VALUE]


def test_bad_pin_missing_object_unknown_token(hsm) -> None:
    label = _label()
    generate_key(_uri(hsm, label), hsm.pin)
    with pytest.raises(TokenError, match=r"^token 'qcchain-test': wrong PIN$"):
        open_signer(_uri(hsm, label), "0000")
    with pytest.raises(TokenError, match=r"object 'nope': no such private key$"):
        open_signer(_uri(hsm, "nope"), hsm.pin)
    with pytest.raises(TokenError, match=r"^no PKCS#11 token labelled 'other'"):
        open_signer(f"pkcs11:token=other;object={label}", hsm.pin)
    with pytest.raises(TokenError, match="already exists"):
        generate_key(_uri(hsm, label), hsm.pin)
    with pytest.raises(TokenError, match="needs a PIN"):
        open_signer(_uri(hsm, label), None)


def test_sm2_is_refused_in_one_line(hsm) -> None:
    with pytest.raises(TokenUnsupportedError) as err:
        require_sm2(_uri(hsm, "x"), 0x80000001)
    text = str(err.value)
    assert "offers no SM2 mechanism" in text and "no software fallback" in text and "\n" not in text


def test_import_then_sign_and_list(hsm) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    label = _label()
    public = import_key(_uri(hsm, label), hsm.pin, key)
    assert public.public_numbers() == key.public_key().public_numbers()
    listed = {k.label: k for k in list_keys(f"pkcs11:token={hsm.token}", hsm.pin)}
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert listed[label].public_pem == pem and listed[label].key_type == "EC"
    with pytest.raises(TokenError, match="only ECDSA P-256"):
        import_key(_uri(hsm, _label()), hsm.pin, ec.generate_private_key(ec.SECP384R1()))


def test_gateway_submits_on_devnet_with_token_key(hsm, devnet, crypto) -> None:
    """Proposal and transaction envelope are signed on the token; the devnet validates both and commits."""
    label = _label()
    public = generate_key(_uri(hsm, label), hsm.pin)
    cert = issue(crypto.cas["Org1MSP"], f"{label}@org1.example.com", public, ous=("client",))
    identity = Identity("Org1MSP", cert.public_bytes(serialization.Encoding.PEM))
    with open_signer(_uri(hsm, label), hsm.pin) as signer:
        channel = new_channel(f"127.0.0.1:{devnet.port}", crypto.tls_ca.cert_pem)
        with connect(identity, channel, signer, close_connection=True) as gateway:
            network = gateway.get_network("mychannel")
            contract = network.get_contract("kv")
            assert contract.submit_transaction("put", "hsm-key", "signed-on-token") == b"created"
            assert contract.evaluate_transaction("get", "hsm-key") == b"signed-on-token"
    # the committed envelope carries the token key's signature over its payload
    ledger = devnet.ledgers["mychannel"]
    block = common_pb2.Block.FromString(ledger.block_bytes(ledger.height - 1))
    env = common_pb2.Envelope.FromString(block.data.data[0])
    public.verify(env.signature, env.payload, ec.ECDSA(hashes.SHA256()))
    payload = common_pb2.Payload.FromString(env.payload)
    tx = transaction_pb2.Transaction.FromString(payload.data)
    assert tx.actions, "the block holds the endorsed transaction"


def test_wrong_certificate_for_token_key_is_refused(hsm, devnet, crypto) -> None:
    """A certificate whose key is not the token's: the devnet refuses the signature (nothing committed)."""
    label = _label()
    generate_key(_uri(hsm, label), hsm.pin)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    cert = issue(crypto.cas["Org1MSP"], "mismatch@org1.example.com", other, ous=("client",))
    identity = Identity("Org1MSP", cert.public_bytes(serialization.Encoding.PEM))
    height = devnet.ledgers["mychannel"].height
    with open_signer(_uri(hsm, label), hsm.pin) as signer:
        channel = new_channel(f"127.0.0.1:{devnet.port}", crypto.tls_ca.cert_pem)
        with connect(identity, channel, signer, close_connection=True) as gateway:
            contract = gateway.get_network("mychannel").get_contract("kv")
            with pytest.raises(Exception):
                contract.submit_transaction("put", "bad", "x")
    assert devnet.ledgers["mychannel"].height == height
