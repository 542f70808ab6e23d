"""The log's stored tree levels, as pure arithmetic: which complete-subtree nodes a root, an
inclusion proof or a consistency proof needs, how to fold them into the RFC 9162 answer,
and how to build every complete node from the leaves in one streaming pass. No I/O.

A node (level, position) is the root of the perfect subtree over leaves
[position * 2**level, (position + 1) * 2**level); level 0 is the leaves themselves. Only
complete subtrees are ever named, so a stored node never changes once written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence

from clearance.core.merkle import EMPTY_ROOT

__all__ = [
    "Node",
    "StreamingTree",
    "consistency_ranges",
    "fold",
    "inclusion_ranges",
    "needed",
    "nodes_completed_by",
    "perfect_subtrees",
    "resolve",
]

Node = tuple[int, int]
Range = tuple[int, int]
_sha256 = hashlib.sha256


def _split(n: int) -> int:
    """The largest power of two below n (n >= 2): the size of the RFC's left subtree."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(lo: int, hi: int) -> list[Node]:
    """The complete subtrees that tile [lo, hi), largest (leftmost) first.

    `lo` must be aligned to the largest of them, as every range of the RFC's tree is.
    """
    if not 0 <= lo <= hi:
        raise ValueError(f"[{lo}, {hi}) is not a range of leaves")
    nodes, start = [], lo
    for level in range((hi - lo).bit_length() - 1, -1, -1):
        if (hi - lo) >> level & 1:
            if start % (1 << level):
                raise ValueError(f"[{lo}, {hi}) is not a subtree range of the RFC's tree")
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The root of a range from its perfect subtrees' roots, folded from the right."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = _sha256(b"\x01" + h + result).digest()
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose roots make PATH(index, D[size]), nearest sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    ranges: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, size: int) -> list[Range]:
    """The leaf ranges whose roots make PROOF(old_size, D[size]) (RFC 9162 §2.1.4.1)."""
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is outside 0..{size}, the new tree's size")
    if old_size == 0:
        return []
    ranges: list[Range] = []
    lo, hi, m, whole = 0, size, old_size, True
    while m != hi - lo:
        mid = lo + _split(hi - lo)
        if m <= mid - lo:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            m -= mid - lo
            lo, whole = mid, False
    if not whole:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def needed(ranges: Iterable[Range]) -> set[Node]:
    """Every stored node the roots of `ranges` are folded from: O(log n) per range."""
    return {node for lo, hi in ranges for node in perfect_subtrees(lo, hi)}


def resolve(ranges: Iterable[Range], nodes: Mapping[Node, bytes]) -> list[bytes]:
    """The root of each range, from the stored nodes `needed` named."""
    return [fold([nodes[n] for n in perfect_subtrees(lo, hi)]) for lo, hi in ranges]


def nodes_completed_by(size: int) -> list[Node]:
    """The nodes above level 0 that the leaf at index `size - 1` completes, lowest first:
    one per trailing 1 bit of `size - 1`, so one on average and at most log2(size)."""
    completed, level = [], 1
    while size % (1 << level) == 0:
        completed.append((level, (size >> level) - 1))
        level += 1
    return completed


class StreamingTree:
    """Every complete node over leaves fed in order, a batch at a time, level by level in
    tight hashing loops; between batches only the frontier is kept (the roots of the
    perfect subtrees of the leaves so far: one per set bit of the size), so memory is one
    batch. It may start at any size, from that size's frontier (`perfect_subtrees(0, size)`).
    """

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        expected = perfect_subtrees(0, size)
        if len(frontier) != len(expected):
            raise ValueError(f"a tree of {size} leaves has {len(expected)} frontier hashes")
        self.size = size
        self.start = size  # first leaf of the last batch
        self.frontier = {level: h for (level, _), h in zip(expected, frontier, strict=True)}
        self.before = dict(self.frontier)  # the frontier at `start`
        #: the last batch's complete nodes: levels[L] = (first position, hashes)
        self.levels: list[tuple[int, list[bytes]]] = []

    def extend(self, leaves: list[bytes]) -> None:
        """Append a batch of leaf hashes and compute every node they complete."""
        start, seed = self.size, self.frontier
        self.start, self.before = start, seed
        first, level = start, leaves
        levels = [(first, level)]
        height = 0
        while True:
            if first & 1:  # the frontier's node at this height is the first one's left
                level = [seed[height], *level]
                first -= 1
            if len(level) < 2:
                break
            it = iter(level)
            level = [_sha256(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
            first >>= 1
            height += 1
            levels.append((first, level))
        self.levels = levels
        self.size = end = start + len(leaves)
        self.frontier = {lv: self._node(lv, p) for lv, p in perfect_subtrees(0, end)}

    def _node(self, level: int, position: int) -> bytes:
        if level < len(self.levels):
            first, hashes = self.levels[level]
            if first <= position < first + len(hashes):
                return hashes[position - first]
        return self.before[level]  # a frontier node from before the batch

    def nodes(self) -> Iterator[tuple[int, int, bytes]]:
        """The nodes the last batch completed, (level, position, hash), above level 0."""
        for height, (first, hashes) in enumerate(self.levels[1:], start=1):
            for offset, h in enumerate(hashes):
                yield height, first + offset, h

    def root(self) -> bytes:
        return fold([self.frontier[level] for level, _ in perfect_subtrees(0, self.size)])

    def root_at(self, size: int) -> bytes:
        """The root at `size`, a size within the last batch (or its start)."""
        if not self.start <= size <= self.size:
            raise ValueError(f"size {size} is outside the last batch [{self.start}, {self.size}]")
        return fold([self._node(lv, p) for lv, p in perfect_subtrees(0, size)])
