"""The audit log's Merkle tree is RFC 9162: the same roots and proofs as the RFC's recursive
definitions, the published RFC 6962 vectors and pymerkle, and proofs that fail when tampered."""

from __future__ import annotations

import hashlib
import random
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from clearance.errors import IntegrityError

# --- the RFC's recursive definitions, written out independently of the module -------------


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]) over raw entries, RFC 9162 §2.1.1."""
    n = len(entries)
    if n == 0:
        return _sha(b"")
    if n == 1:
        return _sha(b"\x00" + entries[0])
    k = _k(n)
    return _sha(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1."""
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 9162 §2.1.4.1."""
    n = len(entries)
    if m == n:
        return [] if whole else [ref_mth(entries)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], whole), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def _flip(h: bytes, at: int = 0) -> bytes:
    return h[:at] + bytes([h[at] ^ 1]) + h[at + 1 :]


ENTRIES = [bytes([i]) * (i + 1) for i in range(8)]
SMALL = [(n, i) for n in range(1, 9) for i in range(n)]
PAIRS = [(m, n) for n in range(0, 9) for m in range(0, n + 1)]


# --- table-driven vectors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("got", "want"),
    [
        (leaf_hash(b""), _sha(b"\x00")),
        (leaf_hash(b"abc"), _sha(b"\x00abc")),
        (node_hash(b"L" * 32, b"R" * 32), _sha(b"\x01" + b"L" * 32 + b"R" * 32)),
        (
            root([]),
            bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ),
        (EMPTY_ROOT, _sha(b"")),
    ],
)
def test_hashes_use_the_rfc_prefixes_and_the_empty_root(got: bytes, want: bytes) -> None:
    """Leaves are 0x00-prefixed, nodes 0x01-prefixed, and the empty tree is sha256('')."""
    assert got == want


@pytest.mark.parametrize("n", range(0, 9))
def test_root_matches_the_recursive_mth(n: int) -> None:
    """root() equals the RFC's recursive MTH for every size 0..8."""
    assert root([leaf_hash(e) for e in ENTRIES[:n]]) == ref_mth(ENTRIES[:n])


@pytest.mark.parametrize(("n", "index"), SMALL)
def test_inclusion_proof_is_the_rfc_path_and_verifies(n: int, index: int) -> None:
    """inclusion_proof() equals PATH(m, D[n]) and verifies against MTH."""
    leaves = [leaf_hash(e) for e in ENTRIES[:n]]
    proof = inclusion_proof(leaves, index)
    assert proof == ref_path(index, ENTRIES[:n])
    assert verify_inclusion(leaves[index], index, n, proof, ref_mth(ENTRIES[:n]))


@pytest.mark.parametrize(("m", "n"), PAIRS)
def test_consistency_proof_is_the_rfc_subproof_and_verifies(m: int, n: int) -> None:
    """consistency_proof() equals SUBPROOF(m, D[n], true) (empty for m = 0) and verifies."""
    leaves = [leaf_hash(e) for e in ENTRIES[:n]]
    proof = consistency_proof(leaves, m)
    assert proof == ([] if m == 0 else ref_subproof(m, ENTRIES[:n], True))
    assert verify_consistency(m, n, ref_mth(ENTRIES[:m]), ref_mth(ENTRIES[:n]), proof)


# The RFC 6962 reference implementation's test vectors (as reused by Certificate
# Transparency and transparency-dev): eight inputs, their roots, and sample proofs.
CT_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H = {
    "6e34": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a2": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f08": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "bc1a": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca85": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37e": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "fac5": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "0ebc": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
}
CT_LEAVES = [leaf_hash(d) for d in CT_INPUTS]


@pytest.mark.parametrize("n", range(1, 9))
def test_roots_match_the_published_rfc6962_vectors(n: int) -> None:
    """root() and the frontier give the reference implementation's root for sizes 1..8."""
    assert root(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1]
    assert Frontier.empty().extended(CT_LEAVES[:n]).root().hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize(
    ("index", "n", "path"),
    [
        (0, 8, ["96a2", "5f08", "6b47"]),
        (5, 8, ["bc1a", "ca85", "d37e"]),
        (2, 3, ["fac5"]),
        (1, 5, ["6e34", "5f08", "bc1a"]),
        (0, 1, []),
    ],
)
def test_inclusion_proofs_match_the_published_vectors(index: int, n: int, path: list[str]) -> None:
    """inclusion_proof() gives the reference implementation's audit paths."""
    assert [h.hex() for h in inclusion_proof(CT_LEAVES[:n], index)] == [H[p] for p in path]


