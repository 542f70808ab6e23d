"""Roots and proofs folded from stored complete-subtree nodes equal the whole-tree functions
and pymerkle's, at every size; the streaming builder yields every complete node once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core.levels import (
    StreamingTree,
    consistency_ranges,
    fold,
    inclusion_ranges,
    needed,
    nodes_completed_by,
    perfect_subtrees,
    resolve,
)
from clearance.core.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)


def _leaves(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


def _all_nodes(leaves: list[bytes], batches: list[int]) -> dict[tuple[int, int], bytes]:
    """Every node the streaming builder yields, fed in batches of the given sizes."""
    tree, store, done = StreamingTree(), {(0, i): h for i, h in enumerate(leaves)}, 0
    for size in batches:
        if done >= len(leaves):
            break
        tree.extend(leaves[done : done + size])
        done = tree.size
        for level, position, h in tree.nodes():
            assert (level, position) not in store, "a node is yielded twice"
            store[(level, position)] = h
    if done < len(leaves):
        tree.extend(leaves[done:])
        store.update({(lv, p): h for lv, p, h in tree.nodes()})
    assert tree.root() == root(leaves)
    return store


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.lists(st.integers(1, 70), min_size=1, max_size=20))
def test_streamed_nodes_are_the_subtree_roots_and_give_every_proof(
    n: int, batches: list[int]
) -> None:
    leaves = _leaves(n)
    store = _all_nodes(leaves, batches)
    assert len(store) - n == sum(n >> level for level in range(1, 64))
    for (level, position), h in store.items():
        assert h == root(leaves[position << level : (position + 1) << level])
    for index in {0, n // 2, n - 1}:
        ranges = inclusion_ranges(index, n)
        assert resolve(ranges, store) == inclusion_proof(leaves, index)
    for old in {0, 1, n // 3, n - 1, n}:
        assert resolve(consistency_ranges(old, n), store) == consistency_proof(leaves, old)
        assert fold([store[x] for x in perfect_subtrees(0, old)]) == root(leaves[:old])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), st.integers(1, 200), st.integers(1, 40))
def test_a_tree_started_from_a_frontier_gives_the_roots_at_every_size(
    start: int, more: int, batch: int
) -> None:
    """As incremental verification starts: at a kept size, from its frontier alone."""
    leaves = _leaves(start + more, salt=start)
    frontier = [root(leaves[p << lv : (p + 1) << lv]) for lv, p in perfect_subtrees(0, start)]
    tree = StreamingTree(start, frontier)
    while tree.size < len(leaves):
        tree.extend(leaves[tree.size : tree.size + batch])
        for size in range(tree.start, tree.size + 1):
            assert tree.root_at(size) == root(leaves[:size])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 1023, 1024, 1025])
def test_each_append_completes_exactly_the_nodes_whose_last_leaf_it_is(n: int) -> None:
    completed = [node for size in range(1, n + 1) for node in nodes_completed_by(size)]
    assert len(completed) == len(set(completed)) == sum(n >> lv for lv in range(1, 64))
    for level, position in nodes_completed_by(n):
        assert (position + 1) << level == n


def test_ranges_outside_the_tree_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="outside a tree of 3"):
        inclusion_ranges(3, 3)
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        consistency_ranges(4, 3)
    with pytest.raises(ValueError, match="not a subtree range"):
        perfect_subtrees(1, 5)
    with pytest.raises(ValueError, match="frontier hashes"):
        StreamingTree(3, [])


def test_proofs_need_logarithmically_many_nodes() -> None:
    n = 10**6 + 12_345
    for index in (0, 777_777, n - 1):
        assert len(needed(inclusion_ranges(index, n))) <= 2 * n.bit_length()
    assert len(needed(consistency_ranges(654_321, n))) <= 2 * n.bit_length()


def _pymerkle(entries: list[bytes]) -> Any:
    pymerkle = pytest.importorskip("pymerkle", reason="the interop tests need pymerkle>=6,<7")
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    for entry in entries:
        tree.append_entry(entry)
    return pymerkle, tree


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=24), min_size=1, max_size=90), st.integers(1, 33))
def test_pymerkle_agrees_with_roots_and_proofs_from_stored_nodes(
    entries: list[bytes], batch: int
) -> None:
    """pymerkle (an independent RFC 6962 implementation) gives the same roots at every size,
    and accepts the inclusion paths folded from stored nodes."""
    pymerkle, theirs = _pymerkle(entries)
    leaves = [leaf_hash(e) for e in entries]
    n = len(leaves)
    store = _all_nodes(leaves, [batch] * (n // batch + 1))
    for size in range(1, n + 1):
        ours = fold([store[x] for x in perfect_subtrees(0, size)])
        assert theirs.get_state(size) == ours
    top = theirs.get_state()
    for index in range(n):
        path = resolve(inclusion_ranges(index, n), store)
        proof = theirs.prove_inclusion(index + 1, n)
        assert proof.path == [leaves[index], *path]
        pymerkle.verify_inclusion(leaves[index], top, proof)
        assert verify_inclusion(leaves[index], index, n, path, top)
    for old in range(1, n + 1):
        proof = resolve(consistency_ranges(old, n), store)
        assert verify_consistency(old, n, theirs.get_state(old), top, proof)
