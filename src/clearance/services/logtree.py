"""Roots and proofs of the audit log from its stored tree levels: each reads O(log n) node
hashes, whatever the log's size, and checks what it read against a signed root before
anyone is given an answer built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clearance.core.levels import (
    consistency_ranges,
    fold,
    inclusion_ranges,
    needed,
    perfect_subtrees,
    resolve,
)
from clearance.core.merkle import Frontier, verify_consistency, verify_inclusion
from clearance.errors import IntegrityError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from clearance.core.checkpoint import Checkpoint
    from clearance.store.repository import SignedRoot

_MISMATCH = (
    "the stored log does not match its latest signed checkpoint ({what}); nothing is "
    "served from it: run `clearance log verify`"
)


def frontier(conn: Connection, size: int, signed: SignedRoot | None) -> Frontier:
    """The frontier of the first `size` events, from their stored nodes, for the next
    checkpoint; first the nodes are checked against `signed`, the latest checkpoint, so a
    node changed behind the service's back is never signed into a new root."""
    from clearance.store import tree

    mine = perfect_subtrees(0, size)
    theirs = perfect_subtrees(0, signed.size) if signed is not None else []
    found = tree.nodes(conn, {*mine, *theirs})
    if signed is not None and fold([found[n] for n in theirs]).hex() != signed.root:
        raise IntegrityError(_MISMATCH.format(what=f"the tree of its {signed.size} events"))
    return Frontier(size, tuple(found[n] for n in mine))


def inclusion(conn: Connection, index: int, leaf: bytes, signed: Checkpoint) -> list[bytes]:
    """PATH(index, D[signed.size]) for `leaf`, from stored nodes, checked against `signed`."""
    from clearance.store import tree

    ranges = inclusion_ranges(index, signed.size)
    whole = perfect_subtrees(0, signed.size)
    found = tree.nodes(conn, needed(ranges) | set(whole))
    top = bytes.fromhex(signed.root)
    if fold([found[n] for n in whole]) != top:
        raise IntegrityError(_MISMATCH.format(what=f"the tree of its {signed.size} events"))
    path = resolve(ranges, found)
    if not verify_inclusion(leaf, index, signed.size, path, top):
        raise IntegrityError(_MISMATCH.format(what=f"the path to event {index + 1}"))
    return path


def consistency(conn: Connection, old_size: int, signed: Checkpoint) -> tuple[bytes, list[bytes]]:
    """(root at `old_size`, PROOF(old_size, D[signed.size])) from stored nodes, checked."""
    from clearance.store import tree

    ranges = consistency_ranges(old_size, signed.size)
    old, whole = perfect_subtrees(0, old_size), perfect_subtrees(0, signed.size)
    found = tree.nodes(conn, needed(ranges) | set(old) | set(whole))
    top = bytes.fromhex(signed.root)
    if fold([found[n] for n in whole]) != top:
        raise IntegrityError(_MISMATCH.format(what=f"the tree of its {signed.size} events"))
    old_root, proof = fold([found[n] for n in old]), resolve(ranges, found)
    if not verify_consistency(old_size, signed.size, old_root, top, proof):
        raise IntegrityError(_MISMATCH.format(what=f"the tree of its first {old_size} events"))
    return old_root, proof


def inclusion_paths(
    conn: Connection, indexes: list[int], signed: Checkpoint
) -> dict[int, list[bytes]]:
    """Inclusion paths of many leaves at once (a pack's events): one read of their nodes."""
    from clearance.store import tree

    ranges = {i: inclusion_ranges(i, signed.size) for i in indexes}
    whole = perfect_subtrees(0, signed.size)
    wanted = set(whole)
    for r in ranges.values():
        wanted |= needed(r)
    found = tree.nodes(conn, wanted)
    if fold([found[n] for n in whole]).hex() != signed.root:
        raise IntegrityError(_MISMATCH.format(what=f"the tree of its {signed.size} events"))
    return {i: resolve(r, found) for i, r in ranges.items()}