@pytest.mark.parametrize(
    ("m", "n", "path"),
    [
        (1, 1, []),
        (1, 8, ["96a2", "5f08", "6b47"]),
        (6, 8, ["0ebc", "ca85", "d37e"]),
        (2, 5, ["5f08", "bc1a"]),
    ],
)
def test_consistency_proofs_match_the_published_vectors(m: int, n: int, path: list[str]) -> None:
    """consistency_proof() gives the reference implementation's consistency proofs."""
    proof = consistency_proof(CT_LEAVES[:n], m)
    assert [h.hex() for h in proof] == [H[p] for p in path]
    assert verify_consistency(m, n, root(CT_LEAVES[:m]), root(CT_LEAVES[:n]), proof)


@pytest.mark.parametrize("n", [255, 256, 257, 1023, 1024, 1025])
def test_root_and_frontier_match_the_recursive_mth_around_powers_of_two(n: int) -> None:
    """The level-by-level root and the frontier agree with the recursion at tree-shape edges."""
    entries = [i.to_bytes(4, "big") for i in range(n)]
    leaves = [leaf_hash(e) for e in entries]
    assert root(leaves) == ref_mth(entries) == Frontier.empty().extended(leaves).root()
    for index in (0, n // 2, n - 1):
        assert inclusion_proof(leaves, index) == ref_path(index, entries)


# --- properties ------------------------------------------------------------------------------

unique_leaves = st.lists(st.binary(max_size=12), min_size=1, max_size=40, unique=True).map(
    lambda entries: [leaf_hash(e) for e in entries]
)


@settings(max_examples=200, deadline=None)
@given(unique_leaves)
def test_every_inclusion_proof_verifies_and_every_tampering_fails(leaves: list[bytes]) -> None:
    """Each proof verifies; another index, size, leaf, root, node or proof length fails."""
    n, top = len(leaves), root(leaves)
    longer = leaves + [leaf_hash(b"an entry longer than any drawn %d" % k) for k in range(3)]
    for i, leaf in enumerate(leaves):
        proof = inclusion_proof(leaves, i)
        assert verify_inclusion(leaf, i, n, proof, top)
        assert not any(verify_inclusion(leaf, j, n, proof, top) for j in range(n) if j != i)
        assert not verify_inclusion(leaf, n + i, n, proof, top)
        assert not verify_inclusion(leaf, -1, n, proof, top)
        assert not verify_inclusion(_flip(leaf), i, n, proof, top)
        assert not verify_inclusion(leaf, i, n, proof, _flip(top, 31))
        assert not verify_inclusion(leaf, i, n, [*proof, leaf], top)
        assert not verify_inclusion(leaf, i, n, [*proof, top], top)
        assert not verify_inclusion(leaf, i, n, [*proof, leaf], node_hash(leaf, top))
        assert not any(verify_inclusion(leaf, i, n, proof[:k], top) for k in range(len(proof)))
        assert not proof or not verify_inclusion(leaf, i, n, proof[1:], top)
        for k in range(len(proof)):
            tampered = [*proof[:k], _flip(proof[k], k % 32), *proof[k + 1 :]]
            assert not verify_inclusion(leaf, i, n, tampered, top)
        for other in range(i + 1, n + 3):
            if other != n:  # a real tree head of another size, shorter or longer
                assert not verify_inclusion(leaf, i, other, proof, root(longer[:other]))


@settings(max_examples=200, deadline=None)
@given(unique_leaves)
def test_every_consistency_proof_verifies_and_every_tampering_fails(leaves: list[bytes]) -> None:
    """Each PROOF(m, n) verifies for 0 <= m <= n; other sizes, roots, nodes or lengths fail."""
    n = len(leaves)
    roots = [root(leaves[:m]) for m in range(n + 1)]
    for m in range(n + 1):
        proof = consistency_proof(leaves, m)
        assert verify_consistency(m, n, roots[m], roots[n], proof)
        assert not verify_consistency(m, n, _flip(roots[m]), roots[n], proof)
        assert not verify_consistency(m, n, roots[m], roots[n], [*proof, roots[0]])
        if m < n:
            assert not verify_consistency(n, m, roots[n], roots[m], proof)
        assert not any(
            verify_consistency(other, n, roots[other], roots[n], proof)
            for other in range(n + 1)
            if consistency_proof(leaves, other) != proof  # [] is right for both 0 and n
        )
        if m > 0:  # an empty tree is a prefix of every tree, whatever its root
            assert not verify_consistency(m, n, roots[m], _flip(roots[n]), proof)
        if proof:
            made_up = node_hash(leaves[0], roots[m]), node_hash(leaves[0], roots[n])
            assert not verify_consistency(m, n, *made_up, [*proof, leaves[0]])
            assert not verify_consistency(m, n, roots[m], roots[n], proof[:-1])
            assert not verify_consistency(m, n, roots[m], roots[n], proof[1:])
            for k in range(len(proof)):
                tampered = [*proof[:k], _flip(proof[k]), *proof[k + 1 :]]
                assert not verify_consistency(m, n, roots[m], roots[n], tampered)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=70))
