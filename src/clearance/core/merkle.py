"""RFC 9162 (RFC 6962) Merkle tree over the audit log's leaf hashes: roots, inclusion and
consistency proofs, and a compact frontier that appends in O(log n); pure, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clearance.errors import IntegrityError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """sha256(0x00 || data): the prefix keeps a leaf from passing for an interior node."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """sha256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves (RFC 9162 §2.1.1): n - 1 hashes, O(n) memory.

    Pairing each level left to right and carrying an odd last node up unchanged builds
    exactly the RFC's tree, whose left subtree is always the largest perfect one.
    """
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    sha = _sha256
    while len(level) > 1:
        pairs = iter(level)
        parents = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if len(level) & 1:
            parents.append(level[-1])
        level = parents
    return level[0]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 §2.1.3.1, nearest sibling first: the roots of the leaf
    ranges `levels.inclusion_ranges` names, each leaf hashed at most once (O(n) time)."""
    from clearance.core.levels import inclusion_ranges

    return [root(leaf_hashes[lo:hi]) for lo, hi in inclusion_ranges(index, len(leaf_hashes))]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true), from the ranges
    `levels.consistency_ranges` names. Empty when old_size is 0 or n: the empty tree is a
    prefix of every tree, and a tree of itself."""
    from clearance.core.levels import consistency_ranges

    ranges = consistency_ranges(old_size, len(leaf_hashes))
    return [root(leaf_hashes[lo:hi]) for lo, hi in ranges]


def _are_hashes(*values: bytes) -> bool:
    return all(isinstance(v, bytes) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: True iff `proof` leads from `leaf_hash` at `index` to `root`.

    The proof's length and shape must fit (index, size) exactly. Only the signed pair
    (size, root) binds the size: two sizes whose paths to `index` have the same shape
    accept the same proof against the same root, so never pair a root with another size.
    """
    if not 0 <= index < size or not _are_hashes(leaf_hash, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: True iff tree (old_size, old_root) is a prefix of (new_size, new_root).

    Equal sizes need an empty proof and equal roots. A size-0 tree is a prefix of every
    tree, with an empty proof, but its root must still be the empty tree's.
    """
    if not 0 <= old_size <= new_size or not _are_hashes(old_root, new_root, *proof):
        return False
    if old_size == 0 and old_root != EMPTY_ROOT:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # the old tree is one perfect subtree, so it is its own seed
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


@dataclass(frozen=True)
class Frontier:
    """The right edge of a tree: roots of its perfect subtrees, largest (leftmost) first.

    Their heights are the set bits of `size`, so only the hashes are kept: at most 64
    for any log, enough to append and give the new root in O(log n) without old leaves.
    """

    size: int
    hashes: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"a frontier's size cannot be negative, got {self.size}")
        if len(self.hashes) != self.size.bit_count():
            raise ValueError(
                f"a frontier of {self.size} leaves has {self.size.bit_count()} "
                f"subtree hashes, not {len(self.hashes)}"
            )
        if not _are_hashes(*self.hashes):
            raise ValueError(f"frontier hashes must be {HASH_SIZE}-byte sha256 digests")

    @classmethod
    def empty(cls) -> Frontier:
        return cls(0, ())

    def appended(self, leaf_hash: bytes) -> Frontier:
        """This frontier with one more leaf: O(log n) hashes."""
        return self.extended([leaf_hash])

    def extended(self, leaf_hashes: Iterable[bytes]) -> Frontier:
        """This frontier with the leaves appended in order: amortised O(1) hashes each."""
        stack, size = list(self.hashes), self.size
        for h in leaf_hashes:
            if not _are_hashes(h):
                raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes; hash the entry first")
            stack.append(h)
            carry, size = size, size + 1
            while carry & 1:  # each trailing 1 bit of the old size is a subtree to merge
                right = stack.pop()
                stack[-1] = node_hash(stack[-1], right)
                carry >>= 1
        return Frontier(size, tuple(stack))

    def root(self) -> bytes:
        """The tree's MTH: the subtree roots folded from the right, as the RFC nests them."""
        if not self.hashes:
            return EMPTY_ROOT
        result = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            result = node_hash(h, result)
        return result

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "hashes": [h.hex() for h in self.hashes]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Frontier:
        """Read what `to_json` wrote; IntegrityError if it is not a well-formed frontier."""
        try:
            size, hashes = data["size"], data["hashes"]
            if type(size) is not int or not isinstance(hashes, list):
                raise ValueError("size must be an integer and hashes a list")
            if not all(isinstance(h, str) for h in hashes):
                raise ValueError("hashes must be hex strings")
            return cls(size, tuple(bytes.fromhex(h) for h in hashes))
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(
                f"stored Merkle frontier is malformed ({exc}); "
                "rebuild it from the audit log's leaf hashes",
                failures=["merkle_frontier"],
            ) from None
