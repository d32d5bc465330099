"""The Merkle tree of a log, held against the RFC 6962 definitions written out naively."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit import merkle


def mth(data: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 6962 §2.1 defines it, over the leaves' data."""
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < len(data):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(data[:k]) + mth(data[k:])).digest()


def path(m: int, data: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1."""
    if len(data) == 1:
        return []
    k = 1
    while k * 2 < len(data):
        k *= 2
    if m < k:
        return [*path(m, data[:k]), mth(data[k:])]
    return [*path(m - k, data[k:]), mth(data[:k])]


def subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 6962 §2.1.2."""
    if m == len(data):
        return [] if whole else [mth(data)]
    k = 1
    while k * 2 < len(data):
        k *= 2
    if m <= k:
        return [*subproof(m, data[:k], whole), mth(data[k:])]
    return [*subproof(m - k, data[k:], False), mth(data[:k])]


def leaves_of(data: list[bytes]) -> list[bytes]:
    return [merkle.leaf_hash(d) for d in data]


records = st.lists(st.binary(max_size=12), min_size=1, max_size=70)
# Distinct records, so that a proof for one leaf cannot hold for another by coincidence.
distinct = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


@given(records)
def test_the_root_is_the_rfc_tree_hash(data: list[bytes]) -> None:
    leaves = leaves_of(data)
    assert merkle.root(leaves) == mth(data)
    assert all(merkle.root(leaves, n) == mth(data[:n]) for n in range(len(data) + 1))


@given(records, st.data())
def test_an_inclusion_proof_is_the_rfc_path_and_verifies(
    data: list[bytes], pick: st.DataObject
) -> None:
    size = pick.draw(st.integers(1, len(data)))
    index = pick.draw(st.integers(0, size - 1))
    leaves = leaves_of(data)
    proof = merkle.inclusion_proof(leaves, index, size)
    assert proof == path(index, data[:size])
    assert merkle.verify_inclusion(leaves[index], index, size, proof, mth(data[:size]))


@given(records, st.data())
def test_a_consistency_proof_is_the_rfc_subproof_and_verifies(
    data: list[bytes], pick: st.DataObject
) -> None:
    second = pick.draw(st.integers(0, len(data)))
    first = pick.draw(st.integers(0, second))
    leaves = leaves_of(data)
    proof = merkle.consistency_proof(leaves, first, second)
    assert proof == ([] if first in (0, second) else subproof(first, data[:second], True))
    old, new = mth(data[:first]), mth(data[:second])
    assert merkle.verify_consistency(first, second, old, new, proof)


@settings(max_examples=200)
@given(distinct, st.data())
def test_an_inclusion_proof_fails_for_another_leaf_index_size_or_root(
    data: list[bytes], pick: st.DataObject
) -> None:
    size = pick.draw(st.integers(1, len(data)))
    index = pick.draw(st.integers(0, size - 1))
    leaves = leaves_of(data)
    proof = merkle.inclusion_proof(leaves, index, size)
    top = mth(data[:size])
    assert not merkle.verify_inclusion(
        merkle.leaf_hash(b"forged" + data[index]), index, size, proof, top
    )
    assert not merkle.verify_inclusion(
        leaves[index], index, size, proof, hashlib.sha256(top).digest()
    )
    other = pick.draw(st.integers(0, size - 1))
    if leaves[other] != leaves[index]:
        assert not merkle.verify_inclusion(leaves[other], index, size, proof, top)
    if size > 1:
        wrong = pick.draw(st.integers(0, size - 1).filter(lambda i: i != index))
        assert not merkle.verify_inclusion(leaves[index], wrong, size, proof, top)
    assert not merkle.verify_inclusion(leaves[index], index, size, [*proof, top], top)


@settings(max_examples=200)
@given(distinct, st.data())
def test_a_consistency_proof_fails_when_history_was_rewritten(
    data: list[bytes], pick: st.DataObject
) -> None:
    second = pick.draw(st.integers(2, max(2, len(data))))
    if second > len(data):
        return
    first = pick.draw(st.integers(1, second - 1))
    changed = pick.draw(st.integers(0, first - 1))
    rewritten = [*data[:changed], data[changed] + b"!", *data[changed + 1 : second]]
    proof = merkle.consistency_proof(leaves_of(rewritten), first, second)
    # The old head saw the original leaves; the log now holds another history of that prefix.
    assert not merkle.verify_consistency(first, second, mth(data[:first]), mth(rewritten), proof)
    honest = merkle.consistency_proof(leaves_of(data), first, second)
    assert not merkle.verify_consistency(first, second, mth(data[:first]), mth(rewritten), honest)


def test_the_smallest_trees_and_their_bounds() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    one = [merkle.leaf_hash(b"a")]
    assert merkle.inclusion_proof(one, 0, 1) == []
    assert merkle.verify_inclusion(one[0], 0, 1, [], one[0])
    assert merkle.verify_consistency(0, 1, merkle.EMPTY_ROOT, one[0], [])
    assert not merkle.verify_consistency(0, 1, merkle.EMPTY_ROOT, one[0], [one[0]])
    assert not merkle.verify_consistency(1, 1, one[0], merkle.EMPTY_ROOT, [])
    assert not merkle.verify_consistency(2, 1, one[0], one[0], [])
    assert not merkle.verify_inclusion(one[0], 1, 1, [], one[0])
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(one, 1, 1)
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(one, 0, 2)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(one, 1, 2)
    with pytest.raises(merkle.ProofError):
        merkle.root(one, 2)


def test_a_known_tree_of_seven_leaves() -> None:
    """The tree of RFC 6962 §2.1.3's example: d0..d6, proofs as the RFC lists them."""
    data = [bytes([i]) for i in range(7)]
    leaves = leaves_of(data)
    a = merkle.node_hash(leaves[0], leaves[1])
    b = merkle.node_hash(leaves[2], leaves[3])
    i = merkle.node_hash(leaves[4], leaves[5])
    k = merkle.node_hash(a, b)
    ll = merkle.node_hash(i, leaves[6])
    assert merkle.root(leaves) == merkle.node_hash(k, ll)
    assert merkle.inclusion_proof(leaves, 0, 7) == [leaves[1], b, ll]
    assert merkle.inclusion_proof(leaves, 3, 7) == [leaves[2], a, ll]
    assert merkle.inclusion_proof(leaves, 4, 7) == [leaves[5], leaves[6], k]
    assert merkle.inclusion_proof(leaves, 6, 7) == [i, k]
    c = leaves[2]
    assert merkle.consistency_proof(leaves, 3, 7) == [c, leaves[3], a, ll]
    assert merkle.consistency_proof(leaves, 4, 7) == [ll]
    assert merkle.consistency_proof(leaves, 6, 7) == [i, leaves[6], k]