def test_frontier_root_equals_root_at_every_size(entries: list[bytes]) -> None:
    """Appending leaf by leaf, the frontier's root is root(leaves) at every size, and it
    holds exactly the roots of the perfect subtrees named by the size's bits."""
    leaves = [leaf_hash(e) for e in entries]
    frontier = Frontier.empty()
    assert frontier.root() == root([]) == EMPTY_ROOT
    for n in range(1, len(leaves) + 1):
        frontier = frontier.appended(leaves[n - 1])
        assert frontier.size == n
        assert frontier.root() == root(leaves[:n])
        starts = [0]
        for bit in reversed(range(n.bit_length())):
            if n >> bit & 1:
                starts.append(starts[-1] + (1 << bit))
        assert list(frontier.hashes) == [root(leaves[a:b]) for a, b in pairwise(starts)]
        assert Frontier.from_json(frontier.to_json()) == frontier
    assert Frontier.empty().extended(leaves) == frontier


# --- edges and errors -----------------------------------------------------------------------


def test_an_inclusion_proof_is_only_as_good_as_its_tree_head() -> None:
    """RFC 9162's verifier binds the size only through the signed (size, root) pair: leaf 0's
    path has the same shape in trees of 3 and 4 leaves, so a size-4 proof passes as size 3
    against the size-4 root (and never against the real size-3 root)."""
    leaves = CT_LEAVES[:4]
    proof = inclusion_proof(leaves, 0)
    assert verify_inclusion(leaves[0], 0, 3, proof, root(leaves))
    assert not verify_inclusion(leaves[0], 0, 3, proof, root(leaves[:3]))


def test_verifiers_reject_impossible_sizes_and_malformed_hashes() -> None:
    """Empty trees, old > new, and hashes that are not 32 bytes never verify."""
    leaf, top = CT_LEAVES[0], root(CT_LEAVES[:1])
    assert verify_inclusion(leaf, 0, 1, [], top)
    assert not verify_inclusion(leaf, 0, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(leaf[:31], 0, 1, [], top)
    assert not verify_inclusion(leaf, 0, 2, [b"\x00" * 31], top)
    assert not verify_consistency(2, 1, top, top, [])
    assert not verify_consistency(-1, 1, EMPTY_ROOT, top, [])
    assert not verify_consistency(1, 2, top, top, [])  # a growing tree needs a proof
    assert not verify_consistency(1, 1, top, top, [top])  # equal sizes take no proof
    assert not verify_consistency(1, 1, top, _flip(top), [])
    assert not verify_consistency(1, 2, top[:31], top, [top])
    short = consistency_proof(CT_LEAVES[:2], 1)  # one node short of a proof from 1 to 4
    assert verify_consistency(1, 2, top, root(CT_LEAVES[:2]), short)
    assert not verify_consistency(1, 4, top, root(CT_LEAVES[:2]), short)


def test_the_empty_tree_is_a_prefix_of_every_tree_but_only_with_its_own_root() -> None:
    """Old size 0 needs an empty proof and sha256('') as its root; the new root is unconstrained."""
    assert verify_consistency(0, 5, EMPTY_ROOT, root(CT_LEAVES[:5]), [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, CT_LEAVES[0], [])
    assert not verify_consistency(0, 5, CT_LEAVES[0], root(CT_LEAVES[:5]), [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root(CT_LEAVES[:5]), [CT_LEAVES[0]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: inclusion_proof(CT_LEAVES, 8), "outside a tree of 8"),
        (lambda: inclusion_proof(CT_LEAVES, -1), "outside a tree of 8"),
        (lambda: inclusion_proof([], 0), "outside a tree of 0"),
        (lambda: consistency_proof(CT_LEAVES, 9), "outside 0..8"),
        (lambda: consistency_proof(CT_LEAVES, -1), "outside 0..8"),
        (lambda: Frontier.empty().appended(b"raw entry"), "hash the entry first"),
        (lambda: Frontier(3, (CT_LEAVES[0],)), "has 2 subtree hashes, not 1"),
        (lambda: Frontier(-1, ()), "cannot be negative"),
        (lambda: Frontier(1, (b"short",)), "32-byte"),
    ],
)
def test_bad_arguments_raise_value_error_saying_what_is_wrong(call: Any, message: str) -> None:
    """Proof generation and frontier construction refuse out-of-range or unhashed input."""
    with pytest.raises(ValueError, match=message):
        call()


GOOD = Frontier.empty().extended(CT_LEAVES[:3]).to_json()


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"size": 3},
        {"size": "3", "hashes": GOOD["hashes"]},
        {"size": True, "hashes": GOOD["hashes"][:1]},
        {"size": 3, "hashes": "00"},
        {"size": 3, "hashes": [1, 2]},
        {"size": 3, "hashes": ["zz", GOOD["hashes"][1]]},
        {"size": 3, "hashes": GOOD["hashes"][:1]},
        {"size": 3, "hashes": [GOOD["hashes"][0], "abcd"]},
        {"size": -1, "hashes": []},
        ["size", 3],
    ],
)
def test_a_malformed_stored_frontier_is_an_integrity_error(stored: Any) -> None:
    """from_json never returns a frontier whose size and hashes disagree."""
    with pytest.raises(IntegrityError, match="rebuild it from the audit log") as caught:
        Frontier.from_json(stored)
    assert caught.value.code == "integrity"


