"""SM3 Merkle trees (qcchain_model.merkle): roots, proofs for every position, and refusals of bad proofs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcchain_core.gm import sm3
from qcchain_model.errors import InvalidProof
from qcchain_model.merkle import InclusionProof, MerkleTree, leaf_hash, merkle_root, node_hash, verify_inclusion


def test_domain_separation_and_small_trees() -> None:
    a, b, c = b"a", b"b", b"c"
    assert leaf_hash(a) == sm3(b"\x00a") and node_hash(a, b) == sm3(b"\x01ab")
    assert merkle_root([a]) == leaf_hash(a)
    assert merkle_root([a, b]) == node_hash(leaf_hash(a), leaf_hash(b))
    # odd last node promoted, never duplicated
    assert merkle_root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))
    assert merkle_root([a, b, c]) != merkle_root([a, b, c, c])
    # a leaf cannot pose as an inner node
    assert merkle_root([leaf_hash(a) + leaf_hash(b)]) != merkle_root([a, b])
    with pytest.raises(ValueError):
        merkle_root([])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=70))
def test_every_leaf_has_a_proof_that_verifies(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    assert tree.root == merkle_root(leaves)
    for i, data in enumerate(leaves):
        proof = InclusionProof.from_dict(tree.proof(i).to_dict())
        verify_inclusion(data, proof, tree.root.hex())


def test_bad_proofs_are_refused() -> None:
    leaves = [bytes([i]) * 3 for i in range(11)]
    tree = MerkleTree(leaves)
    root = tree.root.hex()
    proof = tree.proof(5)
    with pytest.raises(InvalidProof):
        verify_inclusion(b"other", proof, root)
    with pytest.raises(InvalidProof):  # the same leaf claimed at another position
        verify_inclusion(leaves[5], InclusionProof(4, proof.size, proof.leaf, proof.siblings, root), root)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaves[5], InclusionProof(5, 11, proof.leaf, proof.siblings[:-1], root), root)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaves[5], InclusionProof(5, 11, proof.leaf, proof.siblings + ("00" * 32,), root), root)
    flipped = ("ff" * 32,) + proof.siblings[1:]
    with pytest.raises(InvalidProof):
        verify_inclusion(leaves[5], InclusionProof(5, 11, proof.leaf, flipped, root), root)
    with pytest.raises(InvalidProof):
        verify_inclusion(leaves[5], proof, "00" * 32)
    with pytest.raises(InvalidProof):
        InclusionProof.from_dict({"index": 1})
    with pytest.raises(IndexError):
        tree.proof(11)