def test_frontier_json_is_the_size_and_hex_hashes() -> None:
    """The stored form is plain JSON: the size and each subtree root in hex, largest first."""
    assert Frontier.from_json(GOOD).to_json() == GOOD
    assert GOOD["size"] == 3
    assert GOOD["hashes"] == [root(CT_LEAVES[:2]).hex(), CT_LEAVES[2].hex()]
    assert Frontier.from_json(GOOD).root() == root(CT_LEAVES[:3])


# --- interoperability with pymerkle (RFC 6962 prefixes, sha256) -------------------------------


def _pymerkle_tree(entries: list[bytes], **opts: Any) -> Any:
    pymerkle = pytest.importorskip("pymerkle", reason="the interop tests need pymerkle>=6,<7")
    tree = pymerkle.InmemoryTree(algorithm="sha256", **opts)
    assert tree.security and tree.prefx00 == b"\x00" and tree.prefx01 == b"\x01"
    for e in entries:
        tree.append_entry(e)
    return tree


PYMERKLE_MODES = [
    pytest.param({}, id="optimized"),
    pytest.param({"disable_optimizations": True}, id="naive"),
]


@pytest.mark.parametrize("opts", PYMERKLE_MODES)
@settings(max_examples=10, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=64, max_size=64))
def test_pymerkle_gives_our_roots_for_sizes_1_to_64(
    opts: dict[str, bool], entries: list[bytes]
) -> None:
    """pymerkle's leaf hashes and roots, grown one entry at a time and as prefixes, are ours."""
    leaves = [leaf_hash(e) for e in entries]
    tree = _pymerkle_tree([], **opts)
    assert tree.get_state() == EMPTY_ROOT
    for n in range(1, 65):
        tree.append_entry(entries[n - 1])
        assert tree.get_leaf(n) == leaves[n - 1]
        assert tree.get_state() == root(leaves[:n])
    assert [tree.get_state(n) for n in range(65)] == [root(leaves[:n]) for n in range(65)]


@pytest.mark.parametrize("opts", PYMERKLE_MODES)
def test_pymerkle_inclusion_proofs_are_our_paths(opts: dict[str, bool]) -> None:
    """For every size 1..64 and index, pymerkle's path is the leaf followed by our proof."""
    pymerkle = pytest.importorskip("pymerkle")
    entries = [random.Random(n).randbytes(n % 17) for n in range(64)]
    leaves = [leaf_hash(e) for e in entries]
    tree = _pymerkle_tree(entries, **opts)
    for n in range(1, 65):
        top = root(leaves[:n])
        for i in range(n):
            theirs = tree.prove_inclusion(i + 1, n)
            ours = inclusion_proof(leaves[:n], i)
            assert theirs.path == [leaves[i], *ours]
            assert theirs.resolve() == top
            pymerkle.verify_inclusion(leaves[i], top, theirs)  # raises InvalidProof if not
            assert verify_inclusion(leaves[i], i, n, theirs.path[1:], top)


@pytest.mark.parametrize("opts", PYMERKLE_MODES)
def test_pymerkle_consistency_proofs_resolve_to_our_roots(opts: dict[str, bool]) -> None:
    """pymerkle's consistency proofs (its own encoding, not RFC SUBPROOF) give our old and
    new roots for every 1 <= m <= n <= 64."""
    pymerkle = pytest.importorskip("pymerkle")
    entries = [random.Random(-n).randbytes(n % 13) for n in range(64)]
    leaves = [leaf_hash(e) for e in entries]
    tree = _pymerkle_tree(entries, **opts)
    roots = [root(leaves[:n]) for n in range(65)]
    for n in range(1, 65):
        for m in range(1, n + 1):
            theirs = tree.prove_consistency(m, n)
            assert (theirs.retrieve_prior_state(), theirs.resolve()) == (roots[m], roots[n])
            pymerkle.verify_consistency(roots[m], roots[n], theirs)  # raises InvalidProof if not
